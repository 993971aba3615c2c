"""--engine: OpenVINO runs the same forward pass as TensorFlow (where it is installed), and the
choice is refused clearly where it cannot run."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from src import engines
from src.stylize import Stylizer
from tests.fixtures import noise_images, random_network

ROOT = Path(__file__).resolve().parent.parent
openvino = pytest.mark.skipif(
    engines.resolve_engine("auto", "cpu") != "openvino",
    reason="OpenVINO is not installed (setup.sh --openvino), or ONEDNN_MAX_CPU_ISA keeps it off",
)


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


@openvino
def test_where_openvino_cannot_compile_the_network_tensorflow_runs_it_with_a_note(model, tmp_path, monkeypatch, capsys):
    import openvino

    monkeypatch.setenv("FST_CACHE_DIR", str(tmp_path))
    # What OpenVINO's CPU plugin says where its oneDNN has no kernel for a layer.
    said = (
        "Exception from src/inference/src/cpp/core.cpp:117:\nException from src/inference/src/dev/plugin.cpp:54:\n"
        "could not create a primitive descriptor for the deconvolution forward propagation primitive. "
        "Run workload with environment variable ONEDNN_VERBOSE=all to get additional diagnostic information.\n"
    )

    def refuse(*args, **kwargs):
        raise RuntimeError(said)

    monkeypatch.setattr(openvino.Core, "compile_model", refuse)
    images = noise_images(20, 24, count=2)
    stylizer = Stylizer(model, precision="float32", engine="openvino")
    first, second = stylizer(images), stylizer(images[:1])
    assert psnr(first, Stylizer(model, precision="float32")(images)) > 60 and second.shape == (1, 20, 24, 3)
    err = capsys.readouterr().err
    note = "OpenVINO cannot run this network here (could not create a primitive descriptor for the deconvolution"
    assert err.count(note) == 1 and "TensorFlow runs it instead" in err and "ONEDNN_VERBOSE" not in err
    network = stylizer._networks[0][1]
    network.refresh()  # its functions built again (another precision would be too): not on OpenVINO
    stylizer(images)
    assert network.engine == "tensorflow" and note not in capsys.readouterr().err
    monkeypatch.setattr(openvino, "convert_model", refuse)  # another style mix: converted afresh
    other = Stylizer(model, style_weights=[0, 1], precision="float32", engine="openvino")(images)
    assert psnr(other, Stylizer(model, style_weights=[0, 1], precision="float32")(images)) > 60
    assert capsys.readouterr().err.count(note) == 1


def test_engine_choice(monkeypatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)  # its effect has a test of its own
    monkeypatch.setattr(engines, "openvino_installed", lambda: True)
    from src import devices

    monkeypatch.setattr(devices, "gpu_compute_capabilities", lambda: [])
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx2", "fma"})
    assert engines.resolve_engine("auto") == "openvino"
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx512f", "amx_bf16"})
    assert engines.resolve_engine("auto") == "openvino"  # its bfloat16 beat TensorFlow's on AMX too
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


def test_a_capped_onednn_keeps_auto_off_openvino_and_refuses_it(monkeypatch):
    """OpenVINO's own kernels do not follow ONEDNN_MAX_CPU_ISA while the oneDNN inside it does: the
    mismatch ended in a segmentation fault (bench/README.md)."""
    from src import devices

    monkeypatch.setattr(engines, "openvino_installed", lambda: True)
    monkeypatch.setattr(devices, "gpu_compute_capabilities", lambda: [])
    for cap, expected in (("", "openvino"), ("ALL", "openvino"), ("avx2", "tensorflow"), ("AVX512_CORE_AMX", "tensorflow")):
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
        assert engines.resolve_engine("auto") == expected
    with pytest.raises(engines.EngineError, match="ONEDNN_MAX_CPU_ISA=AVX512_CORE_AMX caps the oneDNN inside OpenVINO"):
        engines.resolve_engine("openvino")


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


def test_the_cache_key_covers_every_module_the_forward_pass_is_built_from():
    """src/inference.py holds the graph's arithmetic: the modules it draws on, and theirs in
    turn, are in the key, or a cached model would be read back unchanged after one of them changed."""
    from src import inference

    seen, todo = set(), [inference]
    while todo:
        module = todo.pop()
        seen.add(Path(module.__file__).name)
        for value in vars(module).values():
            name = getattr(value, "__module__", "")
            if name.startswith("src.") and Path(sys.modules[name].__file__).name not in seen:
                todo.append(sys.modules[name])
    assert "pixel_blocks.py" in seen
    assert seen <= set(engines.GRAPH_MODULES)


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


@openvino
def test_a_checkpoint_converted_before_runs_without_loading_it(model_file, tmp_path, monkeypatch):
    from src.checkpoints import Checkpoint, load_model

    monkeypatch.setenv("FST_CACHE_DIR", str(tmp_path))
    images = noise_images(24, 32, count=2)
    loads = []
    checkpoint = Checkpoint(model_file, load=lambda path: loads.append(path) or load_model(path))
    first = Stylizer(checkpoint, precision="float32", engine="openvino")(images)
    assert len(loads) == 1  # converted: the network was needed
    reference = Stylizer(load_model(model_file), precision="float32")(images)
    assert psnr(first, reference) > 60

    def never(path):
        raise AssertionError("loaded although its converted model is cached")

    again = Stylizer(Checkpoint(model_file, load=never), precision="float32", engine="openvino")(images)
    np.testing.assert_array_equal(again, first)
    mixed = Stylizer([Checkpoint(model_file, load=never)] * 2, style_weights=[1, 3], precision="float32", engine="openvino")
    np.testing.assert_allclose(mixed(images), first, atol=1e-3)  # the same network twice: the same picture


def evaluate_on_openvino(model_file, tmp_path, out_name, printed, env):
    """Run evaluate.py --engine openvino on a small photo in a fresh interpreter, which then
    prints `printed` (Python expressions, space-separated); the finished process."""
    from PIL import Image

    photo = tmp_path / "in.png"
    if not photo.exists():
        Image.fromarray(noise_images(20, 28)[0].astype(np.uint8)).save(photo)
    script = (
        "import sys, evaluate\n"
        f"status = evaluate.main(['--checkpoint', {str(model_file)!r}, '--engine', 'openvino', '--in-path', "
        f"{str(photo)!r}, '--out-path', {str(tmp_path / out_name)!r}])\n"
        f"print({printed})\n"
        "sys.exit(status)\n"
    )
    env = {**env, "FST_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)


@openvino
def test_a_second_evaluate_run_never_imports_tensorflow(model_file, tmp_path):
    from PIL import Image

    printed = "'tensorflow' in sys.modules, 'keras' in sys.modules"
    runs = [evaluate_on_openvino(model_file, tmp_path, name, printed, os.environ) for name in ("first.png", "second.png")]
    assert [run.returncode for run in runs] == [0, 0], runs[1].stderr[-500:]
    assert runs[0].stdout.split() == ["True", "True"] and runs[1].stdout.split() == ["False", "False"]
    first, second = (np.asarray(Image.open(tmp_path / name)) for name in ("first.png", "second.png"))
    np.testing.assert_array_equal(first, second)


@openvino
def test_the_openvino_engine_sends_no_telemetry(model_file, tmp_path):
    """openvino-telemetry would write a client id under ~/intel and send it from a forked process
    (unless CI=true): neither may happen in a run of ours."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TF_BUILD", "JENKINS_URL")}
    printed = "'openvino' in sys.modules, sys.modules.get('openvino_telemetry') is not None"
    run = evaluate_on_openvino(model_file, tmp_path, "out.png", printed, {**env, "HOME": str(home)})
    assert run.returncode == 0, run.stderr[-500:]
    assert run.stdout.split() == ["True", "False"]
    assert not (home / "intel").exists()


@openvino
def test_a_ctrl_c_after_openvino_networks_come_and_go_is_handled(model_file, tmp_path):
    """Two networks on OpenVINO, the first dropped first (the app's styles come and go so), then a
    Ctrl-C: handled, where each network's own OpenVINO Core left a freed signal stack behind and
    the signal crashed the process (in a child process here, so that a crash is seen as one)."""
    script = (
        "import gc, os, signal, sys, time\n"
        "import numpy as np\n"
        "from src.checkpoints import load_model\n"
        "from src.stylize import Stylizer\n"
        f"model = load_model({str(model_file)!r})\n"
        "stylizers = [Stylizer(model, engine='openvino', precision='float32') for _ in range(2)]\n"
        "[stylizer(np.zeros((1, 24, 32, 3), np.uint8)) for stylizer in stylizers]\n"
        "del stylizers[0]; gc.collect()  # the first made, the first dropped\n"
        "del stylizers[0]; gc.collect()\n"
        "signal.signal(signal.SIGINT, lambda number, frame: print('handled', flush=True))\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(0.2)\n"
    )
    env = {**os.environ, "FST_CACHE_DIR": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert (run.returncode, run.stdout.split()) == (0, ["handled"]), run.stderr[-500:]
