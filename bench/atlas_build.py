"""Time the filter atlas on a synthetic sweep of every VGG-19 filter (a benchmark, not a test).

    python bench/atlas_build.py [--folder /tmp/fmi_atlas_sweep] [--size 384x512]

Writes a run folder shaped like `run_fmi.py --layers all --all-filters` on one content image
(5504 cells: a textured PNG and a record with a 300-step loss history each), builds its
atlas twice (from nothing, then again with nothing new) and prints the build times and the
size of the overview page. The cells are synthetic: only the atlas is measured.
"""
import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from fmi.core import vgg19
from fmi.tools import atlas


def synthetic_run(folder, height, width):
    """A run folder of a full sweep with made-up cells."""
    if folder.exists():
        shutil.rmtree(folder)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    cells, plan = {}, {}
    for layer in vgg19.RELU_LAYERS:
        for index in range(vgg19.channels(layer)):
            key = f"photo/{layer}/filter_{index}"
            plan[key] = [height, width]
            angle, frequency = rng.uniform(0, np.pi, 2), rng.uniform(0.05, 0.5, 2)
            wave = np.sin(frequency[0] * (x * np.cos(angle[0]) + y * np.sin(angle[0])))
            rgb = np.clip(rng.uniform(40, 215, 3) + 40 * wave[..., None] * rng.uniform(-1, 1, 3), 0, 255)
            path = folder / "cells" / "photo" / layer / f"filter_{index}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), rgb.astype(np.uint8))
            losses = list(np.geomspace(1e9, 1e9 * rng.uniform(0.001, 0.5), 300))
            cells[key] = {"steps": 300, "stop_reason": "converged", "loss_history": losses,
                          "initial_loss": losses[0], "final_loss": losses[-1], "wall_s": 1.0,
                          "layer": layer, "filter": index, "image": path.name,
                          "weights": "synthetic", "fidelity": "paper"}
            (path.with_suffix(".json")).write_text(json.dumps(cells[key]))
    record = {"script": "run_fmi.py", "plan": plan, "cells": cells, "fidelity": "paper",
              "config": {"optimizer": "sgd", "sgd": {"max_steps": 1000}, "stuck_fraction": 0.01},
              "weights": {"label": "synthetic cells, no weights"}, "figures": [],
              "inputs": {"photo": {"role": "content", "path": "photo.jpg", "size": [height * 2, width * 2]}},
              "versions": {}, "started": "-", "finished": "-"}
    (folder / "record.json").write_text(json.dumps(record))
    return len(cells)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/fmi_atlas_sweep"))
    parser.add_argument("--size", default="384x512", help="cell size, HxW (the paper's)")
    args = parser.parse_args(argv)
    height, width = (int(side) for side in args.size.split("x"))
    started = time.perf_counter()
    count = synthetic_run(args.folder, height, width)
    print(f"synthetic run of {count} cells at {height}x{width} in {args.folder}: "
          f"{time.perf_counter() - started:.1f} s to write")
    for attempt in ("first build", "rebuild, nothing new"):
        started = time.perf_counter()
        index, done = atlas.build(args.folder)
        print(f"{attempt}: {time.perf_counter() - started:.1f} s ({done['thumbnails_made']} thumbnails, "
              f"{done['files_written']} files written) on {os.cpu_count()} cores")
    pages = sorted((index.parent).glob("*.html"), key=lambda path: path.stat().st_size)
    print(f"overview {index.stat().st_size / 1024:.0f} KiB; largest page {pages[-1].name} "
          f"{pages[-1].stat().st_size / 1024:.0f} KiB; {len(pages)} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
