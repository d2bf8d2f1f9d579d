"""The paper's mathematics: the network, preprocessing, target codes, loss terms and losses, inversion,
optimisers and fidelity modes. Imports nothing of fmi but ``fmi.errors``."""
