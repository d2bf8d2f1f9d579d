"""fmi: Feature Map Inversion and modified code inversion over VGG-19 in MXNet.

A reproduction of Xia et al., "Every Filter Extracts A Specific Texture In Convolutional
Neural Networks" (2016), in four layers, each importing only from the ones before it:

- ``fmi.core``: the paper's mathematics: network (``vgg19``), ``weights``, ``image``
  preprocessing, target ``codes``, ``losses``, ``invert`` and ``optimizers``, ``fidelity``
  modes, image ``measures``, and the ``published`` files it reproduces from;
- ``fmi.run``: running an experiment: ``config``, ``cli``, ``inputs``, the run ``record``
  and ``runfolder``, the ``session`` that checks inputs and inverts batches, ``progress``,
  ``labels``, ``figures``, ``threads``, ``memory``, ``device``;
- ``fmi.experiments``: the three figures, ``fig3``, ``fig4``, ``fig5``, each declaring its grid;
- ``fmi.tools``: what reads run folders: ``atlas``, ``compare``, ``analyze``, and ``downloads``.

Below them all, ``fmi.errors`` and ``fmi.io``. The commands ``python -m fmi.weights``,
``fmi.data``, ``fmi.atlas``, ``fmi.compare`` and ``fmi.analyze`` are thin front doors to their
modules. The README's library example imports ``codes``, ``image``, ``inputs``, ``invert`` and
``weights`` from ``fmi``; they load on first use, so importing fmi never loads MXNet.
"""
import importlib

from fmi.run.threads import configure_default_threads

# MXNet reads OMP_NUM_THREADS once, when it is first imported: this must run before that.
configure_default_threads()

LIBRARY = {"codes": "fmi.core.codes", "image": "fmi.core.image", "invert": "fmi.core.invert",
           "losses": "fmi.core.losses", "vgg19": "fmi.core.vgg19", "inputs": "fmi.run.inputs"}


def __getattr__(name):
    """``from fmi import codes`` (and the other modules of ``LIBRARY``), loaded when first asked for."""
    if name in LIBRARY:
        return importlib.import_module(LIBRARY[name])
    if name == "__version__":  # as installed: pyproject.toml is the one place it is written
        return importlib.import_module("fmi.run.session").package_version()
    raise AttributeError(f"module 'fmi' has no attribute {name!r}")
