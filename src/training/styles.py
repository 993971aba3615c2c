"""The style images (--style): each named after its file, at the size its Gram matrices are taken."""

from dataclasses import dataclass

import numpy as np

from src.images import resize


@dataclass
class Style:
    """A --style image, named after its file."""

    name: str
    rgb: np.ndarray  # (H, W, 3) float32 0..255, at the size its grams are computed

    def scaled(self, factor):
        """The same style with its image resized by `factor` (--style-scale)."""
        if factor == 1:
            return self
        height, width = (max(1, round(side * factor)) for side in self.rgb.shape[:2])
        return Style(self.name, resize(self.rgb, height, width))
