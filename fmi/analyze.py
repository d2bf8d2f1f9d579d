"""The command for the paper's claims measured on a run (``fmi.tools.analyze``).

    python -m fmi.analyze --help
"""
import sys

from fmi.tools.doors.analyze import main

if __name__ == "__main__":
    sys.exit(main())
