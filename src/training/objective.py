"""The training objective as a Keras model, so that `fit` trains it on any backend (TensorFlow,
JAX) and under tf.distribute, with one definition of the step.

    {"images": content (B, H, W, 3) RGB 0..255, "style_weights": (B, S)}
        -> per-example {"content", "style", "tv"} terms (src/training/losses.py), each (B,),
           and "temporal" with --temporal-weight

Only the image maker's weights train; the VGG loss network is frozen and names the layers the
losses read (its `style_layers` and `content_layer`, src/training/vgg.py). The maker is the transform network, fed
x / 255 as the original fed it (src/pixels.py), or for --slow the picture itself (PixelImage,
Gatys et al. 2016). Style targets are the grams of each style image, computed once at the
image's own size; a batch's style weights pick (or mix) them per example, and pick the
conditional instance norm's scale and shift for that style inside the transform network.
"""

import keras
import numpy as np
from keras import layers, ops

from src.training import losses

# --temporal-weight: the moved copy of each photo is shifted by up to MOVE pixels each way (a
# camera's motion between frames; most shifts are not multiples of the network's stride of 4,
# which is what makes strokes crawl) and gets Gaussian noise of NOISE levels (sensor noise, the
# flicker of a still camera). Output pixels within MARGIN of the border are not compared: their
# receptive field reaches past the crop.
MOVE, NOISE, MARGIN = 4, 6.0, 16
# Pixels a side of the style image's tiles for its grams (image_grams): their memory stays bounded
# however large the image (bench/README.md, "Large and transparent style images").
STYLE_TILE = 768


class TermsObjective(keras.Model):
    """A model whose outputs are per-example loss terms {name: (B,)}: their sum is the loss."""

    def __init__(self, batch_size, **kwargs):
        """batch_size: the global batch (all replicas together)."""
        super().__init__(**kwargs)
        self.batch_size = int(batch_size)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # This replica's examples over the whole batch: the optimizer sums gradients over
        # replicas, which makes this the mean over the whole batch, the original's loss.
        return ops.sum(sum(y_pred.values())) / self.batch_size

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # The step's own terms (Keras averages them over replicas), not running means.
        return {name: ops.mean(term) for name, term in y_pred.items()}


class StyleObjective(TermsObjective):
    def __init__(
        self, maker, vgg, style_grams, weights, batch_size, input_scale=1.0, temporal_weight=0.0, seed=None, **kwargs
    ):
        """style_grams: {layer: (S, C, C)}; weights: (content, style, tv); temporal_weight: the
        stability term's (0: none); seed: of its random moves."""
        super().__init__(batch_size, **kwargs)
        self.maker, self.vgg = maker, vgg
        self.style_grams = {layer: np.asarray(grams, np.float32) for layer, grams in style_grams.items()}
        self.content_weight, self.style_weight, self.tv_weight = (float(w) for w in weights)
        self.input_scale = float(input_scale)
        self.temporal_weight = float(temporal_weight)
        self.moves = keras.random.SeedGenerator(seed) if self.temporal_weight else None

    def call(self, inputs, training=None):
        # `training` reaches the maker: fit's step computes its last convolution faster on the
        # CPU (src/pixel_blocks.py). Keras hands it only to a call that declares it, and JAX's
        # step calls `call` directly, outside the call context: hence passed on explicitly.
        content, style_weights = inputs["images"], inputs["style_weights"]
        stylized = self.maker(content * self.input_scale, style_weights, training=training)
        predicted, target = (float32_features(self.vgg, images) for images in (stylized, content))
        mix = style_weights / ops.sum(style_weights, axis=-1, keepdims=True)  # (B, S), rows sum to 1
        target_grams = {layer: ops.einsum("bs,scd->bcd", mix, grams) for layer, grams in self.style_grams.items()}
        content_layer = self.vgg.content_layer
        terms = {
            "content": losses.content_loss(predicted[content_layer], target[content_layer], self.content_weight),
            "style": losses.style_loss({k: predicted[k] for k in self.vgg.style_layers}, target_grams, self.style_weight),
            "tv": losses.tv_loss(stylized, self.tv_weight),
        }
        if self.temporal_weight:
            terms["temporal"] = self._temporal(content, style_weights, ops.cast(stylized, "float32"), training)
        return terms

    def _temporal(self, content, style_weights, stylized, training=None):
        """Stability under small motion and noise (Gupta et al. 2017, "Characterizing and
        Improving Stability in Neural Style Transfer"): a crop of the photo moved by a random
        offset, with noise, must be painted as the same crop of the photo's own output."""
        shape = ops.shape(content)
        offset = keras.random.randint((2,), 0, 2 * MOVE + 1, seed=self.moves)
        start = ops.stack([0, offset[0], offset[1], 0])
        size = (shape[0], shape[1] - 2 * MOVE, shape[2] - 2 * MOVE, shape[3])
        moved = ops.cast(ops.slice(content, start, size), "float32")
        moved = moved + keras.random.normal(ops.shape(moved), stddev=NOISE, seed=self.moves)
        repainted = self.maker(ops.clip(moved, 0.0, 255.0) * self.input_scale, style_weights, training=training)
        repainted = ops.cast(repainted, "float32")
        expected = ops.slice(stylized, start, size)
        # Small training images (tests) keep a quarter of the crop's side as margin instead.
        margin = min(MARGIN, (min(content.shape[1], content.shape[2]) - 2 * MOVE) // 4)
        inner = (slice(None), slice(margin, -margin), slice(margin, -margin))
        return losses.temporal_loss(repainted[inner], expected[inner], self.temporal_weight)


class PixelImage(layers.Layer):
    """--slow: the picture is the variable. Starts as the original's did: VGG's mean colour plus
    N(0, 0.256) noise (its tf.random_normal(...) * 0.256 on mean-subtracted pixels)."""

    def __init__(self, initial, **kwargs):
        super().__init__(**kwargs)
        self.initial = np.asarray(initial, np.float32)  # (1, H, W, 3)

    def build(self, input_shape=None):
        self.pixels = self.add_weight(
            name="pixels", shape=self.initial.shape, initializer=keras.initializers.Constant(self.initial)
        )

    def call(self, images, style_weights):
        return ops.convert_to_tensor(self.pixels)


def float32_features(vgg, images):
    """images (B, H, W, 3) -> {layer: VGG features}, in float32 also under mixed precision: the
    losses are computed in float32, as grams of bfloat16 features lose too much."""
    return {layer: ops.cast(features, "float32") for layer, features in vgg(images).items()}


def style_grams(vgg, style_images, tile=STYLE_TILE, alphas=None):
    """[(H, W, 3) RGB 0..255, one per style] -> {style layer: (S, C, C)}, each image at its own
    size; alphas: each image's (H, W) alpha 0..255, or None where it is opaque (image_grams)."""
    alphas = alphas or [None] * len(style_images)
    per_style = [image_grams(vgg, image, vgg.style_layers, tile, alpha) for image, alpha in zip(style_images, alphas)]
    return {layer: np.stack([grams[layer] for grams in per_style]) for layer in vgg.style_layers}


def image_grams(vgg, image, layer_names, tile=STYLE_TILE, alpha=None):
    """(H, W, 3) RGB 0..255 -> {layer: (C, C)}, losses.gram of the whole image's VGG features,
    computed a tile of about `tile` x `tile` pixels at a time: the features of a phone's photo of a
    painting or of a museum's scan, whole, take more memory than most computers have. Exact: each
    tile is read with a margin as wide as the deepest layer's receptive field and starts on that
    layer's grid, so the features of its inner part are the whole image's; only those are counted.
    alpha: (H, W) 0..255, for a painting cut out of its background: each position counts by the
    opacity of the pixels under it, and the transparent parts are filled with the opaque part's
    mean colour first, so that whatever colour they hold (often black) is not taken for the style."""
    weights = np.ones(image.shape[:2], np.float32) if alpha is None else np.asarray(alpha, np.float32) / 255
    image = np.asarray(image, np.float32)
    if alpha is not None:
        mean = (image * weights[..., None]).sum(axis=(0, 1)) / max(weights.sum(), 1e-6)  # (3,)
        image = image * weights[..., None] + mean * (1 - weights[..., None])
    strides, reach = _strides_and_reach(vgg, layer_names)
    grid = max(strides.values())
    margin = -(-reach // grid) * grid  # pixels read beyond a tile's inner part, on the grid
    counts = {layer: _block_means(weights, strides[layer]) for layer in layer_names}  # (h, w) per layer
    sums = {layer: 0.0 for layer in layer_names}
    for top, bottom in _spans(image.shape[0], tile, grid):
        for left, right in _spans(image.shape[1], tile, grid):
            y0, x0 = max(top - margin, 0), max(left - margin, 0)
            features = vgg(image[None, y0 : bottom + margin, x0 : right + margin])
            for layer in layer_names:
                s = strides[layer]  # the tile's inner part on this layer's grid (ceil: "same" padding)
                rows, columns = slice(top // s, -(-bottom // s)), slice(left // s, -(-right // s))
                tile_features = ops.convert_to_numpy(features[layer])[0]  # (tile's h, w, C)
                inner = tile_features[rows.start - y0 // s : rows.stop - y0 // s, columns.start - x0 // s : columns.stop - x0 // s]
                flat = np.asarray(inner, np.float32).reshape(-1, inner.shape[-1])  # (h*w, C)
                weighted = flat * counts[layer][rows, columns].reshape(-1, 1)
                sums[layer] = sums[layer] + (weighted.T @ flat).astype(np.float64)  # (C, C)
    return {
        layer: (sums[layer] / (counts[layer].sum(dtype=np.float64) * sums[layer].shape[0])).astype(np.float32)
        for layer in layer_names
    }


def _block_means(weights, stride):
    """(H, W) -> (ceil(H / stride), ceil(W / stride)) means of stride x stride blocks (the last
    ones cut short by the image's sides, as "same" pooling makes them). Stride 1: the weights."""
    if stride == 1:
        return weights
    height, width = (-(-side // stride) for side in weights.shape)

    def block_sums(values):
        padded = np.zeros((height * stride, width * stride), np.float32)
        padded[: weights.shape[0], : weights.shape[1]] = values
        return padded.reshape(height, stride, width, stride).sum(axis=(1, 3))

    return block_sums(weights) / block_sums(1)


def _strides_and_reach(vgg, layer_names):
    """The stride (input pixels per position) of each of `layer_names` in VggFeatures, and how many
    input pixels away from a position the deepest of them still sees."""
    strides, stride, reach, wanted = {}, 1, 0, set(layer_names)
    for name in vgg.sequence:
        if name.startswith("conv"):
            reach += stride  # a 3x3 convolution: one more position each way
        elif name.startswith("pool"):
            reach += stride  # a 2x2 window, stride 2
            stride *= 2
        elif name in wanted:
            strides[name] = stride
            if len(strides) == len(wanted):
                return strides, reach
    raise ValueError(f"layers not computed by this VGG: {sorted(wanted - set(strides))}")


def _spans(size, tile, grid):
    """[0, size) cut into about equal spans of at most about `tile`, each starting on `grid`."""
    count = max(1, -(-size // tile))
    step = -(-(-(-size // count)) // grid) * grid
    return [(start, min(start + step, size)) for start in range(0, size, step)]
