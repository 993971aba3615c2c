"""--engine: OpenVINO runs the same forward pass as TensorFlow (where it is installed), and the
choice is refused clearly where it cannot run."""

import numpy as np
import pytest

from src import engines
from src.stylize import Stylizer
from tests.fixtures import noise_images, random_network

openvino = pytest.mark.skipif(not engines.openvino_installed(), reason="OpenVINO is not installed (setup.sh --openvino)")


@pytest.fixture(scope="module")
def model():
    return random_network(num_styles=2, seed=4)


def psnr(a, b):
    return 10 * np.log10(255.0**2 / max(np.mean((np.asarray(a, np.float64) - b) ** 2), 1e-12))


@openvino
@pytest.mark.parametrize("size", [(37, 53), (8, 5), (64, 96)])
def test_openvino_gives_tensorflows_picture(model, size):
    images = noise_images(*size, count=2)
    for weights in ([1, 0], [0.3, 0.7]):
        reference = Stylizer(model, style_weights=weights, precision="float32")(images)
        ours = Stylizer(model, style_weights=weights, precision="float32", engine="openvino")(images)
        assert ours.shape == reference.shape
        assert psnr(ours, reference) > 60


@openvino
def test_openvino_compiles_each_size_once_and_tiles_stay_on_tensorflow(model):
    stylizer = Stylizer(model, precision="float32", engine="openvino", tile_size=32)
    small, large = noise_images(20, 24), noise_images(40, 56)
    stylizer(small)
    stylizer(small)
    forward = stylizer._networks[0][1]._compiled[("forward", "float32")]
    assert isinstance(forward, engines.OpenVinoForward) and list(forward._compiled) == [(1, 20, 24, 3)]
    tiled = stylizer(large)  # above 32 x 32: tiles, on TensorFlow
    assert psnr(tiled, Stylizer(model, precision="float32", tile_size=4096)(large)) > 60


def test_engine_choice(monkeypatch):
    monkeypatch.setattr(engines, "openvino_installed", lambda: True)
    from src import devices

    monkeypatch.setattr(devices, "gpu_compute_capabilities", lambda: [])
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx2", "fma"})
    assert engines.resolve_engine("auto") == "openvino"
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx512f", "amx_bf16"})
    assert engines.resolve_engine("auto") == "tensorflow"  # bfloat16 on AMX stays with TensorFlow
    assert engines.resolve_engine("openvino") == "openvino"
    monkeypatch.setattr(devices, "gpu_compute_capabilities", lambda: [(9, 0)])
    assert engines.resolve_engine("auto") == "tensorflow"
    with pytest.raises(engines.EngineError, match="runs on the CPU"):
        engines.resolve_engine("openvino")
    assert engines.resolve_engine("openvino", device="cpu") == "openvino"
    monkeypatch.setattr(engines, "openvino_installed", lambda: False)
    assert engines.resolve_engine("auto", device="cpu") == "tensorflow"
    with pytest.raises(engines.EngineError, match="not installed: bash setup.sh --openvino"):
        engines.resolve_engine("openvino", device="cpu")


def test_engine_flag_without_openvino_is_a_usage_error(monkeypatch, tmp_path, capsys, model_file):
    import evaluate

    from PIL import Image

    Image.new("RGB", (20, 16), "red").save(tmp_path / "in.png")
    monkeypatch.setattr(engines, "openvino_installed", lambda: False)
    argv = ["--checkpoint", str(model_file), "--engine", "openvino", "--in-path", str(tmp_path / "in.png")]
    with pytest.raises(SystemExit) as exit_info:
        evaluate.main(argv + ["--out-path", str(tmp_path / "out.png")])
    assert exit_info.value.code == 2
    assert "--engine: OpenVINO is not installed" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()


@openvino
def test_evaluate_with_openvino_on_a_folder_of_mixed_sizes(tmp_path, capsys, model_file):
    import evaluate

    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    for i, size in enumerate([(31, 17), (20, 24), (31, 17)]):
        Image.fromarray(noise_images(*size)[0].astype(np.uint8)).save(folder / f"{i}.png")
    common = ["--checkpoint", str(model_file), "--precision", "float32", "--in-path", str(folder)]
    assert evaluate.main(common + ["--engine", "openvino", "--out-path", str(tmp_path / "ov")]) == 0
    assert evaluate.main(common + ["--engine", "tensorflow", "--out-path", str(tmp_path / "tf")]) == 0
    for i in range(3):
        ov, tf = (np.asarray(Image.open(tmp_path / kind / f"{i}.png"), np.float64) for kind in ("ov", "tf"))
        assert ov.shape == tf.shape and np.abs(ov - tf).max() <= 1


@openvino
def test_the_converted_model_is_cached_and_a_damaged_cache_is_converted_again(model, tmp_path, monkeypatch):
    monkeypatch.setenv("FST_CACHE_DIR", str(tmp_path))
    images = noise_images(24, 32)
    first = Stylizer(model, precision="float32", engine="openvino")(images)
    saved = sorted(p.name for p in (tmp_path / "openvino").iterdir() if p.suffix in (".xml", ".bin"))
    assert len(saved) == 2 and saved[0].endswith(".bin") and saved[1].endswith(".xml")
    conversions = []
    import openvino

    original = openvino.convert_model
    monkeypatch.setattr(openvino, "convert_model", lambda *a, **k: conversions.append(1) or original(*a, **k))
    np.testing.assert_array_equal(Stylizer(model, precision="float32", engine="openvino")(images), first)
    assert conversions == []  # read from the cache
    other = Stylizer(model, style_weights=[0, 1], precision="float32", engine="openvino")(images)
    assert conversions == [1] and np.abs(other - first).max() > 1  # other constants, another model
    (tmp_path / "openvino" / saved[1]).write_text("<damaged")
    np.testing.assert_array_equal(Stylizer(model, precision="float32", engine="openvino")(images), first)
    assert conversions == [1, 1]
