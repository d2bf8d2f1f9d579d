"""fmi: Feature Map Inversion and modified code inversion over VGG-19 in MXNet.

A reproduction of Xia et al., "Every Filter Extracts A Specific Texture In
Convolutional Neural Networks" (2016). Modules: ``vgg19`` (network), ``weights``,
``image``, ``codes`` (target modifications), ``losses`` (loss symbols),
``invert`` (optimisation), ``figures``, ``config``.
"""
from fmi.threads import configure_default_threads

__version__ = "0.2.0"

# MXNet reads OMP_NUM_THREADS once, when it is first imported: this must run before that.
configure_default_threads()
