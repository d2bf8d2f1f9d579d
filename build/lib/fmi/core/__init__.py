"""The paper's mathematics: network, weights, preprocessing, target codes, losses, optimisers,
fidelity modes and image measures. Imports nothing from fmi but ``fmi.errors`` and ``fmi.io``."""
