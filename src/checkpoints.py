"""Checkpoints: the project's own model files, and the original's TF1 checkpoints.

Forms `load_model` accepts, recognised by content rather than by name:
- ours: a `.keras` file (a zip holding the TransformNet's config and weights), or a training
  checkpoint directory written by style.py, which always holds a ready `model.keras`;
- the original's: a single-file V1 `.ckpt` (its published models), a V2 prefix (`fns.ckpt`, with
  `fns.ckpt.index` and `fns.ckpt.data-*` beside it; the `.index`/`.data`/`.meta` names work too),
  or the directory its style.py wrote them into, with a `checkpoint` state file.
export.py's outputs for other runtimes (SavedModel, TFLite, ONNX) are refused by name, with the
way back to the model they came from.

The original's 48 variables are named Variable, Variable_1 ... Variable_47 in creation order:
for each of the 16 convolutions, the kernel, then the instance norm's shift, then its scale.
Reading them needs TensorFlow, and only that function imports it.

`Checkpoint` names a checkpoint without loading it: its styles and a digest of its bytes, so
that the OpenVINO engine can run a model it converted before without importing TensorFlow.
"""

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from src.atomic import atomic_path
from src.errors import first_line
from src.wording import counted, some_names

# What a training checkpoint directory holds for evaluate.py and transform_video.py.
MODEL_FILENAME = "model.keras"
ORIGINAL_VARIABLES = ["Variable"] + [f"Variable_{i}" for i in range(1, 48)]

_ZIP_MAGIC = b"PK\x03\x04"
# The footer magic of a LevelDB-style table: TF1 V1 checkpoints and V2 .index files are such tables.
_TF_TABLE_MAGIC = bytes.fromhex("57fb808b247547db")
_TF_SUFFIX = re.compile(r"\.(index|meta|data-\d{5}-of-\d{5})$")
# A TFLite flatbuffer names its schema in bytes 4 to 8.
_TFLITE_MAGIC = b"TFL3"


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message says which file and what is wrong."""


def load_model(path):
    """Any accepted checkpoint form -> a built TransformNet."""
    kind, location = locate(path)
    if kind == "keras":
        return _load_keras(location)
    return model_from_original(read_original(location), style_name=_style_name(path))


def locate(path):
    """path -> ("keras", file) or ("tf", prefix), or CheckpointError saying what is wrong."""
    path = Path(path)
    if path.is_dir():
        if (path / MODEL_FILENAME).is_file():
            return "keras", path / MODEL_FILENAME
        if kind := _exported(path):
            raise _export_error(path, kind)
        return "tf", _tf_prefix_in_dir(path)
    if path.is_file():
        with open(path, "rb") as f:
            head = f.read(8)
            f.seek(max(path.stat().st_size - 8, 0))
            tail = f.read(8)
        if head[:4] == _ZIP_MAGIC:
            return "keras", path
        if kind := _exported(path, head):
            raise _export_error(path, kind)
        prefix = path.with_name(_TF_SUFFIX.sub("", path.name))
        if prefix != path and Path(f"{prefix}.index").is_file():
            return "tf", str(prefix)
        if tail == _TF_TABLE_MAGIC:
            return "tf", str(path)
        raise CheckpointError(
            f"{path} is not a checkpoint: it is neither a .keras model nor a TensorFlow checkpoint"
            + (" (it looks cut short)" if path.suffix in (".ckpt", ".keras") else "")
        )
    if Path(str(path) + ".index").is_file():
        return "tf", str(path)
    raise CheckpointError(f"checkpoint {path} does not exist")


def _exported(path, head=b""):
    """What export.py wrote for other runtimes ("a SavedModel", "a TFLite model", "an ONNX
    model"), from a directory or a file's first bytes `head`; None for anything else."""
    if path.is_dir():
        return "a SavedModel" if (path / "saved_model.pb").is_file() else None
    if head[4:8] == _TFLITE_MAGIC:
        return "a TFLite model"
    return "an ONNX model" if path.suffix.lower() == ".onnx" else None


def _export_error(path, kind):
    # An export holds a graph for its runtime, not the network's config: it cannot be read back.
    return CheckpointError(
        f"{path} is {kind} exported for other runtimes (export.py): "
        "give the .keras model or checkpoint it was exported from"
    )


def _tf_prefix_in_dir(directory):
    """The checkpoint a directory's `checkpoint` state file names, else its only checkpoint."""
    state = directory / "checkpoint"
    if state.is_file():
        match = re.search(r'^model_checkpoint_path:\s*"(.*)"', state.read_text(errors="replace"), re.M)
        if match:
            named = Path(match.group(1))
            # The original wrote whatever path it was given, often absolute on the training
            # machine: look beside the state file when that path is gone.
            for prefix in (named, directory / named, directory / named.name):
                if Path(str(prefix) + ".index").is_file() or prefix.is_file():
                    return str(prefix)
            raise CheckpointError(f"{state} names checkpoint {named}, which is not in {directory}")
    candidates = sorted({str(p)[: -len(".index")] for p in directory.glob("*.index")})
    candidates += sorted(str(p) for p in directory.glob("*.ckpt") if p.is_file())
    if len(candidates) == 1:
        return candidates[0]
    models = sorted(p for p in directory.glob("*.keras") if p.is_file())
    if not candidates and models:  # a folder of models, examples/models/ say: one is meant
        raise CheckpointError(f"{directory} is a folder of {counted(len(models), 'model')} ({some_names(models, 4)}): give one of them")
    if not candidates:
        raise CheckpointError(
            f"{directory} holds no checkpoint: expected {MODEL_FILENAME} (written by style.py) "
            "or a TensorFlow checkpoint (a 'checkpoint' state file, *.index or *.ckpt)"
        )
    names = ", ".join(Path(c).name for c in candidates)
    raise CheckpointError(f"{directory} holds several checkpoints ({names}): pass one of them")


def _style_name(path):
    path = Path(path)
    name = path.name if path.is_dir() else _TF_SUFFIX.sub("", path.name)
    return re.sub(r"\.(ckpt|keras)$", "", name) or "style"


class Checkpoint:
    """A checkpoint, checked and described but loaded only when `model()` is first called: its
    styles (num_styles, style_names) and width, as a TransformNet has them (from a .keras file's
    config; the original's hold one style each, named after the file, at width 1), and `digest`,
    a hash of its bytes. load: path -> TransformNet (default `load_model`)."""

    def __init__(self, path, load=None):
        self.path = path
        kind, location = locate(path)
        if kind == "keras":
            self.num_styles, self.style_names, self.width = _keras_description(location)
            files = [Path(location)]
        else:
            self.num_styles, self.style_names, self.width = 1, [_style_name(path)], 1.0
            files = [Path(location)] if Path(location).is_file() else sorted(Path(location).parent.glob(f"{Path(location).name}.*"))
        digest = hashlib.sha256()
        for file in files:
            digest.update(file.read_bytes())
        self.digest = digest.hexdigest()
        self._load, self._model = load or load_model, None

    def default_style_weights(self):
        """The first style alone, as TransformNet's."""
        return [1.0] + [0.0] * (self.num_styles - 1)

    def model(self):
        """The TransformNet, loaded on the first call."""
        if self._model is None:
            self._model = self._load(self.path)
        return self._model


def _keras_description(path):
    """A .keras file's (num_styles, style_names, width) from its config, without Keras."""
    import zipfile

    _check_zip(path)
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (KeyError, ValueError, zipfile.BadZipFile, OSError) as error:
        raise CheckpointError(f"cannot read {path}: {first_line(error)}") from error
    if not isinstance(config, dict) or config.get("class_name") != "TransformNet":
        kind = config.get("class_name") if isinstance(config, dict) else None
        raise CheckpointError(f"{path} is a Keras model but not a style transfer network ({kind})")
    settings = config.get("config") or {}
    count = int(settings.get("num_styles", 1))
    names = list(settings.get("style_names") or [f"style_{i}" for i in range(count)])
    return count, names, float(settings.get("width", 1.0))


def _check_zip(path):
    damage = _zip_damage(path)
    if damage:
        raise CheckpointError(f"{path} is damaged or cut short ({damage}): copy or train it again")


def _load_keras(path):
    import keras

    from src.transform import TransformNet

    _check_zip(path)
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # zipfile, h5py and Keras raise many types for a damaged file
        raise CheckpointError(f"cannot read {path}: {first_line(error)}") from error
    if not isinstance(model, TransformNet):
        raise CheckpointError(f"{path} is a Keras model but not a style transfer network ({type(model).__name__})")
    return model


def _zip_damage(path):
    """What is wrong with a .keras file's zip container, or None: Keras itself reports a cut
    file as 'File not found'."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        return first_line(error)
    return f"{bad} fails its checksum" if bad else None


def save_model(model, path):
    """Write a TransformNet as a .keras file, atomically: a crash leaves the old file or none."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"model files end in .keras, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".keras") as temporary:
        model.save(temporary)


def original_shapes():
    """The shapes of Variable ... Variable_47, from the network itself."""
    from src.transform import build_transform_net

    shapes = []
    for block in build_transform_net().layers_in_order():
        channels = block.filters
        shapes += [tuple(block.conv.kernel.shape), (channels,), (channels,)]
    return shapes


def read_original(prefix):
    """A TF1 checkpoint (V1 file or V2 prefix) -> its 48 arrays in creation order, validated."""
    try:
        import tensorflow as tf
    except ImportError as error:
        raise CheckpointError(
            f"reading the original's TF1 checkpoint {prefix} needs TensorFlow; convert it once with "
            "`python export.py --format keras` on a machine that has it"
        ) from error
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        shapes = reader.get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError) as error:
        raise CheckpointError(f"cannot read TensorFlow checkpoint {prefix}: {first_line(error)}") from error
    missing = [name for name in ORIGINAL_VARIABLES if name not in shapes]
    if missing:
        found = ", ".join(sorted(shapes)[:5]) or "nothing"
        raise CheckpointError(
            f"{prefix} is a TensorFlow checkpoint but not of the style transfer network: it lacks "
            f"{len(missing)} of its 48 variables ({', '.join(missing[:3])}...); it has {found}"
        )
    for name, expected in zip(ORIGINAL_VARIABLES, original_shapes()):
        if tuple(shapes[name]) != expected:
            raise CheckpointError(
                f"{prefix} is not a checkpoint of the style transfer network: {name} has shape "
                f"{list(shapes[name])} where the network needs {list(expected)}"
            )
    try:
        return [np.asarray(reader.get_tensor(name), dtype=np.float32) for name in ORIGINAL_VARIABLES]
    except tf.errors.OpError as error:
        raise CheckpointError(f"cannot read TensorFlow checkpoint {prefix}: {first_line(error)}") from error


def model_from_original(arrays, style_name="style"):
    """48 arrays in the original's order -> a single-style TransformNet holding them."""
    from src.transform import build_transform_net

    model = build_transform_net(num_styles=1, style_names=[style_name])
    blocks = model.layers_in_order()
    for block, (kernel, shift, scale) in zip(blocks, zip(*[iter(arrays)] * 3)):
        block.conv.kernel.assign(kernel)
        block.norm.shift.assign(shift[None, :])
        block.norm.scale.assign(scale[None, :])
    return model
