"""The loss network: VGG19 (Simonyan & Zisserman 2015) up to relu5_1, frozen, built from one of
its two published weight files, recognised by content rather than by name:

- MatConvNet's `imagenet-vgg-verydeep-19.mat` (the original's; MATLAB v5): `layers` is a cell
  array of layer structs with fields `name`, `type` and `weights`, a cell of kernel
  [width, height, in, out] and bias; `normalization.averageImage` (`meta.normalization` in later
  MatConvNet releases) holds the RGB mean. fc6..fc8 and the softmax after relu5_4 are ignored.
- Keras' `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5` (HDF5): one group per layer,
  `block1_conv1` ... `block5_conv4`, whose `weight_names` attribute names the kernel
  [height, width, in, out] and the bias. Those weights expect BGR input.

Both become the same network: RGB 0..255 in (the convention of src/pixels.py), the mean
subtracted inside. The Keras kernels' input channels are flipped from BGR to RGB once, when they
are read, which is exactly converting every image to BGR.

Every layer shape is checked before training starts. The widths must be VGG19's, or all of
them the same fraction of VGG19's (set by conv1_1): the tests use such narrow files.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from keras import layers, ops

from src.errors import first_line

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
# The mean of VGG's ImageNet training images, RGB, 0..255 (the original's MEAN_PIXEL).
MEAN_RGB = (123.68, 116.779, 103.939)
# VGG19's five blocks: (output channels, convolutions); a 2x2 max pool ends each block.
BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))
CONVOLUTIONS = tuple(f"conv{b}_{i}" for b, (_, n) in enumerate(BLOCKS, 1) for i in range(1, n + 1))
# The loss reads nothing past relu5_1, so the network stops there.
LAST_LAYER = "relu5_1"

_MATLAB_V5 = b"MATLAB 5.0 MAT-file"
_MATLAB_V73 = b"MATLAB 7.3 MAT-file"
_HDF5 = b"\x89HDF\r\n\x1a\n"
_FULL_SIZE = {"MatConvNet": "about 510 MB", "Keras": "about 80 MB"}


class VggError(Exception):
    """A VGG19 weight file that cannot be used; the message names the file and what is wrong."""


@dataclass
class VggWeights:
    """conv name -> (kernel [height, width, in, out] for RGB input, bias [out]), float32."""

    convolutions: dict
    mean: np.ndarray  # (3,) RGB, subtracted from 0..255 pixels
    layout: str  # "MatConvNet" or "Keras"
    path: Path

    @property
    def width(self):
        """conv1_1's output channels: 64 for the real files."""
        return self.convolutions["conv1_1"][0].shape[-1]


def load_vgg_weights(path):
    """A VGG19 weight file in either layout -> VggWeights, every shape checked; VggError else."""
    path = Path(path)
    if not path.exists():
        raise VggError(f"VGG19 weights {path} not found (bash setup.sh --vgg downloads them)")
    if not path.is_file():
        raise VggError(f"VGG19 weights {path} is not a file")
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
            f"{path} is not a VGG19 weight file: expected MatConvNet's imagenet-vgg-verydeep-19.mat or "
            "Keras' vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
            + (" (it is empty)" if not head else "")
        )
    _check_shapes(path, convolutions)
    return VggWeights(convolutions, mean, layout, path)


def _cut_short(path, layout, error):
    size = path.stat().st_size / 1e6
    return VggError(
        f"cannot read {path} as {layout} VGG19 weights ({first_line(error)}); a complete file is {_FULL_SIZE[layout]}, "
        f"this one {size:.1f} MB: it may be cut short, download it again"
    )


def _read_matconvnet(path):
    import scipy.io

    try:
        data = scipy.io.loadmat(str(path))
    except Exception as error:  # scipy raises many types for a damaged or cut file
        raise _cut_short(path, "MatConvNet", error) from None
    if "layers" not in data:
        raise VggError(f"{path} is a MATLAB file but not MatConvNet's VGG19: it has no 'layers'")
    convolutions = {}
    for cell in np.ravel(data["layers"]):
        layer = _scalar(cell)
        name = _text(_field(layer, "name"))
        if name not in CONVOLUTIONS:
            continue  # relu, pool, and fc6..fc8 / softmax after relu5_4
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
    convolutions = {}
    for name in CONVOLUTIONS:
        block, index = name[4:].split("_")
        group_name = f"block{block}_conv{index}"
        if group_name not in f:
            found = ", ".join(list(f.keys())[:4]) or "nothing"
            raise VggError(f"{path} is an HDF5 file but not Keras' VGG19: it has no {group_name} (it has {found})")
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


def expected_shapes(width=64):
    """conv name -> (kernel shape, bias shape) of VGG19 with `width` channels in conv1_1."""
    shapes, channels_in = {}, 3
    for b, (channels, count) in enumerate(BLOCKS, 1):
        channels = channels * width // 64
        for i in range(1, count + 1):
            shapes[f"conv{b}_{i}"] = ((3, 3, channels_in, channels), (channels,))
            channels_in = channels
    return shapes


def _check_shapes(path, convolutions):
    missing = [name for name in CONVOLUTIONS if name not in convolutions]
    if missing:
        hint = " (that is VGG16; training needs VGG19)" if missing == ["conv3_4", "conv4_4", "conv5_4"] else ""
        raise VggError(f"{path} is not VGG19 weights: it lacks {', '.join(missing)}{hint}")
    width = convolutions["conv1_1"][0].shape[-1] if convolutions["conv1_1"][0].ndim == 4 else 64
    for name, (kernel_shape, bias_shape) in expected_shapes(width).items():
        kernel, bias = convolutions[name]
        if kernel.shape != kernel_shape or bias.shape != bias_shape:
            raise VggError(
                f"{path} is not VGG19 weights: {name} has kernel {list(kernel.shape)} and bias "
                f"{list(bias.shape)} where VGG19 has {list(kernel_shape)} and {list(bias_shape)}"
            )


def build_vgg(weights):
    """VggWeights -> a frozen VggFeatures layer holding them."""
    network = VggFeatures(weights.width, weights.mean)
    network.build((None, None, None, 3))
    for layer in network.convolutions:
        layer.set_weights(list(weights.convolutions[layer.name]))
    network.trainable = False
    return network


def _layer_sequence():
    """VGG19's layer names in order, up to LAST_LAYER."""
    names = []
    for b, (_, count) in enumerate(BLOCKS, 1):
        for i in range(1, count + 1):
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
            if names[-1] == LAST_LAYER:
                return names
        names.append(f"pool{b}")
    return names


class VggFeatures(layers.Layer):
    """images (B, H, W, 3) RGB 0..255 -> {relu1_1 ... relu5_1, relu4_2: (B, h, w, C)}, float32."""

    def __init__(self, width=64, mean=MEAN_RGB, **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)
        self.mean = np.asarray(mean, np.float32)
        self.sequence = _layer_sequence()
        shapes = expected_shapes(self.width)
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
                if name in STYLE_LAYERS or name == CONTENT_LAYER:
                    features[name] = x
            else:
                x = self.pool(x)
        return features

