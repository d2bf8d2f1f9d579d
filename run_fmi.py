#!/usr/bin/env python
"""Feature Map Inversion, the paper's Fig. 3 (python run_fmi.py --help)."""
import sys
from typing import Optional

from fmi.tools.commands import figure


def main(argv: Optional[list[str]] = None) -> int:
    return figure("fig3", argv)


if __name__ == "__main__":
    sys.exit(main())
