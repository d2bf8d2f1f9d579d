"""The command for the filter atlas: a static web site of a run (``fmi.tools.atlas``).

    python -m fmi.atlas --help
"""
import sys

from fmi.tools.doors.atlas import main

if __name__ == "__main__":
    sys.exit(main())
