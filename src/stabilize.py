"""transform_video.py --stabilize: less flicker, for any model, at inference.

A feed-forward network stylizes each frame on its own, so strokes that depend on tiny pixel
changes (sensor noise, a one-pixel pan) are painted anew every frame and crawl. Here each
stylized frame is blended with the previous *output* warped onto it by the input's optical flow:

    out_t = w * warp(out_{t-1}, flow_t) + (1 - w) * stylized_t,    w = S * trust   (per pixel)

a recursive filter along motion paths. trust is 1 where the flow is reliable and 0 where it is
not, so moving objects do not leave ghosts: the flow must pass the forward-backward check
(src/temporal.py; occlusions and the border fail it), and the input frame must agree with the
previous one warped onto it (a light switched on, a fade, a flash lower trust where they change
the picture). A frame where too little is trusted starts afresh (a scene cut): out_t = stylized_t.
This is the short-term consistency of Ruder et al. 2016 done as post-processing, as in Lai et
al. 2018's baseline, so it works on the original's published models too.

Two stages, so that the flow overlaps with the network: `MotionTracker` (the decoding thread)
turns input frames into `Motion`; `Blender` (after the network) applies them in frame order.
"""

import importlib.util
from dataclasses import dataclass

# NumPy and OpenCV are imported where used: transform_video.py reads DEFAULT_STRENGTH for --help.

# Share of the previous output where the flow is trusted, `--stabilize`'s default: chosen with
# bench/temporal.py (bench/README.md).
DEFAULT_STRENGTH = 0.5
# Trust falls to 1/e where the input frame and the previous one warped onto it differ by this
# much (0..255: the difference averaged over 5x5 pixels, so that sensor noise averages out, in the
# colour channel where it is largest, because a red object on a grey wall can have the wall's
# luma, which is all the flow sees).
CHANGE_TOLERANCE = 16.0
# A frame with fewer trusted pixels than this starts a new scene.
CUT_FRACTION = 0.4


def opencv_available():
    """Whether OpenCV, which measures the motion, can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("cv2") is not None
    except ValueError:  # in sys.modules as None: blocked
        return False


@dataclass(frozen=True)
class Motion:
    """What the blender needs for one frame: the input's backward flow onto the previous frame and
    the share of the previous output per pixel, (H, W, 1); both None for the first frame of a scene."""

    flow: object = None  # (H, W, 2) float32 ndarray, or None
    weight: object = None  # (H, W, 1) float32 ndarray, or None


class MotionTracker:
    """uint8 frames (B, H, W, 3), in order, batch after batch -> [Motion], one per frame."""

    def __init__(self, strength=DEFAULT_STRENGTH, preset="fast"):
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"stabilize strength must be at least 0 and below 1, got {strength}")
        from src.temporal import FlowEstimator

        self.strength = float(strength)
        self._flow = FlowEstimator(preset)
        self._previous = None  # (RGB, luma) of the last frame seen

    def __call__(self, frames):
        import numpy as np

        motions = []
        for frame in frames:
            frame = np.ascontiguousarray(frame, np.uint8)
            gray = self._flow.gray(frame)
            motions.append(self._motion(frame, gray) if self._previous is not None else Motion())
            self._previous = frame, gray
        return motions

    def _motion(self, frame, gray):
        import cv2
        import numpy as np

        from src.temporal import consistent

        previous, previous_gray = self._previous
        backward = self._flow.flow(gray, previous_gray)
        forward = self._flow.flow(previous_gray, gray)
        trusted = consistent(backward, forward, self._flow.warp)
        warped = self._flow.remap(previous, backward)
        # Averaged before taking its size: noise averages out, a real change does not.
        change = np.abs(cv2.blur(frame.astype(np.float32) - warped, (5, 5))).max(axis=-1)
        trust = trusted * np.exp(-((change / CHANGE_TOLERANCE) ** 2))
        if np.mean(trust) < CUT_FRACTION:
            return Motion()
        return Motion(backward, (self.strength * trust)[..., None].astype(np.float32))


class Blender:
    """(stylized (B, H, W, 3) float32 0..255, [Motion]) -> the stabilized frames, in order; it keeps
    only the previous output, so memory is flat whatever the video's length."""

    def __init__(self):
        from src.temporal import FlowEstimator

        self._flow = FlowEstimator()  # for remap only
        self._previous = None

    def __call__(self, stylized, motions):
        import numpy as np

        outputs = np.empty_like(stylized, dtype=np.float32)
        for index, (frame, motion) in enumerate(zip(stylized, motions)):
            frame = np.asarray(frame, np.float32)
            if motion.flow is not None and self._previous is not None:
                carried = self._flow.remap(self._previous, motion.flow)
                frame = motion.weight * carried + (1.0 - motion.weight) * frame
            outputs[index] = self._previous = frame
        return outputs
