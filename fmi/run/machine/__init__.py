"""The machine a run runs on: CPU threads (``threads``), memory (``memory``), the device
(``device``), and what made a result (``facts``)."""
