"""VGG-19 weights: ``fmi.files.weight_files`` for the library, and the command

    python -m fmi.weights download      # the authors' vgg19.params into model/, checked
    python -m fmi.weights check [FILE]  # keys, shapes and values, and whether it is the authors' file
"""
import sys

from fmi.files.weight_files import Weights, describe, load, load_file, random_weights  # noqa: F401  (the API)
from fmi.tools.doors.weights import main

if __name__ == "__main__":
    sys.exit(main())
