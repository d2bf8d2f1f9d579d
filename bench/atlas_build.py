"""Time the filter atlas on a synthetic sweep of every VGG-19 filter (a benchmark, not a test).

    python bench/atlas_build.py [--keep FOLDER] [--size 384x512] [--layers all]

Writes a run folder shaped like `run_fmi.py --layers all --all-filters` on one content image
(5504 cells, each a record with a 300-step loss history that passes fmi's record schema, and
an image: 64 distinct textures, each linked to its share of the cells, so writing the run takes
seconds and little disk), builds its atlas twice (from nothing, then with nothing new) and
prints the build times and the size of the overview page. The run is written in a temporary
folder that is removed at the end, unless ``--keep FOLDER`` names where to keep it. The cells are
synthetic: only the atlas is measured.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fmi.core import vgg19
from fmi.experiments import fig3
from fmi.files import image_files
from fmi.run.folder.record import RECORD_FORMAT, CellRecord, MachineRecord, RunRecord
from fmi.tools import atlas

TEXTURES = 64
HEX = "0" * 40
MACHINE = MachineRecord(cpu="synthetic", cores=1, cpu_flags=[], mxnet="-", mxnet_features=[], onednn=None,
                        onednn_isa=None, settings={}, threads=1, device="cpu")


def synthetic_run(folder, height, width, layers=vgg19.RELU_LAYERS):
    """A run folder of a sweep of every filter of ``layers`` with made-up cells; returns the number of cells."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    textures = folder / "textures"
    textures.mkdir(parents=True)
    for index in range(TEXTURES):
        angle, frequency = rng.uniform(0, np.pi), rng.uniform(0.05, 0.5)
        wave = np.sin(frequency * (x * np.cos(angle) + y * np.sin(angle)))
        rgb = np.clip(rng.uniform(40, 215, 3) + 40 * wave[..., None] * rng.uniform(-1, 1, 3), 0, 255)
        image_files.save_png(textures / f"{index}.png", rgb.astype(np.uint8))
    config = fig3.Config(content=["photo.jpg"], layers=list(layers), all_filters=True)
    cells, plan = {}, {}
    for layer in layers:
        (folder / "cells" / "photo" / layer).mkdir(parents=True)
        for index in range(vgg19.channels(layer)):
            key = f"photo/{layer}/filter_{index}"
            plan[key] = [height, width]
            os.link(textures / f"{len(cells) % TEXTURES}.png",
                    folder / "cells" / "photo" / layer / f"filter_{index}.png")
            losses = list(np.geomspace(1e9, 1e9 * rng.uniform(0.001, 0.5), 300))
            cells[key] = CellRecord(
                key=key, image=f"filter_{index}.png", steps=300, stop_reason="converged", initial_loss=losses[0],
                final_loss=losses[-1], loss_history=losses, term_history=[[loss] for loss in losses], wall_s=1.0,
                batch_wall_s=1.0, batch_size=1, weights="synthetic cells, no weights", seed=0, optimizer="sgd",
                max_steps=1000, fidelity="paper", size=[height, width], machine=MACHINE, fingerprint=HEX,
                settings_fingerprint=HEX, code_fingerprint=HEX,
                details=fig3.Details(layer=layer, filter=index, response={
                    "content": {"max": 1.0, "sum": 1.0}, "final": {"max": 1.0, "sum": 1.0}}).model_dump())
            (folder / "cells" / "photo" / layer / f"filter_{index}.json").write_text(cells[key].model_dump_json())
    record = RunRecord(
        record_format=RECORD_FORMAT, script="run_fmi.py", argv=[], config=config.model_dump(), fingerprint=HEX,
        settings={}, code={"modules": {}, "fingerprint": HEX}, fidelity="paper",
        weights={"source": "synthetic", "pretrained": False, "seed": 0, "preprocessing": "-",
                 "label": "synthetic cells, no weights"},
        seed=0, inputs={"photo": {"spec": "photo.jpg", "path": "photo.jpg", "sha1": HEX, "size": [height, width],
                                  "role": "content", "git_blob": HEX}},
        plan=plan, threads=1, machine=MACHINE, paper_differences=[], versions={}, started="-", finished="-",
        cells=cells)
    (folder / "record.json").write_text(record.model_dump_json())
    shutil.rmtree(textures)
    return len(cells)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, metavar="FOLDER", help="write the run here and keep it")
    parser.add_argument("--size", default="384x512", help="cell size, HxW (the paper's)")
    parser.add_argument("--layers", default="all", help="comma-separated relu layers swept (default: all 16)")
    args = parser.parse_args(argv)
    height, width = (int(side) for side in args.size.split("x"))
    layers = vgg19.RELU_LAYERS if args.layers == "all" else tuple(args.layers.split(","))
    with tempfile.TemporaryDirectory(prefix="fmi_atlas_sweep_") as temporary:
        folder = args.keep or Path(temporary) / "run"
        if folder.exists():
            shutil.rmtree(folder)
        started = time.perf_counter()
        count = synthetic_run(folder, height, width, layers)
        print(f"synthetic run of {count} cells at {height}x{width} in {folder}: "
              f"{time.perf_counter() - started:.1f} s to write")
        for attempt in ("first build", "rebuild, nothing new"):
            started = time.perf_counter()
            index, done = atlas.build(folder)
            print(f"{attempt}: {time.perf_counter() - started:.1f} s ({done['thumbnails_made']} thumbnails, "
                  f"{done['files_written']} files written) on {os.cpu_count()} cores")
        pages = sorted(index.parent.glob("*.html"), key=lambda path: path.stat().st_size)
        print(f"overview {index.stat().st_size / 1024:.0f} KiB; largest page {pages[-1].name} "
              f"{pages[-1].stat().st_size / 1024:.0f} KiB; {len(pages)} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
