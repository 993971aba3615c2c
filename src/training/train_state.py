"""The training checkpoint directory (--checkpoint-dir):

    model.keras          the latest network, ready for evaluate.py (src/checkpoints.py)
    training_state.npz   everything a resumed run needs: the network's and Adam's variables,
                         the iteration (which fixes the position in the data, src/training/dataset.py),
                         and the settings that fix the network and the data order
    logs/                TensorBoard events (src/training/summaries.py)

Both files are written under a temporary name, synced and renamed into place, the state first:
a run killed at any moment leaves the previous pair, or a new state beside the previous model,
and either is complete. A resumed run reads only the state, so the two never need to agree.
A lock file keeps a second run from training into the same directory at the same time.
"""

import contextlib
import fcntl
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from src.atomic import atomic_path, remove_leftovers
from src.checkpoints import MODEL_FILENAME, save_model

STATE_FILENAME = "training_state.npz"
LOGS_DIRNAME = "logs"
_LOCK_FILENAME = ".lock"
_FORMAT = 1


class StateError(Exception):
    """A checkpoint directory that cannot be trained into or resumed from."""


@dataclass
class TrainingState:
    iteration: int  # steps done
    settings: dict  # what fixes the network and the data order: must match to resume
    model_weights: list = field(default_factory=list)  # the TransformNet's weights, in order
    optimizer_variables: list = field(default_factory=list)  # Adam's variables, in order


@contextlib.contextmanager
def locked(directory):
    """Create the directory if needed and hold its lock; StateError when another run holds it."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        lock = open(directory / _LOCK_FILENAME, "a+")
    except OSError as error:
        raise StateError(f"cannot create checkpoint directory {directory}: {error.strerror or error}") from None
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StateError(f"another style.py is training into {directory} right now") from None
        _remove_temporaries(directory)
        yield directory
    finally:
        lock.close()


def _remove_temporaries(directory):
    """What a killed run was writing when it died (never a finished file)."""
    remove_leftovers(directory / STATE_FILENAME)
    remove_leftovers(directory / MODEL_FILENAME, suffix=".keras")


def read_state(directory):
    """The directory's TrainingState, or None for a fresh directory; StateError otherwise."""
    directory = Path(directory)
    path = directory / STATE_FILENAME
    if not path.exists():
        if (directory / MODEL_FILENAME).exists():
            raise StateError(
                f"{directory} holds {MODEL_FILENAME} but no {STATE_FILENAME}, so training cannot resume "
                "there: use a new --checkpoint-dir"
            )
        return None
    try:
        # Opened here: np.load leaves a file it opened itself open when the zip is broken.
        with open(path, "rb") as handle, np.load(handle) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != _FORMAT:
                raise ValueError(f"unknown format {meta.get('format')}")
            model = [data[f"model_{i}"] for i in range(meta["model_weights"])]
            optimizer = [data[f"optimizer_{i}"] for i in range(meta["optimizer_variables"])]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise StateError(f"cannot resume from {path}: {error}; move it away to start again") from None
    return TrainingState(meta["iteration"], meta["settings"], model, optimizer)


# The recorded settings by the flag that sets each, so that a refused resume names what to pass.
_FLAGS = {
    "image_size": "--image-size",
    "batch_size": "--batch-size",
    "seed": "--seed",
    "width": "--width",
    "residual_blocks": "--residual-blocks",
    "styles": "--style",
    "style_layers": "--style-layers",
    "content_layer": "--content-layer",
    "temporal_weight": "--temporal-weight",
}
_LOSS_WEIGHT_FLAGS = ("--content-weight", "--style-weight", "--tv-weight")
# Settings recorded as fingerprints: what changed, in words, since the digits say nothing.
_FILES = {
    "style_images": "the --style images are other pictures than the run's, under the same names",
    "teacher": "--distill-from is another network than the run's",
    "start": "--start-from is another network than the run's",
}


def mismatches(state, settings):
    """The differences between a saved run's settings and this run's, each naming its flag. A
    setting the saved run did not record (written by an older version) is not compared."""
    changed = {name for name, value in settings.items() if name in state.settings and state.settings[name] != value}
    if "styles" in changed:
        changed.discard("style_images")  # other names say it already
    distilling = "teacher" in settings
    worded = (_worded(name, state.settings[name], settings[name], distilling) for name in settings if name in changed)
    return [text for texts in worded for text in texts]


def _worded(name, old, new, distilling):
    if name in _FILES:
        return [_FILES[name]]
    if name == "loss_network":  # "VGG16 <fingerprint>", or None for a distillation without one
        old, new = (value.split()[0] if value else "none" for value in (old, new))
        if old == new:
            return [f"--vgg-path holds other {new} weights than the run's"]
        return [f"--vgg-path was {old}, now {new}"]
    if name == "loss_weights":  # one per flag; a distillation records its texture weight only when not 0
        flags = ("--pixel-weight", "--content-weight", "--style-weight") if distilling else _LOSS_WEIGHT_FLAGS
        old, new = ([*weights, 0.0, 0.0][: len(flags)] for weights in (old, new))
        return [f"{flag} was {_value(a)}, now {_value(b)}" for flag, a, b in zip(flags, old, new) if a != b]
    return [f"{_FLAGS.get(name, name)} was {_value(old)}, now {_value(new)}"]


def _value(value):
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return " ".join(map(_value, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def write_checkpoint(directory, state, model):
    """Write the state, then model.keras, each atomically (see the module docstring)."""
    directory = Path(directory)
    meta = {
        "format": _FORMAT,
        "iteration": state.iteration,
        "settings": state.settings,
        "model_weights": len(state.model_weights),
        "optimizer_variables": len(state.optimizer_variables),
    }
    arrays = {f"model_{i}": w for i, w in enumerate(state.model_weights)}
    arrays.update({f"optimizer_{i}": v for i, v in enumerate(state.optimizer_variables)})
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(meta)), **arrays)
    with _naming_errors(directory / STATE_FILENAME), atomic_path(directory / STATE_FILENAME) as temporary:
        temporary.write_bytes(buffer.getvalue())
    with _naming_errors(directory / MODEL_FILENAME):
        save_model(model, directory / MODEL_FILENAME)


@contextlib.contextmanager
def _naming_errors(path):
    """A full disk says only "No space left on device": name the file it was writing."""
    try:
        yield
    except OSError as error:
        raise OSError(error.errno, error.strerror or str(error), str(path)) from None
