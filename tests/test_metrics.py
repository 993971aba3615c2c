"""The quality judge's distances against their formulas, written out in NumPy loops."""

import numpy as np
import pytest

from src.training.metrics import JUDGE_LAYERS, Judge, content_distance, gram, style_distance
from src.training.vgg import load_vgg_weights
from src.training.vgg_layers import DEFAULT_LAYERS
from tests.vgg_files import random_weights, write_keras


def test_gram_is_the_normalised_feature_product():
    features = np.random.default_rng(0).normal(size=(2, 3, 5, 4))
    expected = np.zeros((2, 4, 4))
    for b in range(2):
        for i in range(4):
            for j in range(4):
                expected[b, i, j] = np.sum(features[b, :, :, i] * features[b, :, :, j]) / (3 * 5 * 4)
    np.testing.assert_allclose(gram(features), expected, rtol=1e-12)


def test_content_distance_is_the_changed_fraction_of_the_energy():
    rng = np.random.default_rng(1)
    photo = rng.uniform(0, 2, (3, 4, 6, 5))
    changed = photo.copy()
    changed[1] *= 0.5  # a quarter of the energy left: the difference is half the features
    changed[2] = 0
    np.testing.assert_allclose(content_distance(photo, changed), [0.0, 0.25, 1.0], atol=1e-12)


def test_style_distance_is_the_mean_relative_gram_error():
    rng = np.random.default_rng(2)
    target = {"a": rng.normal(size=(3, 3)), "b": rng.normal(size=(5, 5))}
    same = {k: v[None] for k, v in target.items()}
    assert style_distance(same, target) == pytest.approx([0.0])
    doubled = {k: 2 * v[None] for k, v in target.items()}  # each layer off by 100%
    zero = {k: 0 * v[None] for k, v in target.items()}
    both = {k: np.concatenate([doubled[k], zero[k]]) for k in target}
    np.testing.assert_allclose(style_distance(both, target), [1.0, 1.0])
    half = {"a": target["a"][None], "b": 1.5 * target["b"][None]}  # 0% and 50%
    assert style_distance(half, target) == pytest.approx([0.25])


def test_judge_layers_are_not_the_training_layers():
    trained = set(DEFAULT_LAYERS["VGG16"].names)
    assert not trained & set(JUDGE_LAYERS.names)


def test_judge_scores_the_photo_and_the_style_image(tmp_path):
    weights = load_vgg_weights(write_keras(tmp_path / "vgg16.h5", random_weights(width=4, seed=4, network="VGG16")))
    rng = np.random.default_rng(3)
    rows, columns = np.mgrid[:40, :36]
    stripes = 127.5 + 127.5 * np.sin(rows[..., None] * [0.9, 0.5, 0.2] + columns[..., None] * [0.1, 0.7, 0.3])
    style = stripes.astype(np.float32)
    photos = rng.uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    judge = Judge(weights, style)
    scores = judge.score(photos, photos)
    np.testing.assert_allclose(scores["content"], 0.0, atol=1e-12)
    assert np.all(scores["style"] > 0.05)
    # A crop of the style image is closer to the style than the noise photos are.
    tiled = np.tile(style[:32, :32][None], (2, 1, 1, 1))
    assert np.all(judge.score(photos, tiled)["style"] < judge.score(photos, photos)["style"])
