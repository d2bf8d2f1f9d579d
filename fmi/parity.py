"""The command for the side-by-side check with the authors' scripts (``fmi.tools.parity``).

    python -m fmi.parity --authors DIR
"""
import sys

from fmi.tools.doors.parity import main

if __name__ == "__main__":
    sys.exit(main())
