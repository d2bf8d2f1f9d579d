"""The command for a run's cells beside the authors' published figure (``fmi.tools.compare``).

    python -m fmi.compare --help
"""
import sys

from fmi.tools.doors.compare import main

if __name__ == "__main__":
    sys.exit(main())
