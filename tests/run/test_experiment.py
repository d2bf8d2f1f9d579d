"""fmi/run/experiment.py: what a figure declares and the defaults it gets, on the tests' own experiment."""
from fake_experiment import ITEMS, Config, Fake

from fmi.run.experiment import Batch, chunks, grid
from fmi.run.folder.keys import cell_key


def test_the_loss_panels_follow_the_plan_and_the_figure_s_labels():
    fake, config = Fake(), Config(batch_size=2)
    panels = fake.loss_panels(config, ["a", "b"], [])
    assert list(panels) == ["a relu1_1", "a relu2_1", "b relu1_1", "b relu2_1"]
    assert panels["b relu2_1"] == {item.upper(): cell_key("b", "relu2_1", item) for item in ITEMS}


def test_a_figure_s_configs_are_found_where_it_says():
    fake = Fake()
    assert fake.paper_config == fake.config_dir / "fake.yaml"
    assert fake.config_file("quick").name == "fake_quick.yaml" and fake.config_file("fast").name == "fake_fast.yaml"
    assert fake.authors is None and fake.notes == ()


def test_batches_grids_and_chunks():
    batch = Batch("photo", "relu1_1", ("small", "large"), "relu1_1")
    assert batch.keys == ["photo/relu1_1/small", "photo/relu1_1/large"]
    assert batch.only(["photo/relu1_1/large"]) == Batch("photo", "relu1_1", ("large",), "relu1_1")
    assert chunks([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    figure = grid("f.png", "what", ["row"], ["first\ncolumn", "second"], [["photo/relu1_1/small", None]])
    assert figure.cells == ["photo/relu1_1/small"] and figure.label("photo/relu1_1/small") == "row / first column"
