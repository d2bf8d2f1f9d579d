#!/usr/bin/env python
"""The whole paper in one command: Fig. 3, 4 and 5, their atlases, each beside the authors' figure,
and a reproduction report in runs/paper/ (index.html and report.md).

    python reproduce.py             # the paper's settings (hours on a laptop: it says how many first)
    python reproduce.py --quick     # the quick configs, minutes
    python reproduce.py --control   # also every figure with random weights, and the analysis against it
"""
import sys

from fmi.tools.commands import reproduce as main

if __name__ == "__main__":
    sys.exit(main())
