"""Small VGG19 and VGG16 weight files in the real layouts, written by the tests themselves (the
real files cannot be downloaded here): real layer names, real structure, random weights, and
`width` channels in conv1_1 (64 is VGG's real width; the tests use narrow ones)."""

import h5py
import numpy as np
import scipy.io

from src.training.vgg import expected_shapes
from src.training.vgg_layers import MEAN_RGB, convolution_names


def random_weights(width=4, seed=0, network="VGG19"):
    """conv name -> (kernel [height, width, in, out] for RGB input, bias): the canonical form."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, (kernel_shape, bias_shape) in expected_shapes(width, network).items():
        fan_in = kernel_shape[0] * kernel_shape[1] * kernel_shape[2]
        kernel = rng.normal(0, np.sqrt(2 / fan_in), kernel_shape).astype(np.float32)
        weights[name] = (kernel, rng.normal(0, 0.1, bias_shape).astype(np.float32))
    return weights


def write_matconvnet(path, weights, drop=(), meta=False):
    """MatConvNet's imagenet-vgg-verydeep-19.mat layout: `layers` a 1xN cell array of structs
    (name, type, weights = {kernel [width, height, in, out], bias [out x 1]}), fc6..fc8 and a
    softmax after relu5_4, and normalization.averageImage (meta.normalization when `meta`)."""
    entries = []
    names = _names(weights)
    for name in names:
        block = name[4]
        if name in drop:
            continue
        kernel, bias = weights[name]
        cell = np.empty((1, 2), dtype=object)
        cell[0, 0] = np.transpose(kernel, (1, 0, 2, 3))  # MatConvNet's [width, height, in, out]
        cell[0, 1] = bias.reshape(-1, 1)
        stride, pad = np.array([[1, 1]]), np.array([[1, 1, 1, 1]])
        entries.append({"name": name, "type": "conv", "weights": cell, "stride": stride, "pad": pad})
        entries.append({"name": "relu" + name[4:], "type": "relu"})
        if _ends_block(name, names):
            entries.append({"name": f"pool{block}", "type": "pool", "method": "max", "pool": np.array([[2, 2]])})
    channels = weights[names[-1]][0].shape[-1]
    for name, shape in (("fc6", (1, 1, channels, 8)), ("fc7", (1, 1, 8, 8)), ("fc8", (1, 1, 8, 10))):
        cell = np.empty((1, 2), dtype=object)
        cell[0, 0], cell[0, 1] = np.zeros(shape, np.float32), np.zeros((shape[-1], 1), np.float32)
        entries.append({"name": name, "type": "conv", "weights": cell})
        if name != "fc8":
            entries.append({"name": "relu" + name[2:], "type": "relu"})
    entries.append({"name": "prob", "type": "softmax"})
    layers = np.empty((1, len(entries)), dtype=object)
    for i, entry in enumerate(entries):
        layers[0, i] = entry
    average = np.array(MEAN_RGB, np.float32).reshape(1, 1, 3)
    normalization = {"averageImage": average, "imageSize": np.array([[224, 224, 3]])}
    content = {"layers": layers}
    if meta:
        content["meta"] = {"normalization": normalization}
    else:
        content["normalization"] = normalization
    scipy.io.savemat(str(path), content)
    return path


def write_keras(path, weights, drop=(), slash_names=False):
    """Keras' vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 layout: a group per layer with
    a `weight_names` attribute, kernels [height, width, in, out] for BGR input."""
    with h5py.File(path, "w") as f:
        names = ["input_1"]
        f.create_group("input_1").attrs["weight_names"] = np.array([], dtype="S")
        convolutions = _names(weights)
        for name in convolutions:
            block, index = name[4:].split("_")
            layer = f"block{block}_conv{index}"
            names.append(layer)
            if name in drop:
                continue
            kernel, bias = weights[name]
            if name == "conv1_1":
                kernel = kernel[:, :, ::-1, :]  # the Keras file expects BGR
            group = f.create_group(layer)
            if slash_names:
                weight_names = [f"{layer}/kernel:0", f"{layer}/bias:0"]
            else:
                weight_names = [f"{layer}_W_1:0", f"{layer}_b_1:0"]
            group.attrs["weight_names"] = np.array([n.encode() for n in weight_names])
            group.create_dataset(weight_names[0], data=kernel)
            group.create_dataset(weight_names[1], data=bias)
            if _ends_block(name, convolutions):
                pool = f"block{block}_pool"
                names.append(pool)
                f.create_group(pool).attrs["weight_names"] = np.array([], dtype="S")
        f.attrs["layer_names"] = np.array([n.encode() for n in names])
        f.attrs["backend"] = b"tensorflow"
    return path


def _names(weights):
    """The convolutions of VGG19 or VGG16, whichever `weights` holds, in order."""
    return convolution_names("VGG19" if "conv3_4" in weights else "VGG16")


def _ends_block(name, names):
    following = names[names.index(name) + 1] if name != names[-1] else None
    return following is None or following[4] != name[4]
