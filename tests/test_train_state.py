"""The checkpoint directory: atomic state and model, resume state round trip, lock, errors."""

import numpy as np
import pytest

from src.checkpoints import load_model
from src.training.train_state import STATE_FILENAME, StateError, TrainingState, locked, mismatches, read_state, write_checkpoint
from src.transform import build_transform_net

SETTINGS = {"styles": ["wave"], "image_size": 16, "batch_size": 4, "seed": 3}


def test_round_trip(tmp_path):
    model = build_transform_net()
    optimizer = [np.array(7, np.int64), np.arange(6, dtype=np.float32).reshape(2, 3)]
    write_checkpoint(tmp_path, TrainingState(7, SETTINGS, model.get_weights(), optimizer), model)
    state = read_state(tmp_path)
    assert (state.iteration, state.settings) == (7, SETTINGS)
    for saved, original in zip(state.model_weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, original)
    np.testing.assert_array_equal(state.optimizer_variables[1], optimizer[1])
    loaded = load_model(tmp_path)  # what evaluate.py does with the directory
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras", STATE_FILENAME]


def test_fresh_directory_and_leftovers(tmp_path):
    directory = tmp_path / "new" / "run"
    (tmp_path / "new").mkdir()
    with locked(directory):
        assert read_state(directory) is None
    (directory / f".{STATE_FILENAME}.123.tmp").write_bytes(b"half")
    (directory / ".model.keras.123.tmp.keras").write_bytes(b"half")
    (directory / "notes.txt").write_text("mine")
    with locked(directory):
        names = sorted(p.name for p in directory.iterdir())
    assert names == [".lock", "notes.txt"]  # a killed run's temporaries go, nothing else


def test_second_run_is_refused(tmp_path):
    with locked(tmp_path):
        with pytest.raises(StateError, match="another style.py is training"):
            with locked(tmp_path):
                pass
    with locked(tmp_path):  # released
        pass


def test_model_without_state_and_damaged_state(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"x")
    with pytest.raises(StateError, match="no training_state.npz"):
        read_state(tmp_path)
    (tmp_path / STATE_FILENAME).write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(StateError, match="cannot resume from .*move it away"):
        read_state(tmp_path)


def test_mismatches():
    state = TrainingState(5, SETTINGS)
    assert mismatches(state, SETTINGS) == []
    assert mismatches(state, {**SETTINGS, "batch_size": 8}) == ["--batch-size was 4, now 8"]


def test_mismatches_name_the_flags_in_the_words_of_the_command_line():
    saved = {
        "styles": ["wave"],
        "style_images": ["aaaa"],
        "loss_weights": [7.5, 100.0, 200.0],
        "style_layers": ["relu1_1", "relu2_1"],
        "loss_network": "VGG19 1234",
    }
    state = TrainingState(5, saved)
    same_names = {**saved, "style_images": ["bbbb"], "loss_weights": [15.0, 100.0, 200.0], "loss_network": "VGG19 5678"}
    assert mismatches(state, same_names) == [
        "the --style images are other pictures than the run's, under the same names",
        "--content-weight was 7.5, now 15",
        "--vgg-path holds other VGG19 weights than the run's",
    ]
    other = {**saved, "styles": ["udnie"], "style_images": ["cccc"], "style_layers": ["relu3_1"], "loss_network": "VGG16 1"}
    assert mismatches(state, other) == [  # the pictures' fingerprints go unsaid when the names differ
        "--style was wave, now udnie",
        "--style-layers was relu1_1 relu2_1, now relu3_1",
        "--vgg-path was VGG19, now VGG16",
    ]


def test_mismatches_of_a_distillation():
    saved = {"teacher": "t1", "loss_weights": [1.0, 0.0], "loss_network": None, "start": None}
    state = TrainingState(5, saved)
    now = {"teacher": "t2", "loss_weights": [1.0, 15.0, 0.05], "loss_network": "VGG16 9", "start": "s"}
    assert mismatches(state, now) == [
        "--distill-from is another network than the run's",
        "--content-weight was 0, now 15",
        "--style-weight was 0, now 0.05",
        "--vgg-path was none, now VGG16",
        "--start-from is another network than the run's",
    ]
