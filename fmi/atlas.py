"""The command for the filter atlas: a static web site of a run (``fmi.tools.atlas``).

    python -m fmi.atlas --help
"""
import sys

from fmi.tools.commands import atlas as main

if __name__ == "__main__":
    sys.exit(main())
