"""--device: which processor runs the network, in the original's spelling ('/gpu:0', '/cpu:0')
or short ('gpu', 'cpu:0', 'auto'), on whichever Keras backend is active."""

import contextlib
import json
import os
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


def cpu_flags():
    """The CPU's feature flags as Linux reports them; empty elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def keras_backend():
    """The Keras backend's name, read as Keras reads it (KERAS_BACKEND, else keras.json under
    KERAS_HOME or ~/.keras, else TensorFlow) while Keras is not imported yet: importing it
    imports the backend, seconds of a short run that a cached OpenVINO model does not need."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as f:
            return json.load(f).get("backend") or "tensorflow"
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def nvidia_driver_present():
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia")


def gpu_compute_capabilities():
    """[(major, minor)] of the NVIDIA GPUs the active Keras backend sees; [] without any."""
    backend = keras_backend()
    if backend == "tensorflow":
        if not nvidia_driver_present():
            return []  # TensorFlow's GPUs are CUDA's: none without the driver (no import to learn it)
        import tensorflow as tf

        details = [tf.config.experimental.get_device_details(gpu) for gpu in tf.config.list_physical_devices("GPU")]
        return [tuple(d.get("compute_capability", (0, 0))) for d in details]
    if backend == "jax":
        import jax

        try:
            gpus = jax.devices("gpu")
        except RuntimeError:
            return []
        return [tuple(int(part) for part in str(g.compute_capability).split(".")[:2]) for g in gpus]
    return []


# /proc/cpuinfo flags of CPUs with bfloat16 instructions: AMX tiles, or AVX512-BF16 alone.
BFLOAT16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
# oneDNN's names (ONEDNN_MAX_CPU_ISA) of the instruction sets below bfloat16's: a cap at one of
# them keeps oneDNN from the CPU's bfloat16 instructions.
_ISAS_WITHOUT_BFLOAT16 = frozenset(
    {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"}
)


def onednn_isa_cap():
    """ONEDNN_MAX_CPU_ISA's value where it caps the instruction set oneDNN uses, else ""."""
    value = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    return "" if value in ("", "ALL", "DEFAULT") else value


def onednn_below_bfloat16():
    """Whether ONEDNN_MAX_CPU_ISA caps oneDNN below the bfloat16 instructions: on a CPU that has
    them, TensorFlow then has no bfloat16 convolution at all."""
    return onednn_isa_cap() in _ISAS_WITHOUT_BFLOAT16


def cpu_bfloat16():
    """Whether oneDNN may run bfloat16 on this CPU's own instructions."""
    return bool(BFLOAT16_FLAGS & cpu_flags()) and not onednn_below_bfloat16()


def onednn_off():
    """TensorFlow's oneDNN kernels turned off (TF_ENABLE_ONEDNN_OPTS=0, which TensorFlow's own
    start-up notice suggests): its bfloat16 convolutions are then emulated, slower than float32
    even on a CPU with bfloat16 instructions (bench/README.md)."""
    setting = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower()
    return setting in ("0", "false") and keras_backend() == "tensorflow"


def fast_cpu_bfloat16(engine="tensorflow"):
    """Whether bfloat16 convolutions pay on this CPU, run by `engine` (src/engines.py)."""
    return cpu_bfloat16() and (engine == "openvino" or not onednn_off())


TRAINING_PRECISIONS = ("auto", "float32", "mixed_bfloat16")


def resolve_training_precision(precision="auto"):
    """"auto" -> "mixed_bfloat16" where bfloat16 arithmetic makes training faster, else "float32".

    Mixed bfloat16 (convolutions in bfloat16; weights, instance-norm statistics and losses in
    float32) pays on NVIDIA GPUs of compute capability 8.0 and newer (A100, H100, RTX 30xx and
    later) and on CPUs with bfloat16 instructions: AMX, and also AVX512-BF16 alone, where the
    training step's large convolutions gain though inference does not (bench/README.md).
    Older GPUs and CPUs only emulate bfloat16 and stay float32.
    """
    if precision not in TRAINING_PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(TRAINING_PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    gpus = gpu_compute_capabilities()
    fast = all(capability >= (8, 0) for capability in gpus) if gpus else fast_cpu_bfloat16()
    return "mixed_bfloat16" if fast else "float32"


# The convolutions' number format at inference (--precision of evaluate.py, transform_video.py).
PRECISIONS = ("auto", "float32", "bfloat16")


def resolve_precision(precision="auto", device="auto", engine="tensorflow"):
    """The precision to run on `engine`: "auto" becomes "bfloat16" where that is both fast and
    faithful, else "float32"; "bfloat16" on a CPU that cannot run it is a ValueError.

    bfloat16 convolutions pay where the CPU has bfloat16 instructions: AMX tiles (Intel Sapphire
    Rapids and later) and AVX512-BF16 (AMD Zen 4 and later), both measured faster than float32
    and faithful to the original's output (no visible difference; bench/README.md). Without them
    (AVX2, AVX-512 alone) bfloat16 is emulated and slower, or has no convolution at all. GPUs
    keep float32, the precision the original ran at.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "float32":
        return precision
    if keras_backend() != "tensorflow":
        return "float32" if precision == "auto" else precision
    chosen = parse_device(device)
    on_cpu = (chosen is not None and chosen[0] == "cpu") or not gpu_compute_capabilities()
    if precision == "bfloat16":
        if on_cpu and not BFLOAT16_FLAGS & cpu_flags():
            raise ValueError("this CPU has no bfloat16 instructions (avx512_bf16 or amx_bf16): use --precision float32")
        if on_cpu and onednn_below_bfloat16():
            raise ValueError(
                f"ONEDNN_MAX_CPU_ISA={onednn_isa_cap()} keeps oneDNN from this CPU's bfloat16 instructions: "
                "use --precision float32, or unset it"
            )
        return precision
    return "bfloat16" if on_cpu and fast_cpu_bfloat16(engine) else "float32"
