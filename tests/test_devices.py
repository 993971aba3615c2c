"""--device and the precision choices: what each CPU class and GPU gets."""

import pytest

from src import devices


def test_auto_precision_follows_the_cpu(monkeypatch):
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)  # its effect has a test of its own
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)  # so has this one's
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx2", "amx_bf16"})
    assert devices.resolve_precision("auto", "cpu") == "bfloat16"
    assert devices.resolve_precision("bfloat16", "cpu") == "bfloat16"
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx2", "avx512f", "avx512_bf16"})  # AMD Zen 4 and later
    assert devices.resolve_precision("auto", "cpu") == "bfloat16"
    assert devices.resolve_precision("bfloat16", "cpu") == "bfloat16"
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx2", "avx512f"})  # AVX-512 alone emulates bfloat16
    assert devices.resolve_precision("auto", "cpu") == "float32"
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx2"})
    with pytest.raises(ValueError, match="no bfloat16 instructions"):
        devices.resolve_precision("bfloat16", "cpu")
    assert devices.resolve_precision("float32", "cpu") == "float32"
    with pytest.raises(ValueError, match="precision"):
        devices.resolve_precision("float16")


def test_auto_precision_is_float32_where_tensorflow_runs_without_onednn(monkeypatch):
    # TF_ENABLE_ONEDNN_OPTS=0 leaves TensorFlow's bfloat16 convolutions emulated, slower than
    # float32 (bench/README.md); OpenVINO has its own kernels.
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx2", "avx512f", "avx512_bf16"})
    monkeypatch.setattr(devices, "gpu_compute_capabilities", lambda: [])
    for setting, expected in (("0", "float32"), ("False", "float32"), ("1", "bfloat16"), ("", "bfloat16")):
        monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", setting)
        assert devices.resolve_precision("auto", "cpu") == expected
        assert devices.resolve_precision("auto", "cpu", "openvino") == "bfloat16"
        assert devices.resolve_precision("bfloat16", "cpu") == "bfloat16"  # asked for: as asked
        training = "mixed_bfloat16" if expected == "bfloat16" else "float32"
        assert devices.resolve_training_precision("auto") == training


def test_a_cap_on_onednn_below_bfloat16_makes_auto_float32_and_refuses_bfloat16(monkeypatch):
    # ONEDNN_MAX_CPU_ISA=AVX2 on a CPU with bfloat16: TensorFlow has no bfloat16 convolution then.
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    monkeypatch.setattr(devices, "gpu_compute_capabilities", lambda: [])
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx2", "avx512f", "avx512_bf16"})
    for cap, expected in (("avx2", "float32"), ("AVX512_CORE", "float32"), ("AVX512_CORE_BF16", "bfloat16"),
                          ("AVX512_CORE_AMX", "bfloat16"), ("ALL", "bfloat16"), ("", "bfloat16")):  # fmt: skip
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
        assert devices.resolve_precision("auto", "cpu") == expected
        assert devices.resolve_training_precision("auto") == ("mixed_bfloat16" if expected == "bfloat16" else "float32")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    with pytest.raises(ValueError, match="ONEDNN_MAX_CPU_ISA=AVX2 keeps oneDNN from this CPU's bfloat16 instructions"):
        devices.resolve_precision("bfloat16", "cpu")
    assert devices.resolve_precision("float32", "cpu") == "float32"


def test_training_precision_auto(monkeypatch):
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)  # its effect has a test of its own
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setattr(devices, "gpu_compute_capabilities", lambda: [(9, 0)])
    assert devices.resolve_training_precision("auto") == "mixed_bfloat16"
    monkeypatch.setattr(devices, "gpu_compute_capabilities", lambda: [(7, 0)])  # V100: no bfloat16 units
    assert devices.resolve_training_precision("auto") == "float32"
    monkeypatch.setattr(devices, "gpu_compute_capabilities", lambda: [])
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx512f", "amx_bf16"})
    assert devices.resolve_training_precision("auto") == "mixed_bfloat16"
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})  # AMD Zen 4 and later
    assert devices.resolve_training_precision("auto") == "mixed_bfloat16"
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx2"})
    assert devices.resolve_training_precision("auto") == "float32"
    assert devices.resolve_training_precision("float32") == "float32"
    with pytest.raises(ValueError):
        devices.resolve_training_precision("float16")
