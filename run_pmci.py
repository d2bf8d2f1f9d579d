#!/usr/bin/env python
"""PMCI beside Gatys style transfer, the paper's Fig. 5 (python run_pmci.py --help)."""
import sys
from typing import Optional

from fmi.tools.commands import figure


def main(argv: Optional[list[str]] = None) -> int:
    return figure("fig5", argv)


if __name__ == "__main__":
    sys.exit(main())
