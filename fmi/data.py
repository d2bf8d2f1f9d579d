"""The command that fetches the paper's images and the authors' figures (``fmi.files.downloads``).

    python -m fmi.data download [--what images|figures] [--from DIR]
"""
import sys

from fmi.tools.doors.data import main

if __name__ == "__main__":
    sys.exit(main())
