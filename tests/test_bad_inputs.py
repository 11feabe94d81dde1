"""Bad inputs a newcomer meets: each one a ValueError/TypeError/OSError naming what is wrong,
and on the command line one line, a non-zero exit and no "internal error" (issue 23)."""

import json

import numpy as np
import pytest
import torch

import tinyconv
import tinyconv.functional as F
from tinyconv import io, models, nn
from tinyconv.cli import main


def run_main(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *words):
    assert code not in (0, None), err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 or lines[-1].startswith("tinyconv"), err
    assert "internal error" not in err and "Traceback" not in err, err
    for w in words:
        assert w in err, err


# ----------------------------------------------------------------------- the losses
@pytest.mark.parametrize("which", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3, 3)])
def test_mean_loss_with_every_target_ignored_is_nan_with_zero_gradients_as_pytorch(which, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    t = np.full((shape[0], *shape[2:]), -100, dtype=np.int64)
    ours = tinyconv.tensor(x, requires_grad=True)
    loss = getattr(F, which)(ours, t)
    loss.backward()
    theirs = torch.tensor(x, requires_grad=True)
    ref = getattr(torch.nn.functional, which)(theirs, torch.tensor(t))
    ref.backward()
    assert np.isnan(ref.item()) and np.isnan(loss.item())  # 0 / 0, as PyTorch
    assert np.array_equal(theirs.grad.numpy(), np.zeros(shape, np.float32))
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    assert not np.isnan(ours.grad.numpy()).any()


def test_some_ignored_targets_still_give_pytorchs_mean_and_gradient():
    x = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32)
    t = np.array([0, -100, 2, -100, 1, 1])
    ours = tinyconv.tensor(x, requires_grad=True)
    F.cross_entropy(ours, t, label_smoothing=0.1).backward()
    theirs = torch.tensor(x, requires_grad=True)
    torch.nn.functional.cross_entropy(theirs, torch.tensor(t), label_smoothing=0.1).backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------- tensors
@pytest.mark.parametrize(
    "value, named",
    [(["a", "b"], "list of str"), (None, "None"), ({"a": 1}, "dict"), (object(), "object")],
)
def test_tensor_refuses_what_is_not_numbers(value, named):
    with pytest.raises(TypeError, match=f"tensor: expected numbers .*got {named}"):
        tinyconv.tensor(value)


def test_tensor_refuses_a_string_array():
    with pytest.raises(TypeError, match="tensor: expected a numeric array, got dtype <U1"):
        tinyconv.Tensor(np.array(["x"]))


def test_from_numpy_shares_memory_and_keeps_the_dtype():
    a = np.arange(4, dtype=np.float64)
    t = tinyconv.from_numpy(a)
    a[0] = 7
    assert t.dtype == np.float64 and t.numpy().tolist() == [7.0, 1.0, 2.0, 3.0]
    ref = torch.from_numpy(np.arange(4, dtype=np.float64))
    assert str(ref.dtype) == "torch.float64"
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray, got list"):
        tinyconv.from_numpy([1.0])


def test_nn_functional_is_the_functional_module():
    import tinyconv.nn.functional as nnF

    assert nnF.relu is F.relu and nnF.cross_entropy is F.cross_entropy
    assert tinyconv.nn.functional is nnF
    assert set(F.__all__) <= set(dir(nnF))


@pytest.mark.parametrize("value, named", [([1, 2, 3], "got list"), ({"weight": [1]}, "list")])
def test_load_state_dict_refuses_what_is_not_a_state_dict(value, named):
    with pytest.raises(TypeError, match=f"Linear.load_state_dict: expected .*{named}"):
        nn.Linear(2, 2).load_state_dict(value)


# -------------------------------------------------------------- hostile model files
@pytest.fixture
def linear_file(tmp_path):
    path = tmp_path / "linear.safetensors"
    tinyconv.save(nn.Linear(3, 2), path, metadata={"classes": ["a", "b"]})
    return path


def rewrite(path, tmp_path, name, architecture=None, **meta):
    """A copy of ``path`` (with a fresh checksum) whose metadata entries are replaced."""
    arrays, old = io.read_safetensors(path)
    new = {k: v for k, v in old.items() if k != "tinyconv.sha256"}
    if architecture is not None:
        new["tinyconv.architecture"] = json.dumps(architecture)
    new.update(meta)
    out = tmp_path / name
    io.write_safetensors(out, arrays, new)
    return out


def architecture(path):
    return json.loads(io.read_safetensors(path)[1]["tinyconv.architecture"])


def test_an_architecture_far_larger_than_its_weights_is_refused_before_building(
    linear_file, tmp_path
):
    cfg = architecture(linear_file)
    cfg["args"].update(in_features=10**6, out_features=10**6)  # 3.6 TiB of float32
    bad = rewrite(linear_file, tmp_path, "huge.safetensors", cfg)
    with pytest.raises(io.ModelFileError, match=r"huge.safetensors: .*Linear\(1000000, 1000000\)"):
        tinyconv.load(bad)


def test_a_model_that_builds_a_huge_child_stops_at_the_size_limit(tmp_path):
    path = tmp_path / "net.safetensors"
    tinyconv.save(models.get("simple_convnet"), path)
    cfg = architecture(path)
    cfg["args"]["input_size"] = 1000  # its Linear gets 30*498*498 inputs: about 3 GB
    bad = rewrite(path, tmp_path, "wide.safetensors", cfg)
    with pytest.raises(io.ModelFileError, match="wide.safetensors: .*more than .* bytes"):
        tinyconv.load(bad)


def test_an_architecture_nested_450_deep_is_refused_without_recursing(linear_file, tmp_path):
    cfg = architecture(linear_file)
    for _ in range(450):
        cfg = {"class": "tinyconv.nn.module.Sequential", "args": {}, "modules": {"0": cfg}}
    bad = rewrite(linear_file, tmp_path, "deep.safetensors", cfg)
    with pytest.raises(io.ModelFileError, match="deep.safetensors: the architecture nests 90"):
        tinyconv.load(bad)


def test_a_header_nested_50000_deep_is_refused_without_recursing(tmp_path):
    path = tmp_path / "header.safetensors"
    header = b'{"x":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(io.ModelFileError, match="header.safetensors: the header nests 50001"):
        io.read_safetensors(path)


def test_metadata_nested_deep_is_refused(linear_file, tmp_path):
    bad = rewrite(linear_file, tmp_path, "meta.safetensors", None,
                  **{"tinyconv.metadata": "[" * 5000 + "]" * 5000})  # fmt: skip
    with pytest.raises(io.ModelFileError, match="meta.safetensors: tinyconv.metadata nests"):
        io.read_metadata(bad)


def test_json_depth_ignores_brackets_inside_strings():
    assert io.json_depth(b'{"a": "[[[{{{", "b": [1, [2]]}') == 3
    assert io.json_depth(r'["\"[[[", []]') == 2
    assert io.json_depth("7") == 0


# ---------------------------------------------------------------- the command line
@pytest.fixture
def ten_class_file(tmp_path):
    path = tmp_path / "net.safetensors"
    meta = {"classes": ["a", "b", "c"], "input_shape": [1, 28, 28], "mean": [0.0], "std": [1.0]}
    tinyconv.save(models.get("simple_convnet"), path, metadata=meta)
    return path


def test_predict_with_3_class_names_for_10_outputs_says_so(ten_class_file, tmp_path, capsys):
    from PIL import Image

    image = tmp_path / "x.png"
    Image.fromarray(np.zeros((28, 28), np.uint8), mode="L").save(image)
    code, _, err = run_main(["predict", str(ten_class_file), str(image)], capsys)
    assert_one_line_error(code, err, "3 class names (a, b, c) but the model has 10 outputs")


def test_evaluate_and_serve_refuse_3_class_names_for_10_outputs_as_predict(ten_class_file, capsys):
    """One rule for every front-end (io.class_names): no relabelling, no skipped names."""
    words = (str(ten_class_file), "3 class names (a, b, c) but the model has 10 outputs")
    code, out, err = run_main(["evaluate", str(ten_class_file), "--data", "mnist-sample"], capsys)
    assert_one_line_error(code, err, *words)
    assert "per-class accuracy" not in out
    code, _, err = run_main(["serve", str(ten_class_file), "--port", "0"], capsys)
    assert_one_line_error(code, err, *words)


def test_training_a_10_output_file_further_on_3_classes_is_refused_up_front(
    tmp_path, capsys, monkeypatch
):
    """Else the run would end writing a file that names 3 classes for 10 outputs."""
    from PIL import Image

    for c in range(3):
        (tmp_path / "digits" / f"digit{c}").mkdir(parents=True)
        for k in range(4):
            Image.fromarray(np.full((28, 28), 40 * k + c, np.uint8)).save(
                tmp_path / "digits" / f"digit{c}" / f"{k}.png"
            )
    tinyconv.save(models.get("simple_convnet"), tmp_path / "ten.safetensors",
                  metadata={"input_shape": [1, 28, 28]})  # fmt: skip
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--model", "ten.safetensors", "--data", "digits", "--epochs", "1", "--quiet"]
    code, _, err = run_main([*argv, "--out", "run"], capsys)
    assert_one_line_error(code, err, "ten.safetensors has 10 outputs but digits has 3 classes")
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_the_playground_refuses_class_names_that_do_not_name_each_output(ten_class_file):
    from tinyconv.serve import Playground, load_playground

    with pytest.raises(ValueError, match=r"3 class names \(a, b, c\) but the model has 10 out"):
        load_playground(ten_class_file)
    model = models.get("simple_convnet")
    with pytest.raises(ValueError, match=r"^Playground: 11 class names \(0, 1, 2, 3, 4, \.\.\.\)"):
        Playground(model, (1, 28, 28), classes=[str(i) for i in range(11)])
    with pytest.raises(TypeError, match="Playground: the class names must be a list of strings"):
        Playground(model, (1, 28, 28), classes=[str(i) for i in range(9)] + [9])
    named = [f"digit {i}" for i in range(10)]
    assert Playground(model, (1, 28, 28), classes=named).classes == named
    assert Playground(model, (1, 28, 28)).classes == [str(i) for i in range(10)]


def test_class_names_checks_each_name_and_the_count():
    assert io.class_names(None, 2, "m") == ["0", "1"]
    assert io.class_names([], 2, "m") == ["0", "1"]
    assert io.class_names(("x", "y"), 2, "m") == ["x", "y"]
    with pytest.raises(ValueError, match="m: 1 class names \\(x\\) but the model has 2 outputs"):
        io.class_names(["x"], 2, "m")
    with pytest.raises(TypeError, match="m: the class names must be a list of strings"):
        io.class_names("xy", 2, "m")


@pytest.mark.parametrize("command", ["summary", "predict"])
def test_a_huge_input_shape_is_refused_in_one_line(command, ten_class_file, capsys):
    argv = [command, str(ten_class_file), "--input-shape", "1,15000,15000"]
    if command == "predict":
        argv.insert(2, "x.png")
    code, _, err = run_main(argv, capsys)
    assert_one_line_error(code, err, "--input-shape", "4096x4096", "15000x15000")


def test_a_huge_input_shape_in_the_metadata_is_refused(ten_class_file, tmp_path, capsys):
    bad = rewrite(ten_class_file, tmp_path, "big-input.safetensors", None, **{
        "tinyconv.metadata": json.dumps({"input_shape": [1, 15000, 15000]})})  # fmt: skip
    code, _, err = run_main(["summary", str(bad)], capsys)
    assert_one_line_error(code, err, "15000x15000")


def test_a_hostile_model_file_on_the_command_line_is_one_line(linear_file, tmp_path, capsys):
    cfg = architecture(linear_file)
    cfg["args"].update(in_features=10**6, out_features=10**6)
    bad = rewrite(linear_file, tmp_path, "huge.safetensors", cfg)
    code, _, err = run_main(["summary", str(bad), "--input-shape", "1,2,2"], capsys)
    assert_one_line_error(code, err, "huge.safetensors", "refused before building")
