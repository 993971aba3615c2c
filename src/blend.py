"""How the stylized image is combined with the photo, after the network: colour preservation and
strength. Both are per-pixel, so they give the same result on whole images, tiles and video frames.
Inputs and outputs are float RGB 0..255 (src/pixels.py), any leading shape.
"""

import numpy as np

# ITU-R BT.601 luma weights, the Y of YUV / YIQ / YCbCr.
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def luminance(rgb):
    """(..., 3) -> (...)"""
    return rgb @ LUMA


def preserve_color(photo, stylized):
    """The photo's colours with the stylized image's luminance: Gatys et al. (2016), "Preserving
    Color in Neural Artistic Style Transfer", luminance-only transfer. In any luma/chroma space
    whose luma is a weighted sum of R, G and B (YUV, YIQ, YCbCr), keeping the photo's chroma and
    taking the stylized luma is the same as shifting each photo pixel's R, G and B equally by the
    difference in luma, which is what this does."""
    shifted = photo + (luminance(stylized) - luminance(photo))[..., None]
    return np.clip(shifted, 0.0, 255.0)


def apply_strength(photo, stylized, strength):
    """0 gives the photo back, 1 the full style, values between blend linearly."""
    if strength >= 1.0:
        return stylized
    if strength <= 0.0:
        return photo.copy()
    return strength * stylized + (1.0 - strength) * photo
