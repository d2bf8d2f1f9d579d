"""Running an experiment: configuration, command line, inputs, the run record and folder, the
session that checks inputs and inverts batches, progress, labels and figures. Imports from
``fmi.core`` and below, never from ``fmi.experiments`` or ``fmi.tools``."""
