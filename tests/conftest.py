"""Fixtures the tests build themselves: random network weights in the original's layout, TF1
checkpoints (V1 file, V2 prefix, the original's training directory), models in our format, and
for training, tiny images and small VGG19 files in both layouts; a short clip with sound."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from PIL import Image

from tests.fixtures import random_original_arrays, write_tf1_checkpoint
from tests.vgg_files import random_weights, write_keras, write_matconvnet


def pytest_configure(config):
    config.addinivalue_line("markers", "bfloat16: needs the CPU's bfloat16 instructions (avx512_bf16 or amx_bf16)")
    config.addinivalue_line(
        "markers", "tf_bfloat16: runs TensorFlow's bfloat16 convolutions (emulated on CPUs without bfloat16 instructions)"
    )


def pytest_runtest_setup(item):
    """Tests of the bfloat16 arithmetic itself run where the CPU has it (Intel Sapphire Rapids and
    later, AMD Zen 4 and later), and are skipped with the reason elsewhere. Where
    ONEDNN_MAX_CPU_ISA holds oneDNN below a CPU's bfloat16 instructions, TensorFlow has no
    bfloat16 convolution at all."""
    from src.devices import BFLOAT16_FLAGS, cpu_flags, onednn_below_bfloat16, onednn_isa_cap, onednn_off

    if item.get_closest_marker("bfloat16") and not BFLOAT16_FLAGS & cpu_flags():
        pytest.skip("this CPU has no bfloat16 instructions (avx512_bf16 or amx_bf16)")
    if item.get_closest_marker("bfloat16") and onednn_off():
        pytest.skip("TF_ENABLE_ONEDNN_OPTS=0: TensorFlow emulates bfloat16 without its oneDNN kernels")
    if (item.get_closest_marker("bfloat16") or item.get_closest_marker("tf_bfloat16")) and onednn_below_bfloat16():
        pytest.skip(f"ONEDNN_MAX_CPU_ISA={onednn_isa_cap()} holds oneDNN below the bfloat16 instructions")


@pytest.fixture(scope="session", autouse=True)
def interruptible_children():
    """The tests that press Ctrl-C on a script (SIGINT) need it to reach the script. A shell runs a
    background job (`bash .ci/run &`) with SIGINT ignored, every child inherits that, and Python
    keeps an ignored SIGINT ignored, so the script would go on working. A handler of our own is
    reset to the default in each child, where Python installs its KeyboardInterrupt."""
    import signal

    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """OpenVINO's converted models and kernels go to a folder of this run's, not ~/.cache."""
    folder = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("FST_CACHE_DIR")
    os.environ["FST_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        del os.environ["FST_CACHE_DIR"]
    else:
        os.environ["FST_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def original_arrays():
    return random_original_arrays()


@pytest.fixture(scope="session")
def random_model(original_arrays):
    from src.checkpoints import model_from_original

    return model_from_original(original_arrays, style_name="random")


@pytest.fixture(scope="session")
def model_file(random_model, tmp_path_factory):
    """The random model in our own format."""
    from src.checkpoints import save_model

    path = tmp_path_factory.mktemp("models") / "random.keras"
    save_model(random_model, path)
    return path


@pytest.fixture(scope="session")
def tf1_checkpoints(original_arrays, tmp_path_factory):
    """{'v1': single file, 'v2': prefix, 'dir': the original style.py's checkpoint directory}."""
    root = tmp_path_factory.mktemp("tf1")
    (root / "train").mkdir()
    return {
        "v1": write_tf1_checkpoint(original_arrays, root / "random.ckpt", version=1),
        "v2": write_tf1_checkpoint(original_arrays, root / "fns.ckpt", version=2),
        "dir": os.path.dirname(write_tf1_checkpoint(original_arrays, root / "train" / "fns.ckpt", 2, write_state=True)),
    }


@pytest.fixture(scope="session")
def training_data(tmp_path_factory):
    """{train, style, style2, test, vgg_mat, vgg_h5, vgg16_h5}: 12 colour images of odd sizes, a
    grayscale one and a broken file for training; two style images; a test image; VGG19 files in
    both layouts and a VGG16 file, width 4."""
    root = tmp_path_factory.mktemp("training")
    rng = np.random.default_rng(0)
    train = root / "train"
    train.mkdir()
    for i in range(12):
        height, width = rng.integers(18, 40, 2)
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(train / f"{i:02d}.jpg")
    Image.fromarray(rng.integers(0, 256, (23, 29), dtype=np.uint8)).save(train / "gray.png")
    (train / "broken.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    paths = {"train": train}
    for name, size in (("style", (30, 26)), ("style2", (22, 19)), ("test", (21, 27))):
        paths[name] = root / f"{name}.png"
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(paths[name])
    weights = random_weights(width=4, seed=1)
    paths["vgg_mat"] = write_matconvnet(root / "imagenet-vgg-verydeep-19.mat", weights)
    paths["vgg_h5"] = write_keras(root / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", weights)
    vgg16 = random_weights(width=4, seed=2, network="VGG16")
    paths["vgg16_h5"] = write_keras(root / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", vgg16)
    return paths


@pytest.fixture(scope="session")
def sound_clip(tmp_path_factory):
    """A 2-second 338x190 clip at 10 frames/s with an AAC tone (tests/clips.py)."""
    from tests.clips import make_clip

    return make_clip(tmp_path_factory.mktemp("clips") / "sound.mp4", size="338x190", rate="10", seconds=2)
