"""Networks: ``fmi.files.networks`` for the library, and the command

    python -m fmi.network layers SOURCE [--size N]   # its rectified layers: channels, output size, cost
"""
import sys

from fmi.tools.doors.network import main

if __name__ == "__main__":
    sys.exit(main())
