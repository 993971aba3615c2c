"""Shared test data for the training tests: tiny images and small VGG19 files in both layouts,
written once per session into a temporary folder."""

import numpy as np
import pytest
from PIL import Image

from tests.vgg_files import random_weights, write_keras, write_matconvnet


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
