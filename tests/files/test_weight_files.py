import shutil
import subprocess

import mxnet as mx
import numpy as np
import pytest
from conftest import one_error, save_authors_file, tiny_run

import run_fmi
from fmi import weights
from fmi.core import invert, preprocessing, vgg19
from fmi.errors import FmiError
from fmi.files import downloads, weight_files
from fmi.io import sha1_of_file


def test_random_weights_are_seeded_and_labelled():
    first, again, other = weights.load("random:3"), weights.load("random:3"), weights.load("random:4")
    assert first.label == "random weights (seed 3), not ImageNet"
    assert not first.pretrained and first.preprocessing is preprocessing.CAFFE_RGB
    np.testing.assert_array_equal(first.params["conv3_1_weight"].asnumpy(),
                                  again.params["conv3_1_weight"].asnumpy())
    assert not np.array_equal(first.params["conv3_1_weight"].asnumpy(),
                              other.params["conv3_1_weight"].asnumpy())
    # He normal: std sqrt(2 / fan_in), zero bias
    conv = first.params["conv4_1_weight"].asnumpy()
    assert conv.std() == pytest.approx(np.sqrt(2.0 / (256 * 9)), rel=0.01)
    assert not first.params["conv4_1_bias"].asnumpy().any()


def test_authors_format_loads_and_reproduces_activations(tmp_path, random_weights):
    path = tmp_path / "vgg19.params"
    save_authors_file(path, random_weights.params)
    loaded = weights.load(str(path))
    assert loaded.pretrained and loaded.preprocessing is preprocessing.CAFFE_RGB
    assert loaded.sha1 == sha1_of_file(path) and len(loaded.sha1) == 40
    assert "random weights" not in loaded.label
    x = np.random.default_rng(0).uniform(-50, 50, (1, 3, 20, 20)).astype(np.float32)
    expected = invert.extract(vgg19.VGG19(), random_weights, ["relu3_1"], x)["relu3_1"]
    np.testing.assert_array_equal(invert.extract(vgg19.VGG19(), loaded, ["relu3_1"], x)["relu3_1"], expected)


def _git_hash_object(path):

    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed, so there is no independent blob id to compare with")
    return subprocess.run([git, "hash-object", str(path)], capture_output=True, text=True, check=True).stdout.strip()


def test_a_weights_file_is_the_authors_only_when_its_git_blob_id_is_theirs(tmp_path, random_weights, monkeypatch,
                                                                          capsys):
    import dataclasses

    from fmi.files import published

    path = tmp_path / "vgg19.params"
    save_authors_file(path, random_weights.params)
    blob = _git_hash_object(path)
    converted = weights.load(str(path))
    assert converted.blob == blob and converted.published is None
    assert converted.label == f"weights file vgg19.params (git blob {blob[:8]}), not the authors'"
    assert weights.main(["check", str(path)]) == 0
    said = capsys.readouterr().out
    assert f"not the authors' 'vgg19.params' (git blob {blob[:8]}, theirs 9dfbe2ed)" in said
    assert "every key, shape and value" in said
    # the same bytes, were they the published ones: recognised, and only then called theirs
    monkeypatch.setattr(published, "WEIGHTS", dataclasses.replace(published.WEIGHTS, blob=blob))
    monkeypatch.setitem(published.BY_BLOB, blob, published.WEIGHTS)
    theirs = weights.load(str(path))
    assert theirs.label == "ImageNet VGG-19, the authors' vgg19.params"
    assert theirs.blob == blob and theirs.published == "the authors' vgg19.params"
    assert weights.main(["check", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"exactly the authors' 'vgg19.params' (git blob {blob[:8]})")
    changed = bytearray(path.read_bytes())
    changed[len(changed) // 2] ^= 0x01  # one bit of one weight
    path.write_bytes(bytes(changed))
    assert weights.load(str(path)).published is None


def test_auto_uses_authors_file_when_present(tmp_path, random_weights):
    assert weights.load("auto", model_dir=tmp_path).label == "random weights (seed 0), not ImageNet"
    save_authors_file(tmp_path / "vgg19.params", random_weights.params)
    assert weights.load("auto", model_dir=tmp_path).pretrained


def test_gluon_file_maps_its_convolutions_in_order(tmp_path):
    from mxnet.gluon.model_zoo import vision

    net = vision.vgg19()
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net.features[0].bias.set_data(mx.nd.arange(64) / 64.0)  # a non-zero bias must land in conv1_1_bias
    x = np.random.default_rng(1).uniform(-2, 2, (1, 3, 32, 32)).astype(np.float32)
    net(mx.nd.array(x))
    path = tmp_path / "vgg19-gluon.params"
    net.save_parameters(str(path))

    loaded = weights.load(str(path))
    assert loaded.preprocessing is preprocessing.TORCH_RGB and loaded.pretrained
    expected = mx.nd.array(x)
    for layer in net.features[:7]:  # conv1_1 relu conv1_2 relu maxpool conv2_1 relu
        expected = layer(expected)
    got = invert.extract(vgg19.VGG19("max"), loaded, ["relu2_1"], x)["relu2_1"]
    np.testing.assert_allclose(got, expected.asnumpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(loaded.params["conv5_4_weight"].asnumpy(),
                                  net.features[34].weight.data().asnumpy())


def test_missing_key_is_named(tmp_path, random_weights):
    path = tmp_path / "vgg19.params"
    save_authors_file(path, random_weights.params, lambda saved: saved.pop("arg:conv4_3_bias"))
    with pytest.raises(FmiError, match=r"weights file .*vgg19.params: missing 1 of the 32 arrays \(conv4_3_bias\);"):
        weights.load(str(path))


def test_wrong_shape_is_named(tmp_path, random_weights):
    path = tmp_path / "vgg19.params"
    save_authors_file(path, random_weights.params,
                      lambda saved: saved.update({"arg:conv2_1_weight": mx.nd.zeros((129, 64, 3, 3))}))
    with pytest.raises(FmiError, match=r"wrong shapes in 1 \(conv2_1_weight is \(129, 64, 3, 3\), "
                                       r"expected \(128, 64, 3, 3\)"):
        weights.load(str(path))


def test_not_a_params_file(tmp_path):
    path = tmp_path / "vgg19.params"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(FmiError, match="not an MXNet .params file"):
        weights.load(str(path))


def test_missing_authors_file_says_how_to_get_it(tmp_path):
    with pytest.raises(FmiError, match=r"no such file; run 'python -m fmi.weights download --dest .*vgg19.params' "
                                       r"to fetch it$"):
        weights.load(str(tmp_path / "vgg19.params"))
    for spec in ("random:x", "random:-1", "random:\u0663", "random:1e3", "random:99999999999"):
        with pytest.raises(FmiError, match="the seed must be an integer from 0 to 2147483647"):
            weights.load(spec)


def test_download_checks_the_file_before_naming_it(tmp_path, random_weights, serve):
    served = tmp_path / "served"
    served.mkdir()
    source = served / "served.params"
    save_authors_file(source, random_weights.params)
    destination = tmp_path / "model" / "vgg19.params"
    url = serve(served)
    downloads.download_weights(destination, url=url + "served.params", progress=open("/dev/null", "w"))
    assert weights.load(str(destination)).sha1 == sha1_of_file(source)

    (served / "broken.params").write_bytes(source.read_bytes()[:1000])
    bad_destination = tmp_path / "other" / "vgg19.params"
    with pytest.raises(FmiError, match=r"broken.params: not an MXNet .params file .*; nothing was saved$"):
        downloads.download_weights(bad_destination, url=url + "broken.params", progress=open("/dev/null", "w"))
    assert list(bad_destination.parent.iterdir()) == []


def test_download_offline_says_where_to_put_the_file(tmp_path):
    with pytest.raises(FmiError, match=r"could not download .*copy it to .*vgg19.params"):
        downloads.download_weights(tmp_path / "vgg19.params", url="http://127.0.0.1:9/vgg19.params")


def test_gluon_spec_checks_and_maps_the_model_zoo_file(tmp_path, monkeypatch):
    """'gluon' takes the file MXNet's model store returns (it downloads and SHA-1-checks it)."""
    from mxnet.gluon.model_zoo import model_store, vision

    net = vision.vgg19()
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 3, 32, 32)))
    path = tmp_path / "vgg19-zoo.params"
    net.save_parameters(str(path))
    asked = []
    monkeypatch.setattr(model_store, "get_model_file", lambda name, root: asked.append(name) or str(path))
    loaded = weights.load("gluon")
    assert asked == ["vgg19"] and loaded.preprocessing is preprocessing.TORCH_RGB
    np.testing.assert_array_equal(loaded.params["conv1_1_weight"].asnumpy(), net.features[0].weight.data().asnumpy())

    def offline(name, root):
        raise OSError("Name or service not known")

    monkeypatch.setattr(model_store, "get_model_file", offline)
    with pytest.raises(FmiError, match=r"could not get Gluon's vgg19 weights \(Name or service not known\); "
                                       r"without internet, copy vgg19-[0-9a-f]{8}.params into .*models/"):
        weights.load("gluon")


def test_which_specs_give_random_weights(tmp_path):
    assert weight_files.is_random("random") and weight_files.is_random("random:3")
    assert weight_files.is_random("auto", tmp_path)  # no authors' file there: auto falls back to random:0
    (tmp_path / weight_files.AUTHORS_FILE.name).write_bytes(b"")
    assert not weight_files.is_random("auto", tmp_path)
    assert not weight_files.is_random("gluon") and not weight_files.is_random(tmp_path / "vgg19.params")


def test_an_array_name_that_is_not_utf8_is_one_line(tmp_path, random_weights, capsys):
    path = tmp_path / "vgg19.params"
    save_authors_file(path, random_weights.params)
    data = path.read_bytes()
    assert data.count(b"arg:conv5_4_bias") == 1
    path.write_bytes(data.replace(b"arg:conv5_4_bias", b"arg:conv5_4_bia\xff"))  # the same length, not UTF-8
    code = weights.main(["check", str(path)])
    one_error(capsys, code, r"the name of one of its arrays is not UTF-8 text, so it is no weights file fmi reads")


def test_a_file_missing_most_arrays_is_named_in_a_short_line(tmp_path, random_weights, capsys):
    path = tmp_path / "vgg19.params"
    save_authors_file(path, {"conv1_1_weight": random_weights.params["conv1_1_weight"]})
    line = one_error(capsys, weights.main(["check", str(path)]),
                     r"missing 31 of the 32 arrays \(conv1_1_bias, conv1_2_weight, conv1_2_bias, \.\.\.\)")
    assert len(line) < 300


def test_weights_with_a_nan_are_refused_at_load_and_by_check(tmp_path, tiny_image, random_weights, capsys):
    import mxnet as mx

    path = tmp_path / "vgg19.params"

    def poison(saved):
        values = saved["arg:conv3_1_weight"].asnumpy()
        values[0, 0, 0, 0] = np.nan
        saved["arg:conv3_1_weight"] = mx.nd.array(values)

    save_authors_file(path, random_weights.params, poison)
    argv = tiny_run(tmp_path / "out", tiny_image, steps=3, batch=2)
    argv[argv.index("random:0")] = str(path)
    code = run_fmi.main(argv)
    one_error(capsys, code, r"conv3_1_weight has 1 non-finite value\(s\) \(NaN or infinity\)")
    code = weights.main(["check", str(path)])
    one_error(capsys, code, r"conv3_1_weight has 1 non-finite value")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_float16_and_float64_weights_become_float32(tmp_path, random_weights, dtype, caplog):
    import mxnet as mx

    path = tmp_path / "vgg19.params"
    save_authors_file(path, {name: mx.nd.array(value.asnumpy(), dtype=dtype)
                         for name, value in random_weights.params.items()})
    caplog.set_level("INFO")
    loaded = weights.load(str(path))
    assert {value.dtype for value in loaded.params.values()} == {np.float32}
    expected = random_weights.params["conv2_1_weight"].asnumpy().astype(dtype).astype(np.float32)
    np.testing.assert_array_equal(loaded.params["conv2_1_weight"].asnumpy(), expected)
    assert any(f"converted from {dtype} to float32" in message for message in caplog.messages)


def test_integer_weights_are_refused(tmp_path, random_weights):
    import mxnet as mx

    path = tmp_path / "vgg19.params"
    save_authors_file(path, {name: mx.nd.array(value.asnumpy(), dtype="int32")
                         for name, value in random_weights.params.items()})
    with pytest.raises(FmiError, match=r"conv1_1_weight holds int32 values, not floating point"):
        weights.load(str(path))


@pytest.mark.parametrize("make, pattern", [
    (None, r"weights file .*vgg19.params: no such file; run 'python -m fmi.weights download --dest "
           r".*vgg19.params' to fetch it; or run offline with random weights and bundled images: python "
           r"run_fmi.py .* --weights random:0$"),
    ("html", r"weights file .*vgg19.params: not an MXNet .params file \(corrupt or truncated\?\); "
             r"delete it and run 'python -m fmi.weights download'"),
    ("truncated", r"not an MXNet .params file \(corrupt or truncated\?\)"),
    ("foreign", r"unknown key format \(keys like fc.weight\)"),
    ("missing", r"missing 1 of the 32 arrays \(conv5_4_weight\); get a good copy with 'python -m fmi.weights "
                r"download'"),
    ("shape", r"wrong shapes in 1 \(conv1_1_bias is \(3,\), expected \(64,\)"),
])
def test_bad_weights_files(tmp_path, capsys, tiny_image, random_weights, make, pattern):
    import mxnet as mx

    path = tmp_path / "vgg19.params"
    if make == "html":
        path.write_text("<html>Not Found</html>")
    elif make == "truncated":
        save_authors_file(path, random_weights.params)
        path.write_bytes(path.read_bytes()[:5000])
    elif make == "foreign":
        mx.nd.save(str(path), {"fc.weight": mx.nd.zeros((2, 2))})
    elif make == "missing":
        save_authors_file(path, random_weights.params, lambda saved: saved.pop("arg:conv5_4_weight"))
    elif make == "shape":
        save_authors_file(path, random_weights.params, lambda saved: saved.update({"arg:conv1_1_bias": mx.nd.zeros(3)}))
    argv = tiny_run(tmp_path / "out", tiny_image, steps=3, batch=1)
    argv[argv.index("--weights") + 1] = str(path)
    one_error(capsys, run_fmi.main(argv), pattern)
