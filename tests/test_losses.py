"""The loss terms against NumPy versions of the issue's formulas, written for the whole batch as
the original wrote them (l2(x) = sum(x^2) / 2, B the batch size)."""

import numpy as np
import pytest
from keras import ops

from src.training import losses
from tests.numpy_reference import gram, l2


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_gram(rng):
    features = rng.normal(size=(3, 5, 7, 4)).astype(np.float32)
    result = ops.convert_to_numpy(losses.gram(features))
    for example in range(3):
        np.testing.assert_allclose(result[example], gram(features[example]), rtol=1e-5)


def test_content(rng):
    batch, predicted, target = 3, rng.normal(size=(3, 5, 6, 8)), rng.normal(size=(3, 5, 6, 8))
    size = 5 * 6 * 8
    expected = 7.5 * 2 * l2(predicted - target) / (batch * size)
    per_example = losses.content_loss(predicted.astype(np.float32), target.astype(np.float32), 7.5)
    per_example = ops.convert_to_numpy(per_example)
    assert per_example.shape == (3,)
    np.testing.assert_allclose(per_example.mean(), expected, rtol=1e-5)


def test_style(rng):
    batch = 3
    predicted = {"a": rng.normal(size=(3, 6, 5, 4)), "b": rng.normal(size=(3, 3, 3, 8))}
    style_grams = {"a": gram(rng.normal(size=(9, 7, 4))), "b": gram(rng.normal(size=(4, 5, 8)))}
    expected = 0.0
    for layer, features in predicted.items():
        channels = features.shape[-1]
        expected += sum(2 * l2(gram(features[i]) - style_grams[layer]) / channels**2 for i in range(batch))
    expected = 100 * expected / batch
    per_example = losses.style_loss(
        {k: v.astype(np.float32) for k, v in predicted.items()},
        {k: v[None].astype(np.float32) for k, v in style_grams.items()},
        100,
    )
    np.testing.assert_allclose(ops.convert_to_numpy(per_example).mean(), expected, rtol=1e-5)


def test_style_targets_per_example(rng):
    """Each example against its own target (a batch of several styles)."""
    predicted = {"a": rng.normal(size=(2, 4, 4, 3)).astype(np.float32)}
    targets = rng.normal(size=(2, 3, 3)).astype(np.float32)
    per_example = ops.convert_to_numpy(losses.style_loss(predicted, {"a": targets}, 1.0))
    for i in range(2):
        np.testing.assert_allclose(per_example[i], 2 * l2(gram(predicted["a"][i]) - targets[i]) / 9, rtol=1e-5)


def test_tv(rng):
    batch, images = 3, rng.uniform(0, 255, size=(3, 7, 5, 3))
    dy, dx = images[:, 1:] - images[:, :-1], images[:, :, 1:] - images[:, :, :-1]
    size_y, size_x = 6 * 5 * 3, 7 * 4 * 3  # per example
    expected = 200 * 2 * (l2(dx) / size_x + l2(dy) / size_y) / batch
    per_example = ops.convert_to_numpy(losses.tv_loss(images.astype(np.float32), 200))
    assert per_example.shape == (3,)
    np.testing.assert_allclose(per_example.mean(), expected, rtol=1e-5)


def test_l2_is_tf_l2_loss():
    np.testing.assert_allclose(ops.convert_to_numpy(losses.l2(np.array([3.0, 4.0]))), 12.5)


def test_temporal(rng):
    repainted, moved = rng.normal(size=(2, 5, 7, 3)), rng.normal(size=(2, 5, 7, 3))
    expected = [3.0 * np.mean((repainted[i] - moved[i]) ** 2) for i in range(2)]
    np.testing.assert_allclose(ops.convert_to_numpy(losses.temporal_loss(repainted, moved, 3.0)), expected, rtol=1e-6)
