"""Test data the tests build themselves: random network weights in the original's layout, TF1
checkpoints written the way the original wrote them, networks with random weights, and images;
and the first frame of a video as our own reader decodes it; images read and closed."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent  # the repository

# A batch of two may run other convolution kernels than a batch of one, whose float32 sums round
# differently in their last bits, by CPU class (oneDNN held to AVX2: bench/README.md); a norm that
# mixed the batch would be whole levels away.
BATCH_ROUNDING = 1e-2


def random_original_arrays(seed=0):
    """48 arrays shaped like the original's Variable ... Variable_47, with random values: kernels
    as the original initialised them, scales and shifts away from 1 and 0 so that they matter."""
    from src.checkpoints import original_shapes

    rng = np.random.default_rng(seed)
    arrays = []
    for kernel_shape, shift_shape, scale_shape in zip(*[iter(original_shapes())] * 3):
        arrays.append(np.clip(rng.normal(0, 0.1, kernel_shape), -0.2, 0.2).astype(np.float32))
        arrays.append(rng.normal(0, 0.3, shift_shape).astype(np.float32))
        arrays.append(rng.normal(1, 0.3, scale_shape).astype(np.float32))
    return arrays


def write_tf1_checkpoint(arrays, prefix, version=1, write_state=False):
    """Save arrays as tf.compat.v1 variables named Variable, Variable_1, ... the way the original
    did (its variables were unnamed, so TF numbered them in creation order)."""
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        for array in arrays:
            v1.Variable(array)
        write_version = v1.train.SaverDef.V1 if version == 1 else v1.train.SaverDef.V2
        saver = v1.train.Saver(write_version=write_version)
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            saver.save(session, str(prefix), write_meta_graph=write_state, write_state=write_state)
    return str(prefix)


def photo(height, width, seed=0):
    """A smooth, photo-like float32 RGB image 0..255: gradients plus a few soft blobs."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([x / max(width - 1, 1), y / max(height - 1, 1), 0.5 + 0 * x], axis=-1) * 200 + 20
    for _ in range(3):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(3, max(height, width) / 2 + 3)
        image += rng.uniform(-60, 60, 3) * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))[..., None]
    return np.clip(image, 0, 255).astype(np.float32)


def loaded(path):
    """The PIL image at path, read whole and its file closed: Image.open keeps the file open until
    the pixels are read, which reading only .size or .format never does."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        return image


def heic(path, rgb, orientation=None):
    """A HEIC photo, as phones take them, written by pillow-heif (requirements-dev.txt); the
    toolkit reads them through pi-heif, which only decodes."""
    import pytest
    from PIL import Image

    pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif writes the test's HEIC files")
    pytest.importorskip("pi_heif", reason="pi-heif (requirements.txt) reads HEIC photos")
    picture = pillow_heif.from_pillow(Image.fromarray(rgb))
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        picture.info["exif"] = exif.tobytes()
    picture.save(path, quality=95, chroma=444)  # full colour resolution: a tiny gradient survives
    return path


def first_frame(path):
    """The first frame of a video as src.video decodes it -> (H, W, 3) int."""
    from src.video import FrameReader
    from src.video_probe import probe

    with FrameReader(path, probe(path), max_frames=1) as reader:
        return next(iter(reader.batches(1)))[0].astype(int)


def random_network(num_styles=1, seed=0):
    """A TransformNet with random weights, and random instance-norm scales and shifts so that
    every style (and every layer's normalization) matters."""
    import keras

    from src.transform import build_transform_net

    keras.utils.set_random_seed(seed)
    model = build_transform_net(num_styles=num_styles)
    rng = np.random.default_rng(seed)
    for block in model.layers_in_order():
        block.norm.scale.assign(rng.uniform(0.5, 1.5, block.norm.scale.shape))
        block.norm.shift.assign(rng.normal(0.0, 0.5, block.norm.shift.shape))
    return model


def noise_images(height, width, count=1, seed=1):
    """(count, height, width, 3) float32 uniform noise in 0..255."""
    return np.random.default_rng(seed).uniform(0, 255, (count, height, width, 3)).astype(np.float32)


def count_blocked_calls(monkeypatch, module="src.transform"):
    """A list that grows by one at each call of src/pixel_blocks.py's convolve_on_blocks from
    `module` (training's src.transform, or inference's src.inference)."""
    from src.pixel_blocks import convolve_on_blocks

    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return convolve_on_blocks(*args, **kwargs)

    monkeypatch.setattr(f"{module}.convolve_on_blocks", counted)
    return calls


def unquieted_environment():
    """os.environ without the TF_CPP_MIN_LOG_LEVEL that conftest.py sets: to check that the
    scripts keep TensorFlow's C++ log lines off the terminal themselves."""
    return {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}


def tensorflow_log_lines(stderr):
    """The lines of TensorFlow's C++ logging (I0000 00:00:..., E0000 ...) in a script's stderr."""
    return [line for line in stderr.splitlines() if re.match(r"[IWEF]\d{4} ", line) or "cuInit" in line]


def read_events(folder):
    """Every event of every file in the folder, oldest file first."""
    from tensorflow.python.summary.summary_iterator import summary_iterator

    paths = sorted(folder.glob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime_ns)
    return [event for path in paths for event in summary_iterator(str(path))]


def run_main(main, capsys, *argv):
    """A script's main(argv) in-process -> (exit status, stderr); a parser error's SystemExit
    becomes its status."""
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exit_:
        status = exit_.code
    return status, capsys.readouterr().err


def signal_while_writing(script_argv, folder, signal_number):
    """Run `python SCRIPT ...` from the repository, send it `signal_number` a second after its
    temporary output file appears in `folder` (once the network is loaded and frames flow)
    -> (exit status, stderr)."""
    command = [sys.executable, *map(str, script_argv)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not (folder.exists() and any(name.endswith(".tmp") for name in os.listdir(folder))):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(1)
        process.send_signal(signal_number)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    return process.returncode, stderr
