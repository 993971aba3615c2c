from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import evaluate
import export
from tests.fixtures import photo
from src.checkpoints import CheckpointError, load_model, save_model
from src.transform import build_transform_net

HEIGHT, WIDTH = 37, 53  # odd, and not multiples of 4


@pytest.fixture(scope="module")
def stylized_by_evaluate(model_file, tmp_path_factory):
    """The photo and what evaluate.py makes of it, as 8-bit pixels."""
    folder = tmp_path_factory.mktemp("evaluate")
    Image.fromarray(photo(HEIGHT, WIDTH).astype(np.uint8)).save(folder / "in.png")
    # The exports compute in float32, so evaluate.py does too here.
    argv = ["--checkpoint", str(model_file), "--precision", "float32", "--in-path", str(folder / "in.png"), "--out-path", str(folder / "out.png")]
    assert evaluate.main(argv) == 0
    image = np.asarray(Image.open(folder / "in.png"), np.float32)[None]
    return image, np.asarray(Image.open(folder / "out.png"), np.int16)


def _export(checkpoint, fmt, path, *extra):
    assert export.main(["--checkpoint", str(checkpoint), "--format", fmt, "--out-path", str(path), *map(str, extra)]) == 0
    return path


def _same_picture(stylized, expected):
    assert stylized.shape == (1, *expected.shape)
    assert stylized.dtype == np.float32 and stylized.min() >= 0 and stylized.max() <= 255
    assert np.abs(np.rint(stylized[0]) - expected).max() <= 1


def test_savedmodel_runs_in_tensorflow(model_file, tmp_path, stylized_by_evaluate):
    import tensorflow as tf

    image, expected = stylized_by_evaluate
    loaded = tf.saved_model.load(str(_export(model_file, "savedmodel", tmp_path / "sm")))
    _same_picture(loaded.signatures["serving_default"](images=tf.constant(image))["stylized"].numpy(), expected)
    _not_read_back(tmp_path / "sm", "a SavedModel")


def _not_read_back(export_path, kind):
    """An export given back as --checkpoint is named as one, with where to go instead."""
    with pytest.raises(CheckpointError, match=f"is {kind} exported for other runtimes .*exported from"):
        load_model(export_path)


def _tflite(path, **inputs):
    import tensorflow as tf

    # The signature runner sizes its dynamic inputs (height, width) to each call's arrays.
    return tf.lite.Interpreter(model_path=str(path)).get_signature_runner()(**inputs)["stylized"]


def test_tflite_runs_in_the_tflite_interpreter(model_file, tmp_path, stylized_by_evaluate):
    image, expected = stylized_by_evaluate
    _same_picture(_tflite(_export(model_file, "tflite", tmp_path / "m.tflite"), images=image), expected)
    _not_read_back(tmp_path / "m.tflite", "a TFLite model")
    (tmp_path / "m.tflite").rename(tmp_path / "renamed.bin")  # known by its content, not its name
    _not_read_back(tmp_path / "renamed.bin", "a TFLite model")


def test_tflite_with_a_fixed_size(model_file, tmp_path, stylized_by_evaluate):
    import tensorflow as tf

    image, expected = stylized_by_evaluate
    path = _export(model_file, "tflite", tmp_path / "fixed.tflite", "--size", HEIGHT, WIDTH)
    interpreter = tf.lite.Interpreter(model_path=str(path))
    assert list(interpreter.get_input_details()[0]["shape_signature"]) == [1, HEIGHT, WIDTH, 3]
    interpreter.allocate_tensors()
    _same_picture(interpreter.get_signature_runner()(images=image)["stylized"], expected)


def test_onnx_runs_in_onnxruntime(model_file, tmp_path, stylized_by_evaluate):
    pytest.importorskip("tf2onnx")
    ort = pytest.importorskip("onnxruntime")
    image, expected = stylized_by_evaluate
    session = ort.InferenceSession(str(_export(model_file, "onnx", tmp_path / "m.onnx")))
    assert [i.name for i in session.get_inputs()] == ["images"] and [o.name for o in session.get_outputs()] == ["stylized"]
    _same_picture(session.run(["stylized"], {"images": image})[0], expected)
    _not_read_back(tmp_path / "m.onnx", "an ONNX model")


def test_multi_style_network_takes_its_style_weights(tmp_path):
    model = build_transform_net(2, ["a", "b"])
    for block in model.layers_in_order():
        block.norm.shift.assign(np.stack([np.zeros(block.filters), np.full(block.filters, 0.5)]))
    save_model(model, tmp_path / "two.keras")
    image = photo(HEIGHT, WIDTH)[None]
    path = _export(tmp_path / "two.keras", "tflite", tmp_path / "two.tflite")
    for weights in ([1.0, 0.0], [0.0, 1.0], [0.3, 0.7]):
        weights = np.array([weights], np.float32)
        expected = np.clip(model(image, style_weights=weights).numpy(), 0, 255)
        np.testing.assert_allclose(_tflite(path, images=image, style_weights=weights), expected, atol=0.05)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--format", "tflite", "--out-path", "{tmp}/m.onnx"], "must end in .tflite"),
        (["--format", "keras", "--out-path", "{tmp}/m.keras", "--size", "4", "4"], "--size applies to"),
        (["--format", "onnx", "--out-path", "{tmp}/m.onnx", "--size", "0", "4"], "must be at least 1"),
        (["--format", "pdf", "--out-path", "{tmp}/m.pdf"], "invalid choice: 'pdf'"),
    ],
)
def test_bad_arguments(model_file, tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit:
        export.main(["--checkpoint", str(model_file), *[a.format(tmp=tmp_path) for a in argv]])
    assert exit.value.code == 2 and message in capsys.readouterr().err


def test_bad_checkpoint(tmp_path, capsys):
    with pytest.raises(SystemExit):
        export.main(["--checkpoint", str(tmp_path / "none.ckpt"), "--format", "tflite", "--out-path", str(tmp_path / "m.tflite")])
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "m.tflite").exists()


def test_export_never_replaces_its_own_checkpoint(model_file, tmp_path, capsys):
    import export

    copy = tmp_path / "m.keras"
    copy.write_bytes(model_file.read_bytes())
    (tmp_path / "link.keras").symlink_to(copy)
    before = copy.read_bytes()
    for out in (copy, tmp_path / "link.keras"):
        with pytest.raises(SystemExit) as exit_:
            export.main(["--checkpoint", str(copy), "--format", "keras", "--out-path", str(out)])
        assert exit_.value.code == 2 and "is the --checkpoint itself" in capsys.readouterr().err
    assert copy.read_bytes() == before


def test_a_kill_while_writing_leaves_nothing(model_file, tmp_path, capsys, monkeypatch):
    import src.export

    def killed(model, path, size):
        Path(path).mkdir()
        (Path(path) / "saved_model.pb").write_bytes(b"half")
        raise KeyboardInterrupt  # what src/cli.py makes of a SIGTERM, as of a Ctrl-C

    monkeypatch.setattr(src.export, "_write_savedmodel", killed)
    out = tmp_path / "out" / "m.savedmodel"
    out.parent.mkdir()
    assert export.main(["--checkpoint", str(model_file), "--format", "savedmodel", "--out-path", str(out)]) == 130
    err = capsys.readouterr().err
    assert f"interrupted; nothing was written to {out}" in err and "Traceback" not in err
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize("fmt, suffix", [("keras", ".keras"), ("savedmodel", ""), ("onnx", ".onnx")])
def test_a_file_too_large_for_the_disk_is_a_message(model_file, tmp_path, capsys, fmt, suffix):
    """A real failed write: files are limited to 1 MiB for the duration (Python ignores SIGXFSZ,
    so writes fail with EFBIG). TensorFlow's SavedModel writer reports it in its own error type,
    which gave a traceback."""
    import resource

    if fmt == "onnx":
        pytest.importorskip("tf2onnx")
    out = tmp_path / "out" / f"m{suffix}"
    out.parent.mkdir()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, hard))
    try:
        with pytest.raises(SystemExit) as exit_:
            export.main(["--checkpoint", str(model_file), "--format", fmt, "--out-path", str(out)])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and f"cannot write --out-path {out}: File too large" in err
    assert list(out.parent.iterdir()) == []
