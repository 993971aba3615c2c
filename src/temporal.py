"""Motion between video frames: warping by optical flow, the occlusion check, and the warping
error that measures flicker (Lai et al. 2018, "Learning Blind Video Temporal Consistency").

A flow here is always *backward*, (H, W, 2) float32 (dx, dy) in pixels: flow[y, x] says where
pixel (x, y) of frame t was in frame t-1, so `warp(frame t-1, flow)` lines frame t-1 up with
frame t. Images are (H, W, C) float32; the warping error reads them on a 0..1 scale, as Lai et
al. report it (frames in 0..255 are divided by 255).

The math is NumPy (the reference the tests check); `estimate_flow` and the fast `remap` use
OpenCV (opencv-python-headless), imported only when called.
"""

import numpy as np

# Forward-backward consistency (Sundaram et al. 2010, the test Ruder et al. 2016 and Lai et al.
# 2018 use): a pixel is trusted when following its backward flow and then the forward flow from
# where it lands comes back within this tolerance: |b + f(x+b)|^2 <= A (|b|^2 + |f(x+b)|^2) + B.
CONSISTENCY_A, CONSISTENCY_B = 0.01, 0.5


def inside_mask(x, y, height, width):
    """Which float coordinates x, y fall inside a height x width image: (H', W') bool."""
    return (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


def sample(image, x, y):
    """Bilinear samples of (H, W, C) `image` at float coordinates x, y (H', W') -> (H', W', C) and a
    mask (H', W') of the points inside the image (outside points read the nearest edge)."""
    height, width = image.shape[:2]
    inside = inside_mask(x, y, height, width)
    x, y = np.clip(x, 0, width - 1), np.clip(y, 0, height - 1)
    x0, y0 = np.minimum(np.floor(x).astype(np.int64), width - 2), np.minimum(np.floor(y).astype(np.int64), height - 2)
    x0, y0 = np.maximum(x0, 0), np.maximum(y0, 0)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32), inside


def grid(height, width):
    """Pixel coordinates (H, W) x and y, float32."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return x, y


def warp(image, flow):
    """(H, W, C) frame t-1, backward flow (H, W, 2) -> (frame t-1 seen from frame t, inside mask)."""
    x, y = grid(*flow.shape[:2])
    return sample(image, x + flow[..., 0], y + flow[..., 1])


def consistent(backward, forward, warp=warp):
    """Backward flow t -> t-1 and forward flow t-1 -> t, both (H, W, 2) -> (H, W) bool: pixels of
    frame t that are visible in frame t-1 (not occluded, not outside it, flow not contradicted).
    warp: this module's, or FlowEstimator.warp (the same, faster)."""
    forward_there, inside = warp(forward, backward)
    # Written per component: NumPy's sums over a last axis of 2 took most of a stabilized frame's time.
    bx, by, fx, fy = backward[..., 0], backward[..., 1], forward_there[..., 0], forward_there[..., 1]
    round_trip = (bx + fx) ** 2 + (by + fy) ** 2
    tolerance = CONSISTENCY_A * ((bx**2 + by**2) + (fx**2 + fy**2)) + CONSISTENCY_B
    return inside & (round_trip <= tolerance)


def warping_error(previous, current, backward, mask=None):
    """Mean squared difference between frame t and frame t-1 warped onto it, over the trusted
    pixels, on a 0..255 input read as 0..1. previous, current: (H, W, C) 0..255; backward: the
    input's flow t -> t-1; mask: (H, W) bool of trusted pixels (default: those inside frame t-1)."""
    warped, inside = warp(np.asarray(previous, np.float32), backward)
    mask = inside if mask is None else (mask & inside)
    if not mask.any():
        return float("nan")
    difference = (np.asarray(current, np.float32) - warped) / 255.0
    return float(np.mean(np.sum(difference[mask] ** 2, axis=-1) / difference.shape[-1]))


def clip_warping_error(frames, flows, masks=None):
    """Average warping error of a clip: frames [(H, W, C)] 0..255, flows[i] the backward flow of
    frame i+1 onto frame i, masks[i] its trusted pixels (None: inside the frame)."""
    masks = masks if masks is not None else [None] * len(flows)
    errors = [warping_error(frames[i], frames[i + 1], flows[i], masks[i]) for i in range(len(flows))]
    return float(np.nanmean(errors))


def _cv2():
    try:
        import cv2
    except ImportError:
        raise RuntimeError(
            "optical flow needs OpenCV: pip install opencv-python-headless (it is in requirements.txt; "
            "bash setup.sh installs it)"
        ) from None
    return cv2


class FlowEstimator:
    """Optical flow between uint8 RGB frames with OpenCV's DIS (Kroeger et al. 2016): fast enough
    to run beside the network, and dense. One instance per thread (OpenCV's object keeps state)."""

    def __init__(self, preset="medium"):
        cv2 = _cv2()
        presets = {
            "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
            "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
        }
        self._cv2, self._dis = cv2, cv2.DISOpticalFlow_create(presets[preset])
        self._grid = None

    def gray(self, frame):
        """(H, W, 3) uint8 RGB -> (H, W) uint8 luma, what the flow is computed on."""
        return self._cv2.cvtColor(np.ascontiguousarray(frame, np.uint8), self._cv2.COLOR_RGB2GRAY)

    def flow(self, frame, previous):
        """(H, W) uint8 luma of frames t and t-1 -> backward flow t -> t-1, (H, W, 2) float32."""
        return self._dis.calc(frame, previous, None)

    def remap(self, image, flow):
        """OpenCV's `warp` without the mask (bilinear, edge pixels repeated outside): the same
        result to within its 1/32-pixel interpolation steps, many times faster."""
        return self.warp(image, flow)[0]

    def warp(self, image, flow):
        """`warp` (the module's) done by OpenCV: (warped image, inside mask)."""
        if self._grid is None or self._grid[0].shape != flow.shape[:2]:
            self._grid = grid(*flow.shape[:2])
        x, y = self._grid[0] + flow[..., 0], self._grid[1] + flow[..., 1]
        inside = inside_mask(x, y, *flow.shape[:2])
        cv2 = self._cv2
        return cv2.remap(image, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), inside
