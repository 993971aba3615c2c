"""The loss network: VGG19 or VGG16 (Simonyan & Zisserman 2015), frozen, up to the deepest layer
the losses read, built from a published weight file recognised by content rather than by name:

- MatConvNet's `imagenet-vgg-verydeep-19.mat` (the original's; MATLAB v5): `layers` is a cell
  array of layer structs with fields `name`, `type` and `weights`, a cell of kernel
  [width, height, in, out] and bias; `normalization.averageImage` (`meta.normalization` in later
  MatConvNet releases) holds the RGB mean. fc6..fc8 and the softmax after relu5_4 are ignored.
- Keras' `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5` or
  `vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5` (HDF5): one group per layer,
  `block1_conv1` ... `block5_conv4` (`block5_conv3` for VGG16), whose `weight_names` attribute
  names the kernel [height, width, in, out] and the bias. Those weights expect BGR input.

Which network a file holds is read from its layer set: VGG19 has four convolutions in blocks 3
to 5, VGG16 three. MatConvNet's `imagenet-vgg-verydeep-16.mat` is read the same way.

Both become the same network: RGB 0..255 in (the convention of src/pixels.py), the mean
subtracted inside. The Keras kernels' input channels are flipped from BGR to RGB once, when they
are read, which is exactly converting every image to BGR.

Every layer shape is checked before training starts. The widths must be VGG's, or all of them
the same fraction of VGG's (set by conv1_1): the tests use such narrow files.

The losses read ReLU outputs named relu{block}_{index}; the names, and each network's default
layers and loss weights, are in src/training/vgg_layers.py.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from keras import layers, ops

from src.errors import first_line
from src.training.vgg_layers import (
    ARCHITECTURES,
    CONTENT_LAYER,
    CONVOLUTIONS,
    DEFAULT_LAYERS,
    MEAN_RGB,
    STYLE_LAYERS,
    check_layers,
    convolution_names,
    relu_names,
)

_MATLAB_V5 = b"MATLAB 5.0 MAT-file"
_MATLAB_V73 = b"MATLAB 7.3 MAT-file"
_HDF5 = b"\x89HDF\r\n\x1a\n"
_FULL_SIZE = {"MatConvNet": "about 510 MB (VGG19)", "Keras": "about 80 MB for VGG19, 59 MB for VGG16"}


class VggError(Exception):
    """A VGG weight file that cannot be used; the message names the file and what is wrong."""


@dataclass
class VggWeights:
    """conv name -> (kernel [height, width, in, out] for RGB input, bias [out]), float32."""

    convolutions: dict
    mean: np.ndarray  # (3,) RGB, subtracted from 0..255 pixels
    layout: str  # "MatConvNet" or "Keras"
    path: Path
    network: str = "VGG19"  # or "VGG16"

    @property
    def width(self):
        """conv1_1's output channels: 64 for the real files."""
        return self.convolutions["conv1_1"][0].shape[-1]

    def fingerprint(self):
        """A short hash of the weights themselves (not of the file, whose layout may differ)."""
        digest = hashlib.sha256()
        for name in sorted(self.convolutions):
            for array in self.convolutions[name]:
                digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:16]


def load_vgg_weights(path):
    """A VGG19 or VGG16 weight file in either layout -> VggWeights, every shape checked; VggError else."""
    path = Path(path)
    if not path.exists():
        raise VggError(f"VGG weights {path} not found (bash setup.sh --vgg, --vgg-keras or --vgg16 downloads them)")
    if not path.is_file():
        raise VggError(f"VGG weights {path} is not a file")
    with open(path, "rb") as f:
        head = f.read(len(_MATLAB_V5))
    if head.startswith(_MATLAB_V73[:10]):
        raise VggError(f"{path} is a MATLAB v7.3 file; MatConvNet's imagenet-vgg-verydeep-19.mat is MATLAB v5")
    if head.startswith(_MATLAB_V5[:10]):
        layout, (convolutions, mean) = "MatConvNet", _read_matconvnet(path)
    elif head.startswith(_HDF5):
        layout, (convolutions, mean) = "Keras", _read_keras(path)
    else:
        raise VggError(
            f"{path} is not a VGG weight file: expected MatConvNet's imagenet-vgg-verydeep-19.mat or "
            "Keras' vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 or vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
            + (" (it is empty)" if not head else "")
        )
    network = _check_shapes(path, convolutions)
    return VggWeights(convolutions, mean, layout, path, network)


def _cut_short(path, layout, error):
    size = path.stat().st_size / 1e6
    return VggError(
        f"cannot read {path} as {layout} VGG weights ({first_line(error)}); a complete file is {_FULL_SIZE[layout]}, "
        f"this one {size:.1f} MB: it may be cut short, download it again"
    )


def _read_matconvnet(path):
    import scipy.io

    try:
        data = scipy.io.loadmat(str(path))
    except Exception as error:  # scipy raises many types for a damaged or cut file
        raise _cut_short(path, "MatConvNet", error) from None
    if "layers" not in data:
        raise VggError(f"{path} is a MATLAB file but not MatConvNet's VGG: it has no 'layers'")
    convolutions = {}
    for cell in np.ravel(data["layers"]):
        layer = _scalar(cell)
        name = _text(_field(layer, "name"))
        if name not in CONVOLUTIONS:
            continue  # relu, pool, and fc6..fc8 / softmax after the last ReLU
        weights = _field(layer, "weights")
        if _text(_field(layer, "type")) != "conv" or weights is None or np.size(weights) != 2:
            raise VggError(f"{path}: layer {name} is not a convolution with a kernel and a bias")
        kernel, bias = (np.asarray(a, dtype=np.float32) for a in np.ravel(weights))
        # MatConvNet stores [width, height, in, out]; the original transposed to [height, width, ...].
        convolutions[name] = (np.transpose(kernel, (1, 0, 2, 3)) if kernel.ndim == 4 else kernel, bias.reshape(-1))
    normalization = _field(_scalar(data.get("meta")), "normalization") if "meta" in data else data.get("normalization")
    average = _field(_scalar(normalization), "averageImage")
    mean = np.asarray(average, np.float64).reshape(-1, 3).mean(axis=0) if np.size(average) >= 3 else MEAN_RGB
    return convolutions, np.asarray(mean, np.float32)


def _scalar(value):
    """MATLAB values arrive wrapped in 1x1 cell or struct arrays: unwrap them."""
    while isinstance(value, np.ndarray) and value.size == 1 and (value.dtype == object or value.dtype.names):
        value = value.reshape(-1)[0]
    return value


def _field(struct, name):
    names = getattr(getattr(struct, "dtype", None), "names", None) or ()
    return _scalar(struct[name]) if name in names else None


def _text(value):
    if isinstance(value, np.ndarray):
        return str(value.reshape(-1)[0]) if value.size else ""
    return "" if value is None else str(value)


def _read_keras(path):
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return _read_keras_groups(path, f), np.asarray(MEAN_RGB, np.float32)
    except VggError:
        raise
    except Exception as error:  # h5py raises OSError, KeyError, ... for a damaged or cut file
        raise _cut_short(path, "Keras", error) from None


def _read_keras_groups(path, f):
    # VGG19 has block3_conv4; without it, the file must be all of VGG16.
    network = "VGG19" if "block3_conv4" in f else "VGG16" if "block1_conv1" in f else "VGG19 or VGG16"
    convolutions = {}
    for name in convolution_names(network if network in ARCHITECTURES else "VGG16"):
        block, index = name[4:].split("_")
        group_name = f"block{block}_conv{index}"
        if group_name not in f:
            found = ", ".join(list(f.keys())[:4]) or "nothing"
            raise VggError(
                f"{path} is an HDF5 file but not Keras' {network}: it has no {group_name} (it has {found})"
            )
        group = f[group_name]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("weight_names", [])]
        arrays = [np.asarray(group[n], dtype=np.float32) for n in names]
        kernels = [a for a in arrays if a.ndim == 4]
        biases = [a for a in arrays if a.ndim == 1]
        if len(kernels) != 1 or len(biases) != 1:
            raise VggError(f"{path}: {group_name} does not hold one kernel and one bias (weight_names: {names})")
        kernel = kernels[0][:, :, ::-1, :] if name == "conv1_1" else kernels[0]  # BGR -> RGB input
        convolutions[name] = (np.ascontiguousarray(kernel), biases[0])
    return convolutions


def expected_shapes(width=64, network="VGG19"):
    """conv name -> (kernel shape, bias shape) of the network with `width` channels in conv1_1."""
    shapes, channels_in = {}, 3
    for b, (channels, count) in enumerate(ARCHITECTURES[network], 1):
        channels = channels * width // 64
        for i in range(1, count + 1):
            shapes[f"conv{b}_{i}"] = ((3, 3, channels_in, channels), (channels,))
            channels_in = channels
    return shapes


def _check_shapes(path, convolutions):
    """-> "VGG19" or "VGG16", the network whose layers and shapes the file holds; VggError else."""
    network = "VGG19" if "conv3_4" in convolutions else "VGG16"
    missing = [name for name in convolution_names(network) if name not in convolutions]
    if missing:
        raise VggError(f"{path} is not {network} weights: it lacks {', '.join(missing)}")
    width = convolutions["conv1_1"][0].shape[-1] if convolutions["conv1_1"][0].ndim == 4 else 64
    for name, (kernel_shape, bias_shape) in expected_shapes(width, network).items():
        kernel, bias = convolutions[name]
        if kernel.shape != kernel_shape or bias.shape != bias_shape:
            raise VggError(
                f"{path} is not {network} weights: {name} has kernel {list(kernel.shape)} and bias "
                f"{list(bias.shape)} where {network} has {list(kernel_shape)} and {list(bias_shape)}"
            )
    return network


def build_vgg(weights, layers=None):
    """VggWeights -> a frozen VggFeatures layer holding them, computing `layers` (LossLayers;
    default: the network's DEFAULT_LAYERS)."""
    layers = check_layers(weights.network, layers or DEFAULT_LAYERS[weights.network])
    network = VggFeatures(weights.width, weights.mean, weights.network, layers.style, layers.content)
    network.build((None, None, None, 3))
    for layer in network.convolutions:
        layer.set_weights(list(weights.convolutions[layer.name]))
    network.trainable = False
    return network


def _layer_sequence(network, outputs):
    """The network's layer names in order, up to the deepest of `outputs`: the rest is never read."""
    names, last = [], max(relu_names(network).index(name) for name in outputs)
    for b, (_, count) in enumerate(ARCHITECTURES[network], 1):
        for i in range(1, count + 1):
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
            if names[-1] == relu_names(network)[last]:
                return names
        names.append(f"pool{b}")
    return names


class VggFeatures(layers.Layer):
    """images (B, H, W, 3) RGB 0..255 -> {each style layer and the content layer: (B, h, w, C)}, float32."""

    def __init__(
        self, width=64, mean=MEAN_RGB, network="VGG19", style_layers=STYLE_LAYERS, content_layer=CONTENT_LAYER, **kwargs
    ):
        super().__init__(**kwargs)
        self.width, self.network = int(width), network
        self.mean = np.asarray(mean, np.float32)
        self.style_layers, self.content_layer = tuple(style_layers), content_layer
        self.outputs = tuple(dict.fromkeys((*self.style_layers, content_layer)))
        self.sequence = _layer_sequence(network, self.outputs)
        shapes = expected_shapes(self.width, network)
        self.convolutions = [
            layers.Conv2D(shapes[name][0][-1], 3, padding="same", name=name)
            for name in self.sequence
            if name.startswith("conv")
        ]
        # The original's tf.nn.max_pool(ksize 2, stride 2, 'SAME'): odd sizes round up.
        self.pool = layers.MaxPooling2D(2, 2, padding="same")

    def build(self, input_shape):
        channels = input_shape[-1]
        for conv in self.convolutions:
            conv.build((None, None, None, channels))
            channels = conv.filters

    def call(self, images):
        x = ops.cast(images, "float32") - self.mean
        convolutions = iter(self.convolutions)
        features = {}
        for name in self.sequence:
            if name.startswith("conv"):
                x = next(convolutions)(x)
            elif name.startswith("relu"):
                x = ops.relu(x)
                if name in self.outputs:
                    features[name] = x
            else:
                x = self.pool(x)
        return features
