"""Which library runs a whole-image forward pass (`--engine`): TensorFlow, or OpenVINO where it
is installed (`bash setup.sh --openvino`), which runs the same compiled function, converted from
TensorFlow's graph with the same weights and constants. Tiles (src/tiling.py) always run on
TensorFlow: their passes read and write whole-image buffers between layers.

`auto` picks OpenVINO on the CPU wherever it is installed: it was measured faster than
TensorFlow in float32 (AVX2) and in bfloat16 (AVX512-BF16 and AMX), with the same pictures
(bench/README.md). On GPUs and other Keras backends `auto` is the backend itself. OpenVINO
converts the float32 graph and applies bfloat16 itself.

OpenVINO models are compiled for fixed shapes (one per image size, kept for the run). Both the
converted model (keyed by a hash of the checkpoint file and style weights, or of the weights
and constants, and of the code that builds the graph) and OpenVINO's compiled kernels are
cached on disk (FST_CACHE_DIR, default ~/.cache/fast-style-transfer), so a second run skips
TensorFlow's tracing and the conversion, and, for a checkpoint given by its file, never
imports TensorFlow at all.
"""

import functools
import hashlib
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np

ENGINES = ("auto", "tensorflow", "openvino")
# OpenVINO's own number formats for our precisions: bfloat16 runs only where the CPU has it.
_OPENVINO_PRECISION = {"float32": "f32", "bfloat16": "bf16"}
# The modules whose code builds the converted graph: a change to any names a new cached model.
GRAPH_MODULES = ("inference.py", "pixel_blocks.py", "transform.py", "engines.py", "stylize.py", "checkpoints.py")


class EngineError(Exception):
    """An engine that cannot run here; the message says why and what to do."""


def openvino_installed():
    return importlib.util.find_spec("openvino") is not None


def resolve_engine(engine="auto", device="auto"):
    """"auto" | "tensorflow" | "openvino" -> the engine to run; EngineError for OpenVINO where
    it cannot run (not installed, another Keras backend, a GPU asked for, ONEDNN_MAX_CPU_ISA set)."""
    if engine not in ENGINES:
        raise EngineError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    from src.devices import gpu_compute_capabilities, keras_backend, onednn_isa_cap, parse_device

    chosen = parse_device(device)
    on_cpu = (chosen is not None and chosen[0] == "cpu") or not gpu_compute_capabilities()
    usable = openvino_installed() and keras_backend() == "tensorflow" and on_cpu and not onednn_isa_cap()
    if engine == "auto":
        return "openvino" if usable else "tensorflow"
    if engine == "openvino" and not usable:
        if not openvino_installed():
            raise EngineError("OpenVINO is not installed: bash setup.sh --openvino (or pip install openvino)")
        if keras_backend() != "tensorflow":
            raise EngineError("the OpenVINO engine converts TensorFlow's graph: use KERAS_BACKEND=tensorflow")
        if onednn_isa_cap():
            # OpenVINO's own kernels keep the CPU's instruction set, and the mismatch ends in a
            # segmentation fault on inference (AVX2 on an AVX-512 CPU; openvinotoolkit/openvino#36980).
            raise EngineError(
                f"ONEDNN_MAX_CPU_ISA={onednn_isa_cap()} caps the oneDNN inside OpenVINO but not OpenVINO's own "
                "kernels, and the two together crash: unset it, or use --engine tensorflow"
            )
        raise EngineError("the OpenVINO engine runs on the CPU: use --device cpu")
    return engine


def import_openvino():
    """The openvino module, without its usage telemetry. `import openvino` otherwise reports to
    Google Analytics (the openvino-telemetry package, on unless the user has opted out) from a
    process forked off a thread, which, offline, can hang the exit of the whole run; a package
    that cannot be imported makes OpenVINO's converter use its own no-op stub instead."""
    sys.modules.setdefault("openvino_telemetry", None)
    import openvino

    return openvino


def cache_dir():
    return Path(os.environ.get("FST_CACHE_DIR") or Path.home() / ".cache" / "fast-style-transfer")


def graph_key(arrays):
    """A hash naming a converted graph: its arrays (weights, constants), OpenVINO's version and
    the source of the modules that build the graph, so that a change to any gives a new file."""
    digest = hashlib.sha256(import_openvino().__version__.encode())
    for module in GRAPH_MODULES:
        digest.update((Path(__file__).parent / module).read_bytes())
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:32]


@functools.cache
def _core():
    """The process's one OpenVINO Core, as OpenVINO recommends. Each Core makes its own CPU
    plugin, which sets an alternate signal stack on the thread that compiles first and, when
    destroyed, puts back the stack it found there: Cores dropped in another order than they were
    made leave a freed stack in place, and the next signal handled (Ctrl-C) crashed the process."""
    return import_openvino().Core()


class OpenVinoForward:
    """images (B, H, W, 3) float32 -> numpy (B, H, W, 3): a TensorFlow concrete function (the
    forward pass of src/stylize.py, with its constants; `make_function` builds it) converted
    once, or read from the cache under `key`, and compiled per shape; `fallback()` gives
    TensorFlow's own forward pass, for a CPU where OpenVINO cannot compile the network."""

    def __init__(self, make_function, precision, fallback, key=None):
        self._ov = import_openvino()
        self.core = _core()
        self.config = {"INFERENCE_PRECISION_HINT": _OPENVINO_PRECISION[precision]}
        self._compiled, self._fallback, self.instead = {}, fallback, None
        folder = cache_dir() / "openvino"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.config["CACHE_DIR"] = str(folder)
        except OSError:  # a read-only home: compile every time instead
            folder = None
        try:
            self.model = self._converted(make_function, folder / f"{key}.xml" if folder and key else None)
        except RuntimeError as error:
            self._give_up(error)

    def _converted(self, make_function, path):
        """The OpenVINO model: read from `path` when an earlier run saved it, else converted
        from TensorFlow and saved there (.xml and .bin renamed into place, the .xml last, so a
        crash never leaves a half model under the name)."""
        if path is not None and path.exists():
            try:
                return self.core.read_model(str(path))
            except RuntimeError:  # damaged: convert again below
                pass
        model = self._ov.convert_model(make_function())
        if path is not None:
            temporary = path.with_name(f".{path.stem}.{os.getpid()}.xml")
            try:
                self._ov.save_model(model, str(temporary), compress_to_fp16=False)
                os.replace(temporary.with_suffix(".bin"), path.with_suffix(".bin"))
                os.replace(temporary, path)
            except (OSError, RuntimeError):  # a full or read-only disk: run without the cache
                for leftover in (temporary, temporary.with_suffix(".bin")):
                    leftover.unlink(missing_ok=True)
        return model

    def __call__(self, images):
        images = np.ascontiguousarray(images, np.float32)
        if self.instead is not None:
            return self.instead(images)
        shape = images.shape
        if shape not in self._compiled:
            model = self.model.clone()
            model.reshape({model.inputs[0]: self._ov.PartialShape(list(shape))})
            try:
                self._compiled[shape] = self.core.compile_model(model, "CPU", self.config)
            except RuntimeError as error:
                self._give_up(error)
                return self.instead(images)
        compiled = self._compiled[shape]
        return np.asarray(compiled(images)[compiled.outputs[0]])

    def _give_up(self, error):
        """OpenVINO cannot convert or compile the network on this CPU (its oneDNN lacking a
        kernel, say): `fallback()`, TensorFlow's forward pass, runs instead, said once, rather
        than a traceback."""
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = (lines[-1] if lines else type(error).__name__).split(". ")[0].rstrip(".")
        print(f"note: OpenVINO cannot run this network here ({reason}); TensorFlow runs it instead", file=sys.stderr)
        self.instead = self._fallback()
