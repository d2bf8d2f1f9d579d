"""The command for a run's cells beside the authors' published figure (``fmi.tools.compare``).

    python -m fmi.compare --help
"""
import sys

from fmi.tools.commands import compare as main

if __name__ == "__main__":
    sys.exit(main())
