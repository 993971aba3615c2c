"""Fixtures the tests build themselves: random network weights in the original's layout, TF1
checkpoints (V1 file, V2 prefix, the original's training directory), models in our format, and
for training, tiny images and small VGG19 files in both layouts."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from PIL import Image

from tests.vgg_files import random_weights, write_keras, write_matconvnet


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


def photo(height, width, seed=0):
    """A smooth, photo-like float32 RGB image 0..255: gradients plus a few soft blobs."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([x / max(width - 1, 1), y / max(height - 1, 1), 0.5 + 0 * x], axis=-1) * 200 + 20
    for _ in range(3):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(3, max(height, width) / 2 + 3)
        image += rng.uniform(-60, 60, 3) * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))[..., None]
    return np.clip(image, 0, 255).astype(np.float32)


@pytest.fixture(scope="session")
def training_data(tmp_path_factory):
    """{train, style, style2, test, vgg_mat, vgg_h5}: 12 colour images of odd sizes, a grayscale
    one and a broken file for training; two style images; a test image; VGG19 files, width 4."""
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
    return paths
