import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures import photo, random_original_arrays, write_tf1_checkpoint
from tests.numpy_reference import transform_net as reference_net
from src.checkpoints import MODEL_FILENAME, Checkpoint, CheckpointError, load_model, save_model
from src.transform import build_transform_net

IMAGE = photo(30, 22, seed=5)[None]


@pytest.fixture(scope="module")
def expected(original_arrays):
    return reference_net(IMAGE, original_arrays)[:, :30, :22]


@pytest.mark.parametrize("form", ["v1", "v2", "dir"])
def test_original_checkpoints_load_and_match_the_reference(tf1_checkpoints, expected, form):
    model = load_model(tf1_checkpoints[form])
    np.testing.assert_allclose(model(IMAGE).numpy(), expected, atol=2e-2)


@pytest.mark.parametrize("suffix", [".index", ".data-00000-of-00001"])
def test_v2_file_names_stand_for_their_prefix(tf1_checkpoints, expected, suffix):
    model = load_model(tf1_checkpoints["v2"] + suffix)
    np.testing.assert_allclose(model(IMAGE).numpy(), expected, atol=2e-2)


def test_directory_whose_state_file_names_a_path_that_moved(tf1_checkpoints, tmp_path, expected):
    # The original wrote the path it was given, often absolute on the training machine.
    moved = tmp_path / "moved"
    shutil.copytree(tf1_checkpoints["dir"], moved)
    (moved / "checkpoint").write_text('model_checkpoint_path: "/gone/elsewhere/fns.ckpt"\n')
    np.testing.assert_allclose(load_model(moved)(IMAGE).numpy(), expected, atol=2e-2)


def test_directory_without_state_file_uses_its_only_checkpoint(tf1_checkpoints, tmp_path, expected):
    shutil.copy(tf1_checkpoints["v1"], tmp_path / "only.ckpt")
    np.testing.assert_allclose(load_model(tmp_path)(IMAGE).numpy(), expected, atol=2e-2)


def test_style_name_comes_from_the_file_name(tf1_checkpoints):
    assert load_model(tf1_checkpoints["v1"]).style_names == ["random"]


def test_own_format_round_trip_and_training_directory(random_model, tmp_path):
    save_model(random_model, tmp_path / "a.keras")
    os.makedirs(tmp_path / "run")
    save_model(random_model, tmp_path / "run" / MODEL_FILENAME)
    for path in (tmp_path / "a.keras", tmp_path / "run"):
        loaded = load_model(path)
        np.testing.assert_array_equal(loaded(IMAGE).numpy(), random_model(IMAGE).numpy())
        assert loaded.style_names == ["random"]
    assert sorted(os.listdir(tmp_path)) == ["a.keras", "run"]  # no temporary files left behind


def test_a_failed_save_keeps_the_old_file(random_model, tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    save_model(random_model, path)
    before = path.read_bytes()

    def crash(self, target, *args, **kwargs):
        Path(target).write_bytes(b"PK\x03\x04 half written")
        raise OSError("disk full")

    monkeypatch.setattr(type(random_model), "save", crash)
    with pytest.raises(OSError):
        save_model(random_model, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.keras"]


def _error(path):
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    return str(info.value)


def test_missing_path(tmp_path):
    assert "does not exist" in _error(tmp_path / "nope.ckpt")


def test_empty_directory(tmp_path):
    message = _error(tmp_path)
    assert "holds no checkpoint" in message and MODEL_FILENAME in message


def test_a_folder_of_models_asks_for_one(model_file, tmp_path):
    for name in ("wave.keras", "udnie.keras", "b.keras", "c.keras", "d.keras"):
        shutil.copy(model_file, tmp_path / name)
    message = f"{tmp_path} is a folder of 5 models (b.keras, c.keras, d.keras, udnie.keras, ...): give one of them"
    with pytest.raises(CheckpointError, match=re.escape(message)):
        Checkpoint(tmp_path)


def test_directory_with_several_checkpoints(tf1_checkpoints, tmp_path):
    shutil.copy(tf1_checkpoints["v1"], tmp_path / "a.ckpt")
    shutil.copy(tf1_checkpoints["v1"], tmp_path / "b.ckpt")
    assert "several checkpoints (a.ckpt, b.ckpt)" in _error(tmp_path)


def test_state_file_naming_a_missing_checkpoint(tmp_path):
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "fns.ckpt"\n')
    assert "names checkpoint fns.ckpt, which is not in" in _error(tmp_path)


def test_text_file(tmp_path):
    (tmp_path / "notes.ckpt").write_text("hello\n")
    assert "is not a checkpoint" in _error(tmp_path / "notes.ckpt")


def test_exports_for_other_runtimes_are_named_as_such(tmp_path):
    """export.py's outputs, by their marks (tests/test_export.py gives it real ones): a TFLite
    flatbuffer's schema name, a SavedModel's graph file, an ONNX model's name."""
    (tmp_path / "style.bin").write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(40))
    (tmp_path / "style.onnx").write_bytes(b"\x08\x08\x12\x07tf2onnx")
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "saved_model.pb").write_bytes(b"\x08\x01")
    for name, kind in (("style.bin", "a TFLite model"), ("style.onnx", "an ONNX model"), ("saved", "a SavedModel")):
        assert f"{name} is {kind} exported for other runtimes (export.py): give the .keras model" in _error(tmp_path / name)
    (tmp_path / "saved" / "saved_model.pb").unlink()
    assert "holds no checkpoint" in _error(tmp_path / "saved")


@pytest.mark.parametrize("keep", [0.5, 0.999])
def test_truncated_v1_file(tf1_checkpoints, tmp_path, keep):
    data = Path(tf1_checkpoints["v1"]).read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: int(len(data) * keep)])
    message = _error(tmp_path / "cut.ckpt")
    assert "cut.ckpt" in message and ("not a checkpoint" in message or "cannot read" in message)


def test_v2_with_missing_data_file(tf1_checkpoints, tmp_path):
    shutil.copy(tf1_checkpoints["v2"] + ".index", tmp_path / "fns.ckpt.index")
    assert "cannot read TensorFlow checkpoint" in _error(tmp_path / "fns.ckpt")


@pytest.mark.parametrize("keep", [0.5, -100])
def test_truncated_keras_file(model_file, tmp_path, keep):
    data = model_file.read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: int(len(data) * keep) if keep > 0 else keep])
    message = _error(tmp_path / "cut.keras")
    assert "is damaged or cut short" in message and "File not found" not in message


def test_keras_model_of_another_kind(tmp_path):
    import keras

    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    other.save(tmp_path / "dense.keras")
    assert "not a style transfer network (Sequential)" in _error(tmp_path / "dense.keras")


def test_tf_checkpoint_of_another_network(tmp_path):
    write_tf1_checkpoint([np.zeros((3, 3), np.float32), np.zeros(3, np.float32)], tmp_path / "other.ckpt")
    assert "lacks 46 of its 48 variables" in _error(tmp_path / "other.ckpt")


def test_tf_checkpoint_with_wrong_shapes(tmp_path):
    arrays = random_original_arrays()
    arrays[3] = np.zeros((3, 3, 32, 16), np.float32)
    write_tf1_checkpoint(arrays, tmp_path / "narrow.ckpt")
    assert "Variable_3 has shape [3, 3, 32, 16] where the network needs [3, 3, 32, 64]" in _error(tmp_path / "narrow.ckpt")


def test_multi_style_model_round_trip(tmp_path):
    model = build_transform_net(3, ["a", "b", "c"])
    save_model(model, tmp_path / "three.keras")
    loaded = load_model(tmp_path / "three.keras")
    assert (loaded.num_styles, loaded.style_names) == (3, ["a", "b", "c"])
    weights = np.array([0.2, 0.3, 0.5])
    np.testing.assert_array_equal(loaded(IMAGE, style_weights=weights).numpy(), model(IMAGE, style_weights=weights).numpy())


def _never(path):
    raise AssertionError(f"{path} was loaded")


@pytest.mark.parametrize("form", ["keras", "three_styles", "slim", "v1", "v2", "dir"])
def test_a_checkpoint_is_described_without_loading_it(form, model_file, tf1_checkpoints, tmp_path):
    if form == "three_styles":
        save_model(build_transform_net(3, ["a", "b", "c"]), tmp_path / "three.keras")
    if form == "slim":
        save_model(build_transform_net(width=0.25, residual_blocks=2), tmp_path / "slim.keras")
    made = {"keras": model_file, "three_styles": tmp_path / "three.keras", "slim": tmp_path / "slim.keras"}
    path = made.get(form) or tf1_checkpoints.get(form)
    described = Checkpoint(path, load=_never)
    loaded = load_model(path)
    assert (described.num_styles, described.style_names) == (loaded.num_styles, loaded.style_names)
    assert described.width == loaded.width == (0.25 if form == "slim" else 1.0)
    assert described.default_style_weights() == loaded.default_style_weights()
    assert described.digest == Checkpoint(path, load=_never).digest


def test_a_checkpoints_digest_follows_its_bytes_and_it_loads_once(model_file, tf1_checkpoints, tmp_path):
    shutil.copytree(Path(tf1_checkpoints["v2"]).parent, tmp_path / "copy", ignore=shutil.ignore_patterns("train"))
    prefix = tmp_path / "copy" / "fns.ckpt"
    before = Checkpoint(prefix).digest
    data = next((tmp_path / "copy").glob("fns.ckpt.data-*"))
    data.write_bytes(data.read_bytes()[:-4] + b"\0\0\0\0")  # the V2 data file is part of it too
    assert Checkpoint(prefix).digest != before
    calls = []
    checkpoint = Checkpoint(model_file, load=lambda path: calls.append(path) or load_model(path))
    assert checkpoint.model() is checkpoint.model() and calls == [model_file]
    assert Checkpoint(model_file).digest != Checkpoint(tf1_checkpoints["v1"]).digest


def test_a_checkpoint_is_checked_when_described(model_file, tmp_path):
    import keras

    (tmp_path / "cut.keras").write_bytes(model_file.read_bytes()[:-100])
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(tmp_path / "dense.keras")
    cases = [("cut.keras", "is damaged or cut short"), ("dense.keras", "not a style transfer network (Sequential)")]
    for name, message in cases + [("none.keras", "does not exist")]:
        with pytest.raises(CheckpointError, match=re.escape(message)):
            Checkpoint(tmp_path / name, load=_never)
