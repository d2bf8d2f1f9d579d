"""What a user gives a run: the config (``config``), the command line (``cli``), and the input
images (``inputs``)."""
