"""References in plain NumPy (float64), written independently of src/: the original's transform
network (from its src/transform.py and TensorFlow's documented 'SAME' padding rules), and the
loss math (l2, Gram matrices, the VGG forward pass)."""

import numpy as np


def conv2d_same(x, kernel, stride):
    """TF conv2d, padding 'SAME': x (B, H, W, Cin), kernel (k, k, Cin, Cout)."""
    k = kernel.shape[0]
    _, h, w, _ = x.shape
    out_h, out_w = -(-h // stride), -(-w // stride)
    pad_h = max((out_h - 1) * stride + k - h, 0)
    pad_w = max((out_w - 1) * stride + k - w, 0)
    x = np.pad(x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    out = np.zeros((x.shape[0], out_h, out_w, kernel.shape[3]))
    for dy in range(k):
        for dx in range(k):
            patch = x[:, dy : dy + (out_h - 1) * stride + 1 : stride, dx : dx + (out_w - 1) * stride + 1 : stride]
            out += patch @ kernel[dy, dx]
    return out


def conv2d_transpose_same(x, kernel, stride):
    """TF conv2d_transpose to stride x the input size, padding 'SAME': the adjoint of
    conv2d_same from (stride*H, stride*W) to (H, W). kernel (k, k, Cout, Cin)."""
    k = kernel.shape[0]
    batch, h, w, _ = x.shape
    out_h, out_w = h * stride, w * stride
    pad_h = max((h - 1) * stride + k - out_h, 0) // 2
    pad_w = max((w - 1) * stride + k - out_w, 0) // 2
    out = np.zeros((batch, out_h + k + stride, out_w + k + stride, kernel.shape[2]))
    for dy in range(k):
        for dx in range(k):
            contribution = x @ kernel[dy, dx].T  # (B, H, W, Cout)
            out[:, dy : dy + h * stride : stride, dx : dx + w * stride : stride] += contribution
    return out[:, pad_h : pad_h + out_h, pad_w : pad_w + out_w]


def instance_norm(x, shift, scale, epsilon=1e-3):
    mean = x.mean(axis=(1, 2), keepdims=True)
    variance = x.var(axis=(1, 2), keepdims=True)
    return scale * (x - mean) / np.sqrt(variance + epsilon) + shift


def transform_net(images, arrays):
    """images (B, H, W, 3) 0..255; arrays: the original's 48 variables in order. Returns the
    uncropped output (4 * ceil(H / 4) high), as the original computed it."""
    layers = iter([[np.asarray(a, np.float64) for a in arrays[i : i + 3]] for i in range(0, 48, 3)])

    def conv(x, stride, relu=True, transpose=False):
        kernel, shift, scale = next(layers)
        x = (conv2d_transpose_same if transpose else conv2d_same)(x, kernel, stride)
        x = instance_norm(x, shift, scale)
        return np.maximum(x, 0) if relu else x

    x = np.asarray(images, np.float64)
    x = conv(conv(conv(x, 1), 2), 2)
    for _ in range(5):
        x = x + conv(conv(x, 1), 1, relu=False)
    x = conv(conv(x, 2, transpose=True), 2, transpose=True)
    x = conv(x, 1, relu=False)
    return np.tanh(x) * 150 + 255.0 / 2


# The loss math in float64 (src/training/losses.py, src/training/vgg.py).


def l2(x):
    return np.sum(np.square(np.asarray(x, np.float64))) / 2


def gram(features):
    """One example (H, W, C) -> (C, C) = F^T F / (H*W*C)."""
    height, width, channels = features.shape
    flat = features.reshape(height * width, channels).astype(np.float64)
    return flat.T @ flat / (height * width * channels)


def numpy_vgg(images, weights, mean, last="relu5_1"):
    """VGG19 or VGG16 (whichever `weights` holds) up to `last` in float64: 3x3 'same'
    convolutions, ReLU, 2x2 max pools that round odd sizes up (TensorFlow's 'SAME'), on RGB minus
    the mean."""
    x = np.asarray(images, np.float64) - mean
    features = {}
    counts = (2, 2, 4, 4, 4) if "conv3_4" in weights else (2, 2, 3, 3, 3)
    for block, count in enumerate(counts, 1):
        for i in range(1, count + 1):
            kernel, bias = weights[f"conv{block}_{i}"]
            padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
            height, width = x.shape[1:3]
            x = sum(padded[:, dy : dy + height, dx : dx + width] @ kernel[dy, dx] for dy in range(3) for dx in range(3))
            x = np.maximum(x + bias, 0)
            features[f"relu{block}_{i}"] = x
            if f"relu{block}_{i}" == last:
                return features
        height, width = x.shape[1:3]
        x = np.pad(x, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), constant_values=-np.inf)
        x = x.reshape(x.shape[0], x.shape[1] // 2, 2, x.shape[2] // 2, 2, -1).max(axis=(2, 4))
