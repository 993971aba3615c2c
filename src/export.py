"""Exports for other runtimes: TensorFlow SavedModel, TFLite (mobile) and ONNX.

Every export has the same contract, whatever the runtime:
- input `images`: float32 RGB 0..255, shape [1, H, W, 3], any H and W unless `size` fixes them;
- input `style_weights` (multi-style networks only): float32 [1, S], mixing ratios (normalised
  to sum 1 inside; [1, 0, ...] is the first style);
- output `stylized`: float32 RGB 0..255 of the same size, clipped, i.e. what evaluate.py writes
  before rounding to 8 bits.

All of it needs TensorFlow (the converters are TensorFlow's and tf2onnx), so it stays here, at
the edge; the project's own .keras format is written by src/checkpoints.py.
"""

import re
import tempfile
from pathlib import Path

from src.atomic import atomic_path
from src.errors import first_line

FORMATS = ("keras", "savedmodel", "tflite", "onnx")
ONNX_OPSET = 17


class ExportError(Exception):
    """An export that cannot be made here; the message says why and what to do."""


def export(model, fmt, path, size=None):
    """Write `model` to `path` in format `fmt`; `size` (H, W) fixes the input size."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "keras":
        from src.checkpoints import save_model

        save_model(model, path)
    elif fmt == "savedmodel":
        with atomic_path(path) as temporary:
            _write_savedmodel(model, temporary, size)
    elif fmt == "tflite":
        data = _tflite_bytes(model, size)
        with atomic_path(path) as temporary:
            temporary.write_bytes(data)
    elif fmt == "onnx":
        data = _onnx_bytes(model, size)
        with atomic_path(path) as temporary:
            temporary.write_bytes(data)
    else:
        raise ExportError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def input_signature(model, size=None):
    import tensorflow as tf

    height, width = size or (None, None)
    signature = [tf.TensorSpec([1, height, width, 3], tf.float32, name="images")]
    if model.num_styles > 1:
        signature.append(tf.TensorSpec([1, model.num_styles], tf.float32, name="style_weights"))
    return signature


def serving_function(model, size=None):
    """The exported computation, as a tf.function with named inputs and a named output."""
    import tensorflow as tf

    # autograph off: the network has no Python control flow to convert, and AutoGraph cannot
    # read the source of some callables (lambdas), which only produces warnings.
    if model.num_styles > 1:

        @tf.function(input_signature=input_signature(model, size), autograph=False)
        def serve(images, style_weights):
            return {"stylized": tf.clip_by_value(model(images, style_weights=style_weights), 0.0, 255.0)}

    else:

        @tf.function(input_signature=input_signature(model, size), autograph=False)
        def serve(images):
            return {"stylized": tf.clip_by_value(model(images), 0.0, 255.0)}

    return serve


def _write_savedmodel(model, directory, size):
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", serving_function(model, size))
    try:
        archive.write_out(str(directory), verbose=False)
    except tf.errors.OpError as error:
        # TensorFlow's own file writes fail with these, not OSError, as "{{function_node ...}}
        # <file>; No space left on device [Op:SaveV2]": the reason is the last part.
        raise OSError(re.sub(r"\s*\[Op:\w+\]$", "", first_line(error)).rsplit("; ", 1)[-1]) from None


def _tflite_bytes(model, size):
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as directory:
        _write_savedmodel(model, directory, size)
        converter = tf.lite.TFLiteConverter.from_saved_model(directory, signature_keys=["serve"])
        return converter.convert()


def _onnx_bytes(model, size):
    try:
        import tf2onnx
    except ImportError:
        raise ExportError("ONNX export needs tf2onnx: pip install tf2onnx (and onnxruntime to run the result)") from None
    proto, _ = tf2onnx.convert.from_function(
        serving_function(model, size), input_signature=input_signature(model, size), opset=ONNX_OPSET
    )
    _rename_output(proto, "stylized")
    return proto.SerializeToString()


def _rename_output(proto, name):
    """tf2onnx names the output after the graph tensor ('Identity:0'); give it the contract's name."""
    old = proto.graph.output[0].name
    proto.graph.output[0].name = name
    for node in proto.graph.node:
        node.output[:] = [name if output == old else output for output in node.output]
