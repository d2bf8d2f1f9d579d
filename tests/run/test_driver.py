"""fmi/run/driver.py: the one driver, through the tests' own small experiment (tests/fake_experiment.py):
every planned cell in the plan's order, each content image prepared once, resume, shards and collect,
and the figures."""
import json

import pytest
from conftest import write_image
from fake_experiment import ITEMS, configure, run

from fmi.errors import FmiError
from fmi.run.folder.keys import cell_key


@pytest.fixture
def images(tmp_path):
    paths = [tmp_path / "first.png", tmp_path / "second.png"]
    for seed, path in enumerate(paths):
        write_image(path, 24, 32, seed=seed)
    return paths


def planned(contents, layers=("relu1_1", "relu2_1")):
    return [cell_key(name, layer, item) for name in contents for layer in layers for item in ITEMS]


def cells(folder):
    """The images of a run's finished cells: {path under cells/: bytes}."""
    return {path.relative_to(folder / "cells").as_posix(): path.read_bytes()
            for path in sorted((folder / "cells").rglob("*.png"))}


def test_every_planned_cell_is_inverted_in_order_with_one_prepare_per_content_image(fake, images, tmp_path):
    output = tmp_path / "out"
    written = run(fake, configure(images, output))
    record = json.loads((output / "record.json").read_text())
    assert list(record["plan"]) == planned(["first", "second"])
    assert set(record["cells"]) == set(record["plan"])
    assert fake.prepared == ["first", "second"]
    # batches of two: each group's three items in two batches, in the plan's order
    groups = [planned([name], [layer]) for name in ("first", "second") for layer in ("relu1_1", "relu2_1")]
    assert fake.batches == [tuple(keys[i:i + 2]) for keys in groups for i in (0, 2)]
    assert {cell["details"]["factor"] for cell in record["cells"].values()} == {0.5, 1.0, 2.0}
    assert [path.name for path in written] == ["fake_first.png", "fake_second.png", "loss.png"]
    assert record["figures"] == ["fake_first.png", "fake_second.png", "loss.png"]
    assert len(set(cells(output).values())) == 12  # every cell its own image


def test_a_resumed_run_inverts_only_the_cells_it_lacks(fake, images, tmp_path):
    output = tmp_path / "out"
    run(fake, configure(images[:1], output))
    before = cells(output)
    missing = cell_key("first", "relu2_1", "large")
    (output / "cells" / "first" / "relu2_1" / "large.png").unlink()
    fake.batches.clear()
    run(fake, configure(images[:1], output), resume=True)
    assert fake.batches == [(missing,)]
    assert cells(output) == before  # the same cell again, to the byte


@pytest.mark.parametrize("count", [2, 3])
def test_shards_deal_every_nth_batch_and_collect_the_single_run_s_cells(fake, images, tmp_path, count):
    single = tmp_path / "single"
    run(fake, configure(images, single))
    batches = list(fake.batches)
    split = tmp_path / "split"
    for index in range(count):
        fake.batches.clear()
        run(fake, configure(images, split), shard=(index, count))
        assert fake.batches == batches[index::count]
        shard_record = json.loads((split / "shards" / f"{index}-of-{count}" / "record.json").read_text())
        assert list(shard_record["plan"]) == [key for batch in batches[index::count] for key in batch]
    fake.batches.clear()
    written = run(fake, configure(images, split), collect=True)
    assert fake.batches == [] and cells(split) == cells(single)
    assert [path.name for path in written] == ["fake_first.png", "fake_second.png", "loss.png"]


def test_collect_names_the_shards_that_hold_missing_cells_and_the_line_that_reruns_them(fake, images, tmp_path):
    output = tmp_path / "out"
    run(fake, configure(images[:1], output), shard=(0, 3))
    with pytest.raises(FmiError) as refused:
        run(fake, configure(images[:1], output), collect=True)
    message = str(refused.value)
    assert message.startswith("3 cells are missing from the shards (first: first/relu1_1/large)")
    assert "rerun shard(s) 1/3, 2/3" in message and "run_fake.py" in message
