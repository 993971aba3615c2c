"""The style images (--style): each named after its file, at the size its Gram matrices are taken."""

import hashlib
from dataclasses import dataclass

import numpy as np

from src.images import resize


@dataclass
class Style:
    """A --style image, named after its file."""

    name: str
    rgb: np.ndarray  # (H, W, 3) float32 0..255, at the size its grams are computed
    alpha: np.ndarray | None = None  # (H, W) uint8 where it is transparent in part, else None

    def __post_init__(self):
        if self.alpha is not None and self.alpha.min() == 255:
            self.alpha = None  # an alpha channel with nothing transparent

    def scaled(self, factor):
        """The same style with its image resized by `factor` (--style-scale)."""
        if factor == 1:
            return self
        height, width = (max(1, round(side * factor)) for side in self.rgb.shape[:2])
        alpha = None if self.alpha is None else resize(np.repeat(self.alpha[..., None], 3, 2), height, width)[..., 0]
        return Style(self.name, resize(self.rgb, height, width), None if alpha is None else alpha.astype(np.uint8))

    def fingerprint(self):
        """Its pixels' hash, to refuse resuming a run with another style image (alpha included)."""
        pixels = np.ascontiguousarray(self.rgb).tobytes()
        if self.alpha is not None:
            pixels += np.ascontiguousarray(self.alpha).tobytes()
        return hashlib.sha256(pixels).hexdigest()[:16]
