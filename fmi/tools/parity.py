"""The side-by-side check: the authors' own scripts beside fmi in ``fidelity: authors`` mode.

    python -m fmi.parity --authors DIR [--cases fmi,random,purposeful,pmci,gatys] [--size 64]

DIR is a clone or an unpacked copy of xzqjack/FeatureMapInversion (fmi holds none of their code).
Their vis_invert.py and vis_style.py run unchanged but for the Python 3 adaptations of
``fmi.tools.parity_child.ADAPTATIONS``, applied at run time in their process, beside fmi's
experiment with the same weights (written in their format), images, start image and seeds, one
thread each. Per case it compares the saved images and the stop steps, and measures what
rounding alone does: how far each side's own result moves when its start image moves by one
float32 step. Feature Map Inversion and the random and purposeful modifications must give the
same bytes and steps; PMCI and Gatys (whose gradients fmi computes in one graph, theirs in
separate executors, so the last bits differ) must agree within what that one step moves each
side by itself. It writes OUTPUT/report.md and OUTPUT/index.html, and exits 0 only when every
case agrees, 1 when one differs.
"""
import argparse
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from fmi.core import vgg19
from fmi.errors import FmiError
from fmi.files import published
from fmi.io import check_input_file, git_blob_id, quote, write_json, write_text, write_yaml
from fmi.run.folder.keys import parse_key
from fmi.run.machine import facts as machine
from fmi.tools.parity_child import ADAPTATIONS

log = logging.getLogger("fmi")

# the authors' code at the commit fmi follows: the git blob id of each file the cases run
SCRIPTS = {"vis_invert.py": "450bd4862f60412a517b269f93ca480d35ba8202",
           "vis_style.py": "829bdbbaefbec708e62e33df9d3c23b5f300550a",
           "utils.py": "b8282f695bf9c8a2f21af3027abe84ace44dd210",
           "model_vgg19_invert.py": "c8f71fa9b94ae3aaf120a5b7f990eb098c0269ce",
           "model_vgg19_style.py": "336d3a99ee92e25626ba4df055ada21344a093bb"}
THEIR_WEIGHTS = Path("model") / "vgg19_80M.params"  # where their scripts load the weights from
# the names their scripts' options accept (argparse choices) for content and style images
CONTENT_SLOTS = {"golden_gate": "golden_gate.jpg", "tubingen": "tubingen.jpg"}
STYLE_SLOTS = {"seated_nude": "seated-nude.jpg", "the_scream": "the_scream.jpg", "starry_night": "starry_night.jpg",
               "frida_kahlo": "frida_kahlo.jpg"}
THEIR_STYLE_LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]  # vis_style.py's default --layer-name
THEIR_CONTENT_LAYER = "relu2_2"                                     # model_vgg19_style.py's content layer
FILTER_LINE = "units = [1]"  # vis_invert.py inverts the feature map hard-coded here
SAVED = re.compile(r"_([0-9]+)\.jpg$")  # their file name ends with the number of steps taken


@dataclass(frozen=True)
class Case:
    """One comparison: their script and --mod_type, fmi's figure, and whether the bytes must match."""

    name: str
    title: str
    script: str
    mod_type: str
    figure: str
    exact: bool


CASES = {case.name: case for case in (
    Case("fmi", "Feature Map Inversion", "vis_invert.py", "feature_map", "fig3", True),
    Case("random", "randomly modified code", "vis_invert.py", "random", "fig4", True),
    Case("purposeful", "purposefully modified code", "vis_invert.py", "purposeful", "fig4", True),
    Case("pmci", "PMCI", "vis_style.py", "purposeful_optimization", "fig5", False),
    Case("gatys", "Gatys", "vis_style.py", "original", "fig5", False),
)}
DEFAULT_LAYERS = {"fmi": "relu3_2", "random": "relu1_1", "purposeful": "relu3_1"}


@dataclass
class Outcome:
    """What one run left: its saved image's bytes, its steps, and what went wrong, if anything."""

    image: Optional[bytes] = None
    steps: Optional[int] = None
    failure: Optional[str] = None     # the run did not finish, or finished without an image
    nan: bool = False       # the authors' run met NaN (their loop never stops on it)
    stop: str = ""          # fmi's stop reason
    log: str = ""


@dataclass
class Comparison:
    """Two saved images: the same bytes, else the share of pixels more than one level apart and the
    mean absolute difference in levels; and the stop steps' difference."""

    identical: bool
    share: float
    mean: float
    steps: int

    @classmethod
    def of(cls, first: Outcome, second: Outcome) -> "Comparison":
        steps = abs((first.steps or 0) - (second.steps or 0))
        if first.image == second.image:
            return cls(True, 0.0, 0.0, steps)
        a, b = decode(first.image or b""), decode(second.image or b"")
        if a.shape != b.shape:
            return cls(False, 1.0, float("inf"), steps)
        difference = np.abs(a.astype(np.int16) - b.astype(np.int16))
        return cls(False, float((difference.max(axis=2) > 1).mean()), float(difference.mean()), steps)

    def text(self) -> str:
        if self.identical:
            return "same bytes" + (f", steps differ by {self.steps}" if self.steps else "")
        return f"{100 * self.share:.1f} % of pixels > 1 level apart, mean {self.mean:.2f} levels, " \
               f"steps differ by {self.steps}"


@dataclass
class Verdict:
    """A case's outcome on both sides, how far apart they are and how far each moves by itself, and
    whether they agree, in words."""

    case: Case
    settings: str
    theirs: Outcome
    ours: Outcome
    between: Optional[Comparison] = None
    own_moves: dict[str, Comparison] = field(default_factory=dict)  # {"theirs +1": Comparison, ...}
    agrees: bool = False
    says: str = ""


def decode(data: bytes) -> npt.NDArray[np.uint8]:
    """A saved JPEG's bytes as an (H, W, 3) uint8 array."""
    from PIL import Image  # here, as the others inside functions: --help loads no image library or MXNet

    with Image.open(io.BytesIO(data)) as opened:
        return np.asarray(opened.convert("RGB"))


# --- checking the inputs --------------------------------------------------------------------------

def check_authors(folder: Path, any_commit: bool) -> None:
    """Every script the cases run is in ``folder`` and is the authors' at their commit (unless
    ``any_commit``): FmiError naming the first that is not."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FmiError(f"--authors {folder}: no such folder; clone the authors' repository "
                       f"(git clone https://github.com/{published.AUTHORS_REPOSITORY}) and give its folder")
    for name in SCRIPTS:
        if not (folder / name).is_file():
            raise FmiError(f"--authors {folder}: {name} is missing, so this is not a copy of the authors' "
                           f"repository ({published.AUTHORS_REPOSITORY}); give the folder that holds vis_invert.py")
    for name, blob in SCRIPTS.items():
        path = check_input_file(folder / name, "the authors' script")
        found = git_blob_id(path)
        if found != blob and not any_commit:
            raise FmiError(f"--authors {folder}: {name} is not the authors' file at commit "
                           f"{published.AUTHORS_COMMIT[:7]} (git blob {found[:8]}, theirs {blob[:8]}); check "
                           f"that commit out (git -C {quote(str(folder))} checkout {published.AUTHORS_COMMIT[:7]}) "
                           f"or add --any-commit to compare with this code anyway")
    source = (folder / "vis_invert.py").read_text(encoding="utf-8", errors="replace")
    if source.count(FILTER_LINE) != 1:
        raise FmiError(f"--authors {folder}: vis_invert.py does not hard-code its feature map as "
                       f"'{FILTER_LINE}' once, so the filter to invert cannot be set; use the authors' commit "
                       f"{published.AUTHORS_COMMIT[:7]}")


def their_image(folder: Path, name: str) -> Optional[Path]:
    """The authors' own input image called ``name`` (golden_gate, the_scream, ...) in their clone."""
    item = next((item for item in published.IMAGES if item.name == name), None)
    return Path(folder) / item.remote if item else None


def locate_image(spec: str, authors: Path, role: str) -> tuple[str, Path]:
    """(the run name, the path) of an image given as one of the paper's names (from the authors'
    input/ folder) or as a path."""
    path = their_image(authors, spec)
    if path is None:
        path = Path(spec).expanduser()
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", path.stem).strip("_")[:60] or role
    else:
        name = spec
    if not path.is_file():
        raise FmiError(f"{role} image {spec}: {path} is not a file; name one of the paper's images "
                       f"({', '.join(item.name for item in published.IMAGES)}) or give a path")
    from fmi.files import image_files  # OpenCV: not for --help

    image_files.read_header(path)  # an image fmi can read
    return name, path


def parse_cases(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CASES]
    if unknown or not names:
        raise FmiError(f"--cases {quote(text)}: use some of {', '.join(CASES)}, comma-separated")
    return list(dict.fromkeys(names))


# --- the runs -------------------------------------------------------------------------------------

@dataclass
class Plan:
    """Everything a check runs, decided before any file is written."""

    authors: Path
    output: Path
    cases: list[Case]
    layers: dict[str, str]
    filter: int
    draw_seed: int
    seed: int
    size: int
    steps: int
    content: tuple[str, Path]
    style: tuple[str, Path]
    weights: Any  # fmi.files.weight_files.Weights, loaded once the options are checked
    jobs: int


def settings_of(plan: "Plan", case: Case) -> str:
    """What a case runs, in words, the same for both sides."""
    content, style = plan.content[0], plan.style[0]
    what = {"fmi": f"{plan.layers['fmi']} filter {plan.filter}", "random": f"{plan.layers['random']} draw "
            f"{plan.draw_seed}", "purposeful": f"{plan.layers['purposeful']} toward {style}",
            "pmci": f"style {style} at {', '.join(THEIR_STYLE_LAYERS)}", "gatys": f"style {style} at "
            f"{', '.join(THEIR_STYLE_LAYERS)}"}[case.name]
    return f"{content}, {plan.size} px, {what}"


def fmi_config(plan: "Plan", case: Case, inputs: Path, output: Path) -> dict[str, Any]:
    """fmi's config for ``case``: the authors' settings of their script, in ``fidelity: authors`` mode."""
    config = {"content": [str(inputs / CONTENT_SLOTS.get(plan.content[0], "golden_gate.jpg"))],
              "max_long_edge": plan.size, "fidelity": "authors", "weights": str(inputs / THEIR_WEIGHTS.name),
              "seed": plan.seed, "threads": 1, "batch_size": 1, "denoise_weight": 0.2,
              "sgd": {"max_steps": plan.steps}, "output": str(output), "log_every": 50}
    style = str(inputs / STYLE_SLOTS.get(plan.style[0], "starry_night.jpg"))
    if case.name == "fmi":
        config.update(layers=[plan.layers["fmi"]], filters=[plan.filter])
    elif case.name in ("random", "purposeful"):
        config.update(layers=[plan.layers[case.name]], mode=case.name, draw_seeds=[plan.draw_seed],
                      distribution="authors", styles=[style] if case.name == "purposeful" else [])
    else:
        config.update(styles=[style], methods=[case.name], content_layers=[THEIR_CONTENT_LAYER],
                      style_layers=THEIR_STYLE_LAYERS, content_weight=10.0, style_weight=1.0)
    return config


def their_argv(plan: "Plan", case: Case) -> list[str]:
    """Their script's command line for ``case`` (their option names and choices)."""
    argv = ["--content-image", CONTENT_SLOTS.get(plan.content[0], "golden_gate.jpg"),
            "--style-image", STYLE_SLOTS.get(plan.style[0], "starry_night.jpg"),
            "--mod_type", case.mod_type, "--max-long-edge", str(plan.size), "--max-num-epochs", str(plan.steps),
            "--gpu", "-1", "--output", "output"]
    if case.script == "vis_invert.py":
        argv += ["--layer-name", f"[{plan.layers[case.name]}]"]
    return argv


def prepare_inputs(plan: "Plan", folder: Path) -> str:
    """The weights (in their format) and the images under the names their scripts accept, shared by every run."""
    from fmi.files import weight_files  # not for --help (MXNet, OpenCV)

    folder.mkdir(parents=True, exist_ok=True)
    weight_files.save_authors_format(plan.weights, folder / THEIR_WEIGHTS.name)
    shutil.copyfile(plan.content[1], folder / CONTENT_SLOTS.get(plan.content[0], "golden_gate.jpg"))
    shutil.copyfile(plan.style[1], folder / STYLE_SLOTS.get(plan.style[0], "starry_night.jpg"))
    return plan.weights.label


def spec_of(plan: "Plan", case: Case, side: str, perturb: int, inputs: Path, folder: Path) -> Path:
    """The child's instructions for one side of ``case``, written into ``folder``."""
    spec = {"side": side, "perturb": perturb, "seed": plan.seed}
    if side == "authors":
        (folder / "model").mkdir(parents=True)
        (folder / "output").mkdir()
        os.symlink(inputs / THEIR_WEIGHTS.name, folder / THEIR_WEIGHTS)
        for slot in (CONTENT_SLOTS.get(plan.content[0], "golden_gate.jpg"),
                     STYLE_SLOTS.get(plan.style[0], "starry_night.jpg")):
            os.symlink(inputs / slot, folder / slot)
        spec.update(authors=str(plan.authors.resolve()), script=case.script, argv=their_argv(plan, case),
                    workdir=str(folder), draw_seed=plan.draw_seed,
                    replace=[[FILTER_LINE, f"units = [{plan.filter}]"]] if case.name == "fmi" else [])
    else:
        folder.mkdir(parents=True)
        write_yaml(folder / "config.yaml", fmi_config(plan, case, inputs, folder / "run"))
        spec.update(figure=case.figure, config=str(folder / "config.yaml"))
    write_json(folder / "spec.json", spec)
    return folder / "spec.json"


def run_child(spec_path: Path) -> Outcome:
    """Run one side in its own process (one thread); return its ``Outcome``."""
    spec = json.loads(Path(spec_path).read_text())
    environment = dict(os.environ, OMP_NUM_THREADS="1", FMI_THREADS="1", MXNET_SUBGRAPH_VERBOSE="0")
    done = subprocess.run([sys.executable, "-m", "fmi.tools.parity_child", str(spec_path)], env=environment,
                          capture_output=True, text=True, check=False)
    text = done.stdout + done.stderr
    write_text(Path(spec_path).parent / "log.txt", text)
    outcome = Outcome(log=text)
    if spec["side"] == "authors":
        saved = sorted((Path(spec["workdir"]) / "output").glob("*.jpg"))
        outcome.nan = " relative change nan" in text
        steps = SAVED.search(saved[0].name) if saved else None
        if saved and steps:
            outcome.image, outcome.steps = saved[0].read_bytes(), int(steps.group(1))
    else:
        record_path = Path(spec["config"]).parent / "run" / "record.json"
        if record_path.is_file():
            cells = json.loads(record_path.read_text())["cells"]
            for key, cell in cells.items():
                where = parse_key(key)
                image_path = record_path.parent / "cells" / where.content / where.group / cell["image"]
                outcome.image, outcome.steps, outcome.stop = image_path.read_bytes(), cell["steps"], cell["stop_reason"]
    if done.returncode != 0 or outcome.image is None:
        last = [line for line in text.splitlines() if line.strip()][-1:] or ["no output"]
        outcome.failure = f"exit code {done.returncode}: {last[0][:300]}"
    return outcome


def judge(case: Case, settings: str, runs: dict[tuple[str, int], Outcome]) -> Verdict:
    """The verdict of one case from its runs {(side, perturb): Outcome}."""
    theirs, ours = runs[("authors", 0)], runs[("fmi", 0)]
    verdict = Verdict(case, settings, theirs, ours)
    if ours.failure:
        verdict.says = f"fmi's run failed ({ours.failure})"
        return verdict
    if theirs.nan:
        verdict.agrees = True
        verdict.says = (f"the authors' code fails here: their target divides 0 by 0 in a channel that is zero "
                        f"everywhere, the loss becomes NaN and their loop runs to its step limit "
                        f"({theirs.steps or '-'} steps); fmi keeps such channels at 0 and stopped after {ours.steps} "
                        f"steps ({ours.stop})")
        return verdict
    if theirs.failure:
        verdict.says = f"the authors' run failed ({theirs.failure}); see its log.txt"
        return verdict
    verdict.between = Comparison.of(ours, theirs)
    for (side, perturb), outcome in runs.items():
        base = ours if side == "fmi" else theirs
        if perturb and not outcome.failure:
            name = f"{'fmi' if side == 'fmi' else 'theirs'} {perturb:+d} step"
            verdict.own_moves[name] = Comparison.of(base, outcome)
    moves = list(verdict.own_moves.values())
    between = verdict.between
    if case.exact:
        verdict.agrees = between.identical and between.steps == 0
        verdict.says = ("the same bytes and steps" if verdict.agrees else
                        f"{between.text()} (the authors' arithmetic, run the same way, must give the same bytes)")
    else:
        bound = Comparison(False, max([m.share for m in moves], default=0.0), max([m.mean for m in moves],
                           default=0.0), max([m.steps for m in moves], default=0))
        verdict.agrees = between.identical or (between.share <= bound.share and between.mean <= bound.mean
                                               and between.steps <= bound.steps)
        verdict.says = (f"{between.text()}; one float32 step at the start moves the results by up to "
                        f"{100 * bound.share:.1f} % of pixels, {bound.mean:.2f} levels, {bound.steps} steps")
    return verdict


def check(plan: "Plan") -> list[Verdict]:
    """Run every case of ``plan`` on both sides (and nudged by one float32 step); return the verdicts."""
    work = plan.output / "work"
    if work.exists():
        shutil.rmtree(work)
    inputs = work / "inputs"
    label = prepare_inputs(plan, inputs)
    log.info("parity: weights %s; %d case(s), each on both sides and nudged by one float32 step", label,
             len(plan.cases))
    jobs = []
    for case in plan.cases:
        perturbs = (0, 1) if case.exact else (0, 1, -1)
        for side in ("authors", "fmi"):
            for perturb in perturbs:
                folder = work / case.name / f"{side}{'' if not perturb else '+1' if perturb > 0 else '-1'}"
                jobs.append((case.name, side, perturb, spec_of(plan, case, side, perturb, inputs, folder)))
    started, results = time.perf_counter(), {}

    def one(job: tuple[str, str, int, Path]) -> None:
        name, side, perturb, spec = job
        outcome = run_child(spec)
        results[(name, side, perturb)] = outcome
        log.info("parity: %s, %s%s: %s (%d of %d runs, %.0f s)", name, "theirs" if side == "authors" else "fmi",
                 f" nudged {perturb:+d}" if perturb else "", outcome.failure or f"{outcome.steps} steps",
                 len(results), len(jobs), time.perf_counter() - started)

    with ThreadPoolExecutor(max_workers=plan.jobs) as pool:
        list(pool.map(one, jobs))
    return [judge(case, settings_of(plan, case), {(side, perturb): outcome for (name, side, perturb), outcome
                                                  in results.items() if name == case.name}) for case in plan.cases]


# --- the report -----------------------------------------------------------------------------------

def report(plan: Plan, verdicts: list[Verdict], facts: dict[str, Any], wall: float) -> tuple[Path, Path]:
    """Write OUTPUT/report.md and OUTPUT/index.html (the atlas's page style); return their paths."""
    from fmi.tools import pages  # jinja2, for the report only

    agree = sum(verdict.agrees for verdict in verdicts)
    first = (f"{agree} of {len(verdicts)} cases agree with the authors' code on this machine."
             if agree < len(verdicts) else f"All {len(verdicts)} cases agree with the authors' code on this machine.")
    rows = [{"case": verdict.case.title, "settings": verdict.settings,
             "steps": f"{verdict.ours.steps if verdict.ours.steps is not None else '-'} / "
                      f"{verdict.theirs.steps if verdict.theirs.steps is not None else '-'}",
             "between": verdict.between.text() if verdict.between else "-",
             "moves": "; ".join(f"{name}: {move.text()}" for name, move in verdict.own_moves.items()) or "-",
             "verdict": verdict.says, "agrees": verdict.agrees} for verdict in verdicts]
    made = [("machine", machine.describe(facts)), ("CPU flags", " ".join(facts["cpu_flags"]) or "-"),
            ("MXNet features", " ".join(facts["mxnet_features"])),
            ("settings in force", ", ".join(f"{k}={v}" for k, v in facts["settings"].items()) or "-"),
            ("the authors' code", f"{plan.authors} (scripts checked against commit {published.AUTHORS_COMMIT[:7]})"),
            ("wall time", f"{wall:.0f} s, {plan.jobs} run(s) at a time, one thread each")]
    data = {"first": first, "rows": rows, "made": made, "adaptations": ADAPTATIONS}
    write_text(plan.output / "report.md", pages.render("parity.md", **data))
    pages.copy_assets(plan.output)
    write_text(plan.output / "index.html", pages.render("parity.html", title="fmi beside the authors' code",
                                                        scripts=[], **data))
    write_json(plan.output / "parity.json", {"cases": [{**row, "name": verdict.case.name} for row, verdict
                                                       in zip(rows, verdicts)], "machine": facts})
    return plan.output / "report.md", plan.output / "index.html"


# --- the command ----------------------------------------------------------------------------------

def build_plan(args: argparse.Namespace) -> "Plan":
    authors = Path(args.authors).expanduser().absolute()
    check_authors(authors, args.any_commit)
    cases = [CASES[name] for name in parse_cases(args.cases)]
    layers = dict(DEFAULT_LAYERS)
    network = vgg19.VGG19()  # the authors' network: the only one their scripts run
    if args.layer:
        if args.layer not in network.layers:
            raise FmiError(f"--layer {quote(args.layer)}: unknown layer; valid layers are {', '.join(network.layers)}")
        layers = dict.fromkeys(DEFAULT_LAYERS, args.layer)
    for name in ("size", "steps", "jobs"):
        if getattr(args, name) < 1:
            raise FmiError(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if args.filter < 0 or args.draw_seed < 0 or args.seed < 0 or max(args.draw_seed, args.seed) > 2**32 - 1:
        raise FmiError("--filter, --draw-seed and --seed must be 0 or more (seeds below 2**32)")
    filters = network.channels(layers["fmi"])
    if any(case.name == "fmi" for case in cases) and args.filter >= filters:
        raise FmiError(f"--filter {args.filter}: {layers['fmi']} has {filters} filters (0..{filters - 1})")
    content = locate_image(args.image, authors, "content")
    style = locate_image(args.style, authors, "style")
    from fmi.core import preprocessing  # OpenCV: not for --help
    from fmi.files import image_files  # not for --help (MXNet, OpenCV)

    header = image_files.read_header(content[1])
    size = preprocessing.content_size(header.height, header.width, args.size, "floor")  # as their int() sizes it
    for case in cases:
        deepest = layers.get(case.name, THEIR_STYLE_LAYERS[-1])
        try:
            network.check_input_size([deepest], *size)
        except FmiError as error:
            raise FmiError(f"--size {args.size} is too small for {deepest}: the content image becomes "
                           f"{size[0]}x{size[1]} px ({error})") from None
    from fmi.files import weight_files  # not for --help (MXNet, OpenCV)
    from fmi.run.machine import device  # not for --help (MXNet, OpenCV)

    device.require_mxnet()
    weights = weight_files.load(args.weights)
    output = Path(args.output).expanduser().absolute()  # the authors' scripts run in folders of their own
    if output.exists() and any(output.iterdir()) and not (output / "parity.json").is_file():
        raise FmiError(f"output folder {output} holds something other than an fmi.parity report; choose another "
                       f"with --output")
    return Plan(authors, output, cases, layers, args.filter, args.draw_seed, args.seed, args.size, args.steps,
                content, style, weights, args.jobs)


def parity(args: argparse.Namespace) -> int:
    plan = build_plan(args)
    write_json(plan.output / "parity.json", {"cases": [], "finished": False})  # marks the folder as a report's
    facts = machine.facts()
    facts.update(threads=1, settings=machine.settings_in_force(dict(os.environ, OMP_NUM_THREADS="1")))
    log.info("parity: %s", machine.describe(facts))
    started = time.perf_counter()
    verdicts = check(plan)
    paths = report(plan, verdicts, facts, time.perf_counter() - started)
    for verdict in verdicts:
        print(f"{verdict.case.name:<11} {'agrees' if verdict.agrees else 'DIFFERS'}: {verdict.says}")
    print(f"report: {paths[0]} and {paths[1]}")
    return 0 if all(verdict.agrees for verdict in verdicts) else 1
