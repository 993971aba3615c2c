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
The live modes (webcam.py, the app's live tab) take one frame at a time: `FrameSteadier` measures
its motion in a thread while the network paints it, on the frame shrunk, so that a frame costs
little more than the network's time.
"""

import importlib.util
from concurrent.futures import ThreadPoolExecutor
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
# The live modes' share: under the blend their quarter-width students' strokes softened more than
# the full networks'; at 0.5 their style distance rose past the 10% that DEFAULT_STRENGTH keeps
# to, at 0.3 it did not (python -m bench.live; bench/README.md, "Steady live frames").
LIVE_STRENGTH = 0.3
# The live modes measure the motion on frames shrunk to this longer side: at 640x480 that cost a
# third of the full-size measurement, a share of a quarter-width network's frame worth saving,
# and steadied as well (bench/README.md, "Steady live frames").
LIVE_FLOW_SIDE = 320


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
    """uint8 frames (B, H, W, 3), in order, batch after batch -> [Motion], one per frame.
    flow_side: measure the motion on frames shrunk so that their longer side is at most this, and
    enlarge it to the frame's size (None: at the frame's own size)."""

    def __init__(self, strength=DEFAULT_STRENGTH, preset="fast", flow_side=None):
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"stabilize strength must be at least 0 and below 1, got {strength}")
        from src.temporal import FlowEstimator

        self.strength, self.flow_side = float(strength), flow_side
        self._flow = FlowEstimator(preset)
        self._previous = None  # (RGB, luma) of the last frame seen, as measured (shrunk or not)

    def __call__(self, frames):
        import numpy as np

        motions = []
        for frame in frames:
            frame = self._shrunk(np.ascontiguousarray(frame, np.uint8))
            gray = self._flow.gray(frame)
            # A frame of another size than the last (a live source that changed) starts afresh.
            same = self._previous is not None and self._previous[0].shape == frame.shape
            motions.append(self._motion(frame, gray) if same else Motion())
            self._previous = frame, gray
        return [_enlarged(motion, np.shape(original)[:2]) for motion, original in zip(motions, frames)]

    def _shrunk(self, frame):
        import cv2

        height, width = frame.shape[:2]
        if not self.flow_side or max(height, width) <= self.flow_side:
            return frame
        scale = self.flow_side / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)

    def _motion(self, frame, gray):
        import cv2
        import numpy as np

        from src.temporal import consistent

        previous, previous_gray = self._previous
        backward = self._flow.flow(gray, previous_gray)
        forward = self._flow.flow(previous_gray, gray)
        trusted = consistent(backward, forward, self._flow.warp)
        warped = self._flow.remap(previous, backward)
        # Averaged before taking its size: noise averages out, a real change does not. (OpenCV and
        # a maximum per channel: NumPy's float copy and its max over a last axis of 3 were slow.)
        change = np.abs(cv2.blur(cv2.subtract(frame, warped, dtype=cv2.CV_32F), (5, 5)))
        change = np.maximum(np.maximum(change[..., 0], change[..., 1]), change[..., 2])
        trust = trusted * np.exp(-((change / CHANGE_TOLERANCE) ** 2))
        if np.mean(trust) < CUT_FRACTION:
            return Motion()
        return Motion(backward, (self.strength * trust)[..., None].astype(np.float32))


def _enlarged(motion, size):
    """A Motion measured on a shrunk frame -> the same at `size` (H, W): the flow resized and its
    vectors scaled to the frame's pixels, the weight resized."""
    import cv2

    if motion.flow is None or motion.flow.shape[:2] == tuple(size):
        return motion
    (height, width), (small_height, small_width) = size, motion.flow.shape[:2]
    flow = cv2.resize(motion.flow, (width, height), interpolation=cv2.INTER_LINEAR)
    flow[..., 0] *= width / small_width
    flow[..., 1] *= height / small_height
    weight = cv2.resize(motion.weight[..., 0], (width, height), interpolation=cv2.INTER_LINEAR)
    return Motion(flow, weight[..., None])


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

    def restart(self):
        """Forget the previous output: the next frame is kept as it comes."""
        self._previous = None


class FrameSteadier:
    """--stabilize for the live modes, one frame at a time: the frame's motion is measured in a
    thread (OpenCV and the network both release Python's lock) while the network paints it, on
    the frame shrunk to LIVE_FLOW_SIDE."""

    def __init__(self, strength=LIVE_STRENGTH, flow_side=LIVE_FLOW_SIDE):
        self._tracker = MotionTracker(strength, flow_side=flow_side)
        self._blender = Blender()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="motion")
        self._settings = None  # what the previous picture was painted with

    def __call__(self, frame, paint, settings=None):
        """frame (H, W, 3) uint8; paint: frame -> its stylized picture, (H, W, 3) float32 0..255
        -> the steadied picture, the same. settings: what the picture is painted with (style,
        strength, colour); other settings than the previous picture's start afresh, since the
        previous picture would be carried into the new one as a fading ghost."""
        if settings != self._settings:
            self.restart()
            self._settings = settings
        motion = self._pool.submit(self._tracker, frame[None])
        try:
            painted = paint(frame)
        finally:
            [motion] = motion.result()
        return self._blender(painted[None], [motion])[0]

    def restart(self):
        """The next picture starts afresh (as after a pause, when the previous one is stale)."""
        self._blender.restart()
        self._settings = None

    def close(self):
        self._pool.shutdown(wait=True)
