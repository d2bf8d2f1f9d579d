"""reproduce.py: the whole paper in one command, and its report opened in a real Chromium."""
import html
import re
import shutil

import pytest
from conftest import ROOT, Page, one_error

from fmi.files import published
from fmi.tools import commands

SHARED_REFERENCE = ROOT.parent / "shared" / "reference"
SECTIONS = ["Fig. 3: Feature Map Inversion", "Fig. 4: Randomly modified code inversion", "Fig. 5: PMCI beside Gatys"]
REFERENCES = {"fig3": "fig3_feature_map_inversion.png", "fig4": "fig4_random_modification.png",
              "fig5": "fig5_pmci_vs_gatys.png"}


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory):
    """A tiny quick reproduction with its controls, offline, with the authors' figures in data/authors/
    when this machine has them."""
    folder = tmp_path_factory.mktemp("reproduction")
    authors = SHARED_REFERENCE.is_dir()
    if authors:
        (folder / "data" / "authors").mkdir(parents=True)
        for name in REFERENCES:  # under names of their own: recognised by their bytes
            shutil.copy(SHARED_REFERENCE / REFERENCES[name], folder / "data" / "authors" / REFERENCES[name])
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        assert commands.reproduce(["--quick", "--size", "32", "--steps", "3", "--control", "--output", "out"]) == 0
    return folder / "out", authors


def plain(markdown):
    """Markdown text as a reader sees it: names from records are escaped (backslashes, entities)."""
    return html.unescape(re.sub(r"\\(.)", r"\1", markdown))


def test_the_report_says_first_that_random_weights_cannot_agree(reproduction):
    output, authors = reproduction
    lines = plain((output / "report.md").read_text()).splitlines()
    assert lines[0] == "# Reproduction of Xia et al. (2016): Fig. 3, Fig. 4, Fig. 5"
    assert lines[2].startswith("**These figures were made with random weights, not the ImageNet VGG-19, so they "
                               "cannot agree with the paper's:**")
    text = "\n".join(lines)
    for title in SECTIONS:
        assert f"## {title}" in text
    assert text.count("| weights | random weights (seed 0), not ImageNet |") == 3
    assert text.count("Deviations from the authors' code in force:") == 3
    # the quick configs at 32 px and 3 steps: every figure says how its settings leave the paper's
    for figure in ("Fig. 3", "Fig. 4", "Fig. 5"):
        line = next(line for line in lines if line.startswith(f"| settings | differs from the paper's {figure}:"))
        assert "max_long_edge 32 (paper 512)" in line and "sgd.max_steps 3 (paper 1000)" in line
    assert text.count("| machine | ") == 3 and "MXNet 1.9.1" in text
    assert text.count(" / the random-weights control):") == 3
    for name in ("fig3", "fig4", "fig5"):
        assert (output / name / "atlas" / "index.html").is_file()
        assert (output / "control" / name / "record.json").is_file()
        if authors:
            assert (output / "report" / f"{name}_beside_theirs.png").is_file()
            assert f"](report/{name}_beside_theirs.png)" in text
    if authors:
        assert text.count("compared cells agree):") == 3


def test_the_report_page_opens_offline_with_every_image(browser, reproduction):
    output, authors = reproduction
    page = Page(browser)
    html = page.open((output / "index.html").as_uri())
    count, broken = page.images_loaded()
    assert broken == [] and count == (3 if authors else 0)
    assert html.inner_text("#first").startswith("These figures were made with random weights")
    assert html.eval_on_selector_all("section h2", "hs => hs.map(h => h.textContent)") == list(
        SECTIONS)
    links = html.eval_on_selector_all("section a", "links => links.map(a => a.getAttribute('href'))")
    assert links == ["fig3/atlas/index.html", "fig4/atlas/index.html", "fig5/atlas/index.html"]
    numbers = html.eval_on_selector_all("section table.numbers", "tables => tables.map(t => [...t.rows].map("
                                        "r => [...r.cells].map(c => c.textContent)))")
    assert len(numbers) == 3 and numbers[0][0][:3] == ["group", "n", "colourfulness"]
    assert [row[0] for row in numbers[0][1:]] == ["relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2"]
    assert all(" / " in value for row in numbers[0][1:] for value in row[2:])  # the control's mean beside
    assert page.problems == []


def test_offline_the_paper_settings_say_what_to_fetch_and_how_to_run_without(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = commands.reproduce([])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.startswith("error: this reproduction needs files that are not here:")
    assert "weights file model/vgg19.params: run 'python -m fmi.weights download' to fetch it" in err
    assert f"{published.PAPER_DIR / 'golden_gate.jpg'}" in err and "run 'python -m fmi.data download'" in err
    assert err.rstrip().endswith("python reproduce.py --weights random:0 --stand-ins")
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_dry_run_says_what_it_would_run_and_how_long_it_takes_here(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    caplog.set_level("INFO")
    assert commands.reproduce(["--quick", "--size", "32", "--dry-run"]) == 0
    said = [message for message in caplog.messages if " cells, about " in message]
    assert [message.split(":")[0] for message in said] == ["fig3", "fig4", "fig5"]
    assert "15 cells" in said[0] and "10 cells" in said[1] and "4 cells" in said[2]
    assert any(message.startswith("in all: 3 runs, about ") for message in caplog.messages)
    assert not (tmp_path / "runs").exists()


def test_bad_options_are_one_line(capsys):
    with pytest.raises(SystemExit) as stopped:
        commands.reproduce(["--quick", "--fast"])
    one_error(capsys, stopped.value.code, r"not allowed with argument --quick; see 'reproduce.py --help'")


def test_weights_outside_model_reach_the_analysis(tmp_path, monkeypatch, random_weights):
    """With --weights FILE, the three runs and the analysis of Fig. 5's style all use that file."""
    from fmi.files import weight_files

    monkeypatch.chdir(tmp_path)
    weights_file = tmp_path / "elsewhere" / "mine.params"
    weight_files.save_authors_format(random_weights, weights_file)
    assert commands.reproduce(["--quick", "--size", "24", "--steps", "2", "--weights", str(weights_file),
                               "--stand-ins", "--output", "out"]) == 0
    text = plain((tmp_path / "out" / "report.md").read_text())
    assert text.count("| weights | weights file mine.params (git blob ") == 3


def test_a_figure_folder_linked_out_of_the_reproduction_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    canary = tmp_path / "canary"
    canary.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "fig4").symlink_to(canary)
    code = commands.reproduce(["--quick", "--size", "24", "--steps", "2", "--weights", "random:0", "--stand-ins",
                               "--output", "out"])
    one_error(capsys, code, r"out/fig4 leads out of the run folder out")
    assert list(canary.iterdir()) == [] and not (tmp_path / "out" / "fig3").exists()


def test_after_ctrl_c_it_says_the_command_that_continues(monkeypatch, capsys):
    from fmi.tools import whole_paper

    def interrupted(args, argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(whole_paper, "reproduce", interrupted)
    assert commands.reproduce(["--quick"]) == 130
    err = capsys.readouterr().err
    assert "run the same command again to continue" in err and "--resume" not in err
