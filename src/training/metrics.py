"""How stylized a picture is, judged by a fixed VGG network at layers the training does not use,
so that a model cannot score well by fitting its own loss (bench/quality.py; bench/README.md).

    content distance = sum((phi(y) - phi(x))^2) / sum(phi(x)^2)           at JUDGE_LAYERS.content
    style distance   = mean over JUDGE_LAYERS.style of ||G(y) - G(s)||_F / ||G(s)||_F

with x the photo, y the stylized picture, s the style image, phi a layer's features and G their
Gram matrix (src/training/losses.py). Both are 0 for a perfect match and scale-free: the content distance
is the fraction of the photo's feature energy that changed, the style distance the relative
error of the style's Gram matrices. The photo itself has content distance 0 and a style distance
that is the floor a stylized picture must go below.
"""

import numpy as np

from src.training.vgg import build_vgg
from src.training.vgg_layers import LossLayers

# The last ReLU of each of VGG16's blocks for style, relu3_3 for content: none of them is a
# layer that style.py trains with by default (the first ReLU of each block, relu4_2).
JUDGE_LAYERS = LossLayers(("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"), "relu3_3")


def gram(features):
    """(B, H, W, C) -> (B, C, C), F^T F / (H*W*C), in float64."""
    batch, height, width, channels = features.shape
    flat = np.asarray(features, np.float64).reshape(batch, height * width, channels)
    return np.einsum("bnc,bnd->bcd", flat, flat) / (height * width * channels)


def content_distance(photo_features, stylized_features):
    """(B, H, W, C) features of the photos and of their stylized pictures -> (B,)."""
    photo, stylized = (np.asarray(f, np.float64) for f in (photo_features, stylized_features))
    return np.sum((stylized - photo) ** 2, axis=(1, 2, 3)) / np.maximum(np.sum(photo**2, axis=(1, 2, 3)), 1e-12)


def style_distance(stylized_grams, style_grams):
    """{layer: (B, C, C)} of the pictures, {layer: (C, C)} of the style image -> (B,)."""
    per_layer = [
        np.linalg.norm(stylized_grams[layer] - target, axis=(1, 2)) / max(np.linalg.norm(target), 1e-12)
        for layer, target in style_grams.items()
    ]
    return np.mean(per_layer, axis=0)


class Judge:
    """A frozen VGG (src/training/vgg.py VggWeights) that scores stylized pictures against photos and one
    style image, all float32 RGB 0..255."""

    def __init__(self, vgg_weights, style_image, layers=JUDGE_LAYERS):
        self.layers = layers
        self.vgg = build_vgg(vgg_weights, layers)
        features = self._features(np.asarray(style_image, np.float32)[None])
        self.style_grams = {layer: gram(features[layer])[0] for layer in layers.style}

    def _features(self, images):
        return {name: np.asarray(value) for name, value in self.vgg(np.asarray(images, np.float32)).items()}

    def score(self, photos, stylized):
        """(B, H, W, 3) photos and their stylized pictures -> {"content": (B,), "style": (B,)}."""
        photo_features, features = self._features(photos), self._features(stylized)
        grams = {layer: gram(features[layer]) for layer in self.layers.style}
        return {
            "content": content_distance(photo_features[self.layers.content], features[self.layers.content]),
            "style": style_distance(grams, self.style_grams),
        }
