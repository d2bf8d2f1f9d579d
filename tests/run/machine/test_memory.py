"""fmi/run/machine/memory.py: the memory a run needs, estimated before any work, and said when unknown."""
from fmi.core import vgg19
from fmi.run.machine import memory

VGG19 = vgg19.VGG19()


def test_memory_estimate_grows_with_size_batch_and_depth():
    small = memory.estimate_bytes(VGG19, ["relu5_2"], 1, 384, 512)
    assert memory.estimate_bytes(VGG19, ["relu5_2"], 2, 384, 512) > small
    assert memory.estimate_bytes(VGG19, ["relu5_2"], 1, 768, 1024) > 3 * (small - memory.FIXED_BYTES)
    assert memory.estimate_bytes(VGG19, ["relu1_1", "relu5_4"], 1, 384, 512) > small
    # measured peak for this case (docstring of fmi.memory): 707 MiB
    assert 700 * 2**20 < small < 850 * 2**20


def test_unknown_available_memory_is_said(monkeypatch, caplog):
    monkeypatch.setattr(memory, "available_bytes", lambda: None)
    caplog.set_level("INFO")
    memory.check(VGG19, ["relu5_1"], 1, 64, 64)
    assert any("the memory available is unknown here" in message for message in caplog.messages)
