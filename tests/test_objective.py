"""The training objective: the terms of the right images against NumPy, the transform fed
x / 255, per-example style targets, the loss Keras minimises, and --slow's picture."""

import numpy as np
from keras import layers, ops

from src.training.objective import PixelImage, StyleObjective, style_grams
from src.training.vgg import CONTENT_LAYER, STYLE_LAYERS, build_vgg, load_vgg_weights
from tests.numpy_reference import gram, l2, numpy_vgg
from tests.vgg_files import random_weights, write_keras


class Brighten(layers.Layer):
    """A stand-in for the transform network: 200 * its input + 20, whatever the style."""

    def call(self, images, style_weights):
        return images * 200.0 + 20.0


def test_terms_against_numpy(tmp_path):
    weights = random_weights(width=4, seed=2)
    loaded = load_vgg_weights(write_keras(tmp_path / "vgg.h5", weights))
    vgg = build_vgg(loaded)
    rng = np.random.default_rng(1)
    content = rng.uniform(0, 255, (3, 17, 16, 3)).astype(np.float32)
    styles = [rng.uniform(0, 255, shape).astype(np.float32) for shape in ((20, 23, 3), (12, 15, 3))]
    grams = style_grams(vgg, styles)
    objective = StyleObjective(Brighten(), vgg, grams, (7.5, 100, 200), batch_size=3, input_scale=1 / 255)
    style_weights = np.array([[1, 0], [0, 1], [0, 3]], np.float32)  # example 3: the second style, unnormalised
    outputs = objective({"images": content, "style_weights": style_weights})
    terms = {name: ops.convert_to_numpy(term) for name, term in outputs.items()}

    stylized = content / 255 * 200 + 20  # the maker is fed x / 255
    predicted, target = numpy_vgg(stylized, weights, loaded.mean), numpy_vgg(content, weights, loaded.mean)
    style_features = [numpy_vgg(image[None], weights, loaded.mean) for image in styles]
    for i, style in enumerate((0, 1, 1)):
        features, content_features = predicted[CONTENT_LAYER][i], target[CONTENT_LAYER][i]
        content_term = 7.5 * 2 * l2(features - content_features) / features.size
        style_term = 100 * sum(
            2 * l2(gram(predicted[layer][i]) - gram(style_features[style][layer][0])) / predicted[layer].shape[-1] ** 2
            for layer in STYLE_LAYERS
        )
        image = stylized[i]
        dy, dx = image[1:] - image[:-1], image[:, 1:] - image[:, :-1]
        tv_term = 200 * 2 * (l2(dx) / dx.size + l2(dy) / dy.size)
        np.testing.assert_allclose(terms["content"][i], content_term, rtol=1e-3)
        np.testing.assert_allclose(terms["style"][i], style_term, rtol=1e-3)
        np.testing.assert_allclose(terms["tv"][i], tv_term, rtol=1e-4)
    total = sum(terms[name].sum() for name in terms) / 3
    np.testing.assert_allclose(ops.convert_to_numpy(objective.compute_loss(y_pred=terms)), total, rtol=1e-6)
    assert objective.trainable_weights == []  # VGG is frozen, the stand-in has no weights


def test_style_grams_of_a_large_image_are_the_same_tile_by_tile(tmp_path):
    weights = random_weights(width=4, seed=3)
    loaded = load_vgg_weights(write_keras(tmp_path / "vgg.h5", weights))
    vgg = build_vgg(loaded)
    image = np.random.default_rng(4).uniform(0, 255, (251, 230, 3)).astype(np.float32)  # odd: "same" padding
    tiles = []

    class Counted:  # the VGG, noting the shape of each tile it is given
        sequence, style_layers = vgg.sequence, vgg.style_layers

        def __call__(self, images):
            tiles.append(images.shape[1:3])
            return vgg(images)

    grams = style_grams(Counted(), [image], tile=64)
    # relu5_1 sees 85 pixels each way: tiles of 64 with margins of 96, cut by the image's sides.
    assert len(tiles) == 16 and min(tiles) < image.shape[:2]
    expected = numpy_vgg(image[None], weights, loaded.mean)
    for layer in STYLE_LAYERS:
        np.testing.assert_allclose(grams[layer][0], gram(expected[layer][0]), rtol=1e-3, atol=1e-5 * grams[layer].max())


def test_a_transparent_style_counts_its_opaque_part_whatever_colour_its_background_holds(tmp_path):
    weights = random_weights(width=4, seed=3)
    loaded = load_vgg_weights(write_keras(tmp_path / "vgg.h5", weights))
    vgg = build_vgg(loaded)
    rng = np.random.default_rng(5)
    image = rng.uniform(0, 255, (150, 133, 3)).astype(np.float32)
    alpha = np.zeros((150, 133), np.uint8)
    alpha[20:120, 10:90] = 255  # a painting cut out of its background...
    alpha[20:120, 90:100] = 128  # ...with a soft edge
    on_white = np.where(alpha[..., None] == 0, 255.0, image).astype(np.float32)
    on_black = np.where(alpha[..., None] == 0, 0.0, image).astype(np.float32)
    grams = style_grams(vgg, [on_white, on_black], tile=64, alphas=[alpha, alpha])
    for layer in STYLE_LAYERS:
        np.testing.assert_allclose(grams[layer][0], grams[layer][1], rtol=1e-5, atol=1e-6 * grams[layer].max())

    # Against NumPy: the background filled with the opaque part's mean colour, each position of a
    # layer of stride s weighted by the mean opacity of its s x s pixels.
    share = alpha.astype(np.float64)[..., None] / 255
    mean = (on_black * share).sum(axis=(0, 1)) / share.sum()
    features = numpy_vgg((on_black * share + mean * (1 - share))[None], weights, loaded.mean)
    for layer in STYLE_LAYERS:
        flat = features[layer][0].reshape(-1, features[layer].shape[-1])
        s = {"relu1_1": 1, "relu2_1": 2, "relu3_1": 4, "relu4_1": 8, "relu5_1": 16}[layer]
        rows, columns = features[layer].shape[1:3]
        position = np.array([[share[i * s : (i + 1) * s, j * s : (j + 1) * s].mean() for j in range(columns)] for i in range(rows)])
        expected = (flat * position.reshape(-1, 1)).T @ flat / (position.sum() * flat.shape[1])
        np.testing.assert_allclose(grams[layer][1], expected, rtol=1e-3, atol=1e-5 * grams[layer].max())
    # Wholly opaque: the same as no alpha at all.
    opaque = style_grams(vgg, [image], tile=64, alphas=[np.full((150, 133), 255, np.uint8)])
    plain = style_grams(vgg, [image], tile=64)
    assert all(np.allclose(opaque[layer], plain[layer], rtol=1e-6) for layer in STYLE_LAYERS)


def test_pixel_image_is_the_trained_variable():
    initial = np.random.default_rng(0).uniform(0, 255, (1, 5, 6, 3)).astype(np.float32)
    picture = PixelImage(initial)
    output = picture(np.zeros((1, 5, 6, 3), np.float32), np.ones((1, 1), np.float32))
    np.testing.assert_array_equal(ops.convert_to_numpy(output), initial)
    assert [w.shape for w in picture.trainable_weights] == [(1, 5, 6, 3)]


class Pattern(layers.Layer):
    """A stand-in that paints a fixed pattern by position: strokes that do not move with the picture."""

    def call(self, images, style_weights):
        rows = ops.arange(ops.shape(images)[1], dtype="float32")[None, :, None, None]
        columns = ops.arange(ops.shape(images)[2], dtype="float32")[None, None, :, None]
        return images * 200.0 + 60.0 * (ops.sin(rows) + ops.sin(columns))


def test_temporal_term_is_the_noise_for_a_pointwise_maker_and_large_for_fixed_strokes(tmp_path):
    from src.training.objective import NOISE

    vgg = build_vgg(load_vgg_weights(write_keras(tmp_path / "vgg.h5", random_weights(width=4, seed=2))))
    content = np.random.default_rng(3).uniform(40, 215, (3, 48, 50, 3)).astype(np.float32)
    grams = style_grams(vgg, [content[0]])
    inputs = {"images": content, "style_weights": np.ones((3, 1), np.float32)}

    def terms(maker, weight):
        objective = StyleObjective(maker, vgg, grams, (1, 1, 1), 3, input_scale=1 / 255, temporal_weight=weight, seed=4)
        return {name: ops.convert_to_numpy(term) for name, term in objective(inputs).items()}

    assert "temporal" not in terms(Brighten(), 0.0)
    # A pointwise maker moves with the picture: only the noise (scaled by 200 / 255) is left.
    steady = terms(Brighten(), 2.0)
    np.testing.assert_allclose(steady["temporal"], 2.0 * (200 / 255 * NOISE) ** 2, rtol=0.25)
    assert terms(Pattern(), 2.0)["temporal"].mean() > 5 * steady["temporal"].mean()


class Recorder(layers.Layer):
    """A trainable stand-in that records the `training` each of its calls was given."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def build(self, input_shape=None):
        self.gain = self.add_weight(name="gain", shape=(), initializer="ones")

    def call(self, images, style_weights, training=None):
        self.seen.append(training)
        return images * 200.0 * self.gain


def test_the_training_step_tells_the_maker_it_is_training(tmp_path):
    """Keras' fit hands `training` only to a call that declares it; the transform network needs it
    to run its last convolution on blocks of pixels on the CPU (src/pixel_blocks.py)."""
    import keras

    vgg = build_vgg(load_vgg_weights(write_keras(tmp_path / "vgg.h5", random_weights(width=4, seed=2))))
    content = np.random.default_rng(3).uniform(40, 215, (2, 40, 40, 3)).astype(np.float32)
    maker = Recorder()
    objective = StyleObjective(maker, vgg, style_grams(vgg, [content[0]]), (1, 1, 1), 2, 1 / 255, temporal_weight=1.0)
    objective.compile(optimizer=keras.optimizers.Adam(1e-3))
    objective.train_on_batch({"images": content, "style_weights": np.ones((2, 1), np.float32)})
    # Two calls a step: the photo, and its moved copy for the temporal term.
    assert maker.seen and all(maker.seen) and len(maker.seen) % 2 == 0
    assert float(ops.convert_to_numpy(maker.gain)) != 1.0
