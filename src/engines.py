"""Which library runs a whole-image forward pass (`--engine`): TensorFlow, or OpenVINO where it
is installed (`bash setup.sh --openvino`), which runs the same compiled function, converted from
TensorFlow's graph with the same weights and constants. Tiles (src/tiling.py) always run on
TensorFlow: their passes read and write whole-image buffers between layers.

`auto` picks OpenVINO on CPUs without AMX, where it was measured faster than TensorFlow in
both float32 and bfloat16 (bench/README.md), and TensorFlow elsewhere: on AMX, TensorFlow's
bfloat16 path (OpenVINO not measured there); on GPUs and other Keras backends, the backend
itself. OpenVINO converts the float32 graph and applies bfloat16 itself.

OpenVINO models are compiled for fixed shapes (one per image size, kept for the run), and its
compiled kernels are cached on disk (FST_CACHE_DIR, default ~/.cache/fast-style-transfer), so a
second run starts fast.
"""

import importlib.util
import os
from pathlib import Path

import numpy as np

ENGINES = ("auto", "tensorflow", "openvino")
# OpenVINO's own number formats for our precisions: bfloat16 runs only where the CPU has it.
_OPENVINO_PRECISION = {"float32": "f32", "bfloat16": "bf16"}


class EngineError(Exception):
    """An engine that cannot run here; the message says why and what to do."""


def openvino_installed():
    return importlib.util.find_spec("openvino") is not None


def resolve_engine(engine="auto", device="auto"):
    """"auto" | "tensorflow" | "openvino" -> the engine to run; EngineError for OpenVINO where
    it cannot run (not installed, another Keras backend, a GPU asked for)."""
    if engine not in ENGINES:
        raise EngineError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    import keras

    from src.devices import cpu_flags, gpu_compute_capabilities, parse_device

    chosen = parse_device(device)
    on_cpu = (chosen is not None and chosen[0] == "cpu") or not gpu_compute_capabilities()
    usable = openvino_installed() and keras.backend.backend() == "tensorflow" and on_cpu
    if engine == "auto":
        return "openvino" if usable and "amx_bf16" not in cpu_flags() else "tensorflow"
    if engine == "openvino" and not usable:
        if not openvino_installed():
            raise EngineError("OpenVINO is not installed: bash setup.sh --openvino (or pip install openvino)")
        if keras.backend.backend() != "tensorflow":
            raise EngineError("the OpenVINO engine converts TensorFlow's graph: use KERAS_BACKEND=tensorflow")
        raise EngineError("the OpenVINO engine runs on the CPU: use --device cpu")
    return engine


def cache_dir():
    return Path(os.environ.get("FST_CACHE_DIR") or Path.home() / ".cache" / "fast-style-transfer")


class OpenVinoForward:
    """images (B, H, W, 3) float32 -> numpy (B, H, W, 3): a TensorFlow concrete function (the
    forward pass of src/stylize.py, with its constants) converted once, compiled per shape."""

    def __init__(self, concrete_function, precision):
        import openvino as ov

        self._ov = ov
        self.core = ov.Core()
        folder = cache_dir() / "openvino"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.core.set_property({"CACHE_DIR": str(folder)})
        except (OSError, RuntimeError):  # a read-only home: compile every time instead
            pass
        self.model = ov.convert_model(concrete_function)
        self.config = {"INFERENCE_PRECISION_HINT": _OPENVINO_PRECISION[precision]}
        self._compiled = {}

    def __call__(self, images):
        images = np.ascontiguousarray(images, np.float32)
        shape = images.shape
        if shape not in self._compiled:
            model = self.model.clone()
            model.reshape({model.inputs[0]: self._ov.PartialShape(list(shape))})
            self._compiled[shape] = self.core.compile_model(model, "CPU", self.config)
        compiled = self._compiled[shape]
        return np.asarray(compiled(images)[compiled.outputs[0]])
