"""The perceptual losses of Johnson et al. (2016), exactly as the original's optimize.py computed
them, with l2(x) = sum(x^2) / 2 (tf.nn.l2_loss) and B the batch size:

    content = content_weight * 2 * l2(phi(y_hat) - phi(y)) / (B * H*W*C of relu4_2)
    style   = style_weight * sum over the style layers of [sum over the batch of
              2 * l2(G(y_hat) - G(s)) / C^2] / B,        G(F) = F^T F / (H*W*C)
    tv      = tv_weight * 2 * (l2(dx) / size(dx) + l2(dy) / size(dy)) / B, size() per example
    temporal = temporal_weight * 2 * l2(f(move(x)) - move(f(x))) / (B * H*W*3)   (ours, --temporal-weight)
    pixel   = pixel_weight * 2 * l2(student(x) - teacher(x)) / (B * H*W*3)       (ours, --distill-from)

Each function returns one value per example, shape (B,), whose mean over the batch is the term
above: the original divided sums over the whole batch by B. Per-example values are what let a
batch be split between GPUs (the mean over all of them is still the original's term).

Pure keras.ops, so they run on TensorFlow and JAX alike.
"""

from keras import ops


def l2(x, axis=None):
    """sum(x^2) / 2, like tf.nn.l2_loss (over `axis`, or everything)."""
    return ops.sum(ops.square(x), axis=axis) / 2


def gram(features):
    """(B, H, W, C) -> (B, C, C): F^T F / (H*W*C), F the (H*W, C) feature matrix of each example."""
    shape = ops.shape(features)
    height, width, channels = shape[1], shape[2], shape[3]
    flat = ops.reshape(features, (shape[0], height * width, channels))  # (B, H*W, C)
    size = ops.cast(height * width * channels, features.dtype)
    return ops.matmul(ops.transpose(flat, (0, 2, 1)), flat) / size  # (B, C, H*W) @ (B, H*W, C)


def _per_example_size(x):
    """H*W*C of (B, H, W, C), as a float."""
    shape = ops.shape(x)
    return ops.cast(shape[1] * shape[2] * shape[3], x.dtype)


def content_loss(predicted, target, weight):
    """relu4_2 features (B, H, W, C) of the stylized and the content images -> (B,)."""
    return weight * 2 * l2(predicted - target, axis=(1, 2, 3)) / _per_example_size(predicted)


def style_loss(predicted, target_grams, weight):
    """predicted: {layer: (B, H, W, C)}; target_grams: {layer: (B, C, C) or (1, C, C)}, the style
    image's grams (per example when the batch mixes styles) -> (B,)."""
    total = 0.0
    for layer, features in predicted.items():
        channels = ops.cast(ops.shape(features)[-1], features.dtype)
        total = total + 2 * l2(gram(features) - target_grams[layer], axis=(1, 2)) / ops.square(channels)
    return weight * total


def tv_loss(images, weight):
    """Total variation of the stylized images (B, H, W, 3), 0..255 -> (B,)."""
    dy = images[:, 1:, :, :] - images[:, :-1, :, :]
    dx = images[:, :, 1:, :] - images[:, :, :-1, :]
    x_term = l2(dx, axis=(1, 2, 3)) / _per_example_size(dx)
    y_term = l2(dy, axis=(1, 2, 3)) / _per_example_size(dy)
    return weight * 2 * (x_term + y_term)


def temporal_loss(repainted, moved, weight):
    """The network's output for a moved, noisier copy of the photo (B, H, W, 3) against its output
    for the photo, moved the same way (B, H, W, 3), both 0..255 -> (B,): zero when the strokes move
    with the picture instead of being painted anew (Gupta et al. 2017; src/training/objective.py)."""
    return pixel_loss(repainted, moved, weight)


def pixel_loss(predicted, target, weight):
    """A student's pictures (B, H, W, 3) against its teacher's, both 0..255 -> (B,): the mean
    squared difference per example, so 10 * log10(255^2 / (loss / weight)) is their PSNR."""
    return weight * 2 * l2(predicted - target, axis=(1, 2, 3)) / _per_example_size(predicted)
