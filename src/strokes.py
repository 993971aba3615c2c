"""Stroke size (--stroke-scale K): a network paints strokes of a fixed size in pixels, so a
12-megapixel photo gets tiny strokes and a thumbnail huge ones (the original's issue #259).
K > 1 stylizes the photo at 1/K of its size, so that the strokes come out K times larger, and
brings the picture back to the photo's exact size; K < 1 stylizes it enlarged, for finer strokes.

Back at full size an enlarged picture is soft, and the photo's own fine detail (hair, leaves,
text) is gone. We put that detail back: the luminance the shrinking removed from the photo,
Y - up(down(Y)), is added to every channel of the enlarged picture, so its edges are the photo's
at full resolution while its colours and strokes are the network's (a luminance variant of
detail transfer; Durand and Dorsey 2002 use the same split of an image into base and detail).
bench/strokes.py measures the stroke size (the peak of the picture's power spectrum) and the
sharpness against a plain resize.
"""

import numpy as np
from PIL import Image

# The network needs a few pixels per stride-4 step to paint anything: the smallest side it gets.
MIN_SIDE = 16
# ITU-R BT.601 luma weights, as src/blend.py's colour preservation uses.
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def working_size(height, width, scale):
    """(height, width) the network paints at for --stroke-scale `scale`."""
    factor = max(1.0 / scale, MIN_SIDE / min(height, width))
    return max(1, round(height * factor)), max(1, round(width * factor))


def resample(rgb, height, width):
    """(H, W, C) float 0..255 -> (height, width, C) float32: area-averaging (Lanczos) when
    shrinking, bicubic when enlarging; on float values, not 8-bit ones, so no rounding is added."""
    rgb = np.asarray(rgb, np.float32)
    if rgb.shape[:2] == (height, width):
        return rgb
    smaller = height * width < rgb.shape[0] * rgb.shape[1]
    method = Image.Resampling.LANCZOS if smaller else Image.Resampling.BICUBIC
    planes = [np.asarray(Image.fromarray(rgb[..., c]).resize((width, height), method)) for c in range(rgb.shape[-1])]
    return np.stack(planes, axis=-1)


def luminance(rgb):
    """(..., 3) 0..255 -> (..., 1)."""
    return (np.asarray(rgb, np.float32) @ LUMA)[..., None]


def back_to_size(painted, photo):
    """The picture painted at another size (h, w, 3) -> the photo's size (H, W, 3), float32 0..255.
    Enlarged, it gets the photo's fine luminance detail back; reduced, it keeps its own."""
    height, width = photo.shape[:2]
    result = resample(painted, height, width)
    if painted.shape[0] * painted.shape[1] < height * width:
        y = luminance(photo)
        base = resample(resample(y, *painted.shape[:2]), height, width)
        result += y - base
    return np.clip(result, 0.0, 255.0)
