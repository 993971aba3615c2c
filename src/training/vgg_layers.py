"""The VGG networks' layer names, and the layers and loss weights style.py uses by default with
each: plain data without Keras, so that `style.py --help` stays instant (src/training/vgg.py builds the
network).

VGG19's defaults are the original's. VGG16's were chosen by training with real ImageNet weights
and judging the results (bench/quality.py; the figures are in bench/README.md).
"""

from dataclasses import dataclass

# Each network's five blocks: (output channels, convolutions); a 2x2 max pool ends each block.
ARCHITECTURES = {
    "VGG19": ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4)),
    "VGG16": ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)),
}
# The original's layers (VGG19): Gatys et al.'s first ReLU of each block for style, relu4_2 for
# content.
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
# The mean of VGG's ImageNet training images, RGB, 0..255 (the original's MEAN_PIXEL).
MEAN_RGB = (123.68, 116.779, 103.939)


@dataclass(frozen=True)
class LossLayers:
    """The VGG layers the losses read: Gram matrices of `style`, features of `content`."""

    style: tuple
    content: str

    @property
    def names(self):
        return (*self.style, self.content)


# Johnson et al. (2016) trained with VGG16: style relu1_2, relu2_2, relu3_3, relu4_3, content
# relu2_2; selectable with --style-layers / --content-layer. VGG16 keeps the original's idea
# instead (its layers exist in both networks), which the judge of bench/quality.py can score on
# layers it does not train.
JOHNSON_LAYERS = LossLayers(("relu1_2", "relu2_2", "relu3_3", "relu4_3"), "relu2_2")
DEFAULT_LAYERS = {
    "VGG19": LossLayers(STYLE_LAYERS, CONTENT_LAYER),
    "VGG16": LossLayers(STYLE_LAYERS, CONTENT_LAYER),
}
# (content, style, tv) per network. VGG19's are the original's defaults; VGG16's content weight
# is the 15 of the original's README example, which bench/quality.py measured closer to the
# published model in both style and content than 7.5 (bench/README.md).
DEFAULT_WEIGHTS = {"VGG19": (7.5, 100.0, 200.0), "VGG16": (15.0, 100.0, 200.0)}


def convolution_names(network="VGG19"):
    return tuple(f"conv{b}_{i}" for b, (_, n) in enumerate(ARCHITECTURES[network], 1) for i in range(1, n + 1))


CONVOLUTIONS = convolution_names("VGG19")


def relu_names(network="VGG19"):
    return tuple("relu" + name[4:] for name in convolution_names(network))


def check_layers(network, layers):
    """LossLayers -> the same, or ValueError naming the layers `network` has."""
    valid = relu_names(network)
    unknown = [name for name in layers.names if name not in valid]
    if unknown:
        raise ValueError(f"{network} has no layer {', '.join(unknown)}: its layers are {', '.join(valid)}")
    if not layers.style:
        raise ValueError("give at least one style layer")
    return layers
