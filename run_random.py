#!/usr/bin/env python
"""Randomly modified code inversion, the paper's Fig. 4 (python run_random.py --help)."""
import sys
from typing import Optional

from fmi.tools.commands import figure


def main(argv: Optional[list[str]] = None) -> int:
    return figure("fig4", argv)


if __name__ == "__main__":
    sys.exit(main())
