"""fmi/run/folder/shards.py: what --shard I/N accepts, where a shard writes, and the line that reruns the
shards a collect misses (the driver's use of them: tests/run/test_driver.py)."""
import shlex
from pathlib import Path

import pytest

from fmi.errors import FmiError
from fmi.run.folder import shards


@pytest.mark.parametrize("text, expected", [("0/1", (0, 1)), ("3/4", (3, 4)), ("+2/05", (2, 5)),
                                            ("99999/100000", (99999, 100000))])
def test_a_shard_is_i_of_n(text, expected):
    assert shards.parse_shard(text) == expected


@pytest.mark.parametrize("text", ["4/4", "-1/4", "1", "1/0", "a/b", "1/2/3", "0x1/4", "\u0661/2", "0/100001", ""])
def test_anything_else_is_refused_with_an_example(text):
    with pytest.raises(FmiError) as refused:
        shards.parse_shard(text)
    assert "expected I/N with 0 <= I < N, e.g. 0/4 .. 3/4" in str(refused.value)


def test_a_shard_writes_in_its_own_folder():
    assert shards.folder_of(Path("runs/x"), (2, 5)) == Path("runs/x/shards/2-of-5")
    assert shards.folder_of(Path("runs/x"), None) == Path("runs/x")


@pytest.mark.parametrize("script, export", [("run_fmi.py", []),
                                            ("run_fig6.py", ["--export=ALL,FMI_SCRIPT=run_fig6.py"])])
def test_the_resubmit_line_reruns_only_the_given_shards_of_the_script(script, export):
    line = shards.resubmit_line([1, 3], 4, ["--config", "my config.yaml", "--collect"], script)
    words = shlex.split(line)
    assert words[:2] == ["sbatch", "--array=1,3"]
    assert words[2:2 + len(export)] == export
    assert words[2 + len(export)].endswith("slurm/sweep.sbatch")
    assert words[3 + len(export):] == ["4", "--config", "my config.yaml"]  # --collect is the collect run's own
