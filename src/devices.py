"""--device: which processor runs the network, in the original's spelling ('/gpu:0', '/cpu:0')
or short ('gpu', 'cpu:0', 'auto'), on whichever Keras backend is active."""

import contextlib
import re
import sys

_PATTERN = re.compile(r"^/?(?:device:)?(cpu|gpu)(?::(\d+))?$", re.IGNORECASE)


def parse_device(text):
    """'auto' | '/gpu:0' | 'cpu' ... -> None (auto) or (kind, index); ValueError otherwise."""
    if text.strip().lower() == "auto":
        return None
    match = _PATTERN.match(text.strip())
    if not match:
        raise ValueError(f"invalid device {text!r}: use auto, cpu, gpu, /cpu:0 or /gpu:N")
    return match.group(1).lower(), int(match.group(2) or 0)


def device_scope(text):
    """A context manager placing computation on the device; a GPU that is not there falls back
    to the CPU with a note, as the original's soft placement did."""
    device = parse_device(text)
    if device is None:
        return contextlib.nullcontext()
    kind, index = device
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        available = tf.config.list_logical_devices(kind.upper())
        if index >= len(available):
            _note_fallback(kind, index, len(available))
            return tf.device("/CPU:0")
        return tf.device(f"/{kind.upper()}:{index}")
    if backend == "jax":
        import jax

        try:
            available = jax.devices(kind)
        except RuntimeError:
            available = []
        if index >= len(available):
            _note_fallback(kind, index, len(available))
            return jax.default_device(jax.devices("cpu")[0])
        return jax.default_device(available[index])
    return contextlib.nullcontext()


def _note_fallback(kind, index, count):
    print(f"note: no {kind.upper()} {index} here ({count} found); running on the CPU", file=sys.stderr)
