"""src/stabilize.py on synthetic frames: the "stylization" is the frame plus fresh noise every time
(the flicker a network adds), so how much of it the blender removes, and what it must leave
alone (the first frame, a scene cut, a moving object), can be checked exactly."""

import numpy as np
import pytest

pytest.importorskip("cv2", reason="OpenCV (opencv-python-headless, requirements.txt) is not installed")

from src.stabilize import Blender, FrameSteadier, MotionTracker  # noqa: E402
from src.temporal import warping_error  # noqa: E402


def texture(height=64, width=96, seed=0):
    from scipy.ndimage import gaussian_filter

    noise = np.random.default_rng(seed).uniform(0, 255, (height, width, 3))
    smooth = gaussian_filter(noise, sigma=(2, 2, 0))
    return ((smooth - smooth.min()) / np.ptp(smooth) * 255).astype(np.uint8)


def flickering(frames, seed=1, level=20.0):
    """A stand-in for a network: each frame with independent noise, float32 0..255."""
    random = np.random.default_rng(seed)
    return [np.clip(f.astype(np.float32) + random.normal(0, level, f.shape), 0, 255).astype(np.float32) for f in frames]


def run(frames, stylized, strength=0.6, batch=3, flow_side=None):
    tracker, blender, outputs = MotionTracker(strength, flow_side=flow_side), Blender(), []
    for start in range(0, len(frames), batch):
        motions = tracker(np.stack(frames[start : start + batch]))
        outputs.extend(blender(np.stack(stylized[start : start + batch]), motions))
    return outputs


def mean_error(outputs):
    zero = np.zeros(outputs[0].shape[:2] + (2,), np.float32)
    return np.mean([warping_error(a, b, zero) for a, b in zip(outputs, outputs[1:])])


def test_a_still_scene_flickers_far_less_and_the_first_frame_is_untouched():
    frames = [texture()] * 10
    stylized = flickering(frames)
    outputs = run(frames, stylized)
    np.testing.assert_array_equal(outputs[0], stylized[0])
    # A recursive filter with share S keeps (1-S)^2/(1+S) of white flicker's warping error: 0.1 at 0.6.
    assert mean_error(outputs) < 0.2 * mean_error(stylized)
    assert mean_error(run(frames, stylized, strength=0.3)) > mean_error(outputs)  # more share, steadier


def test_strength_zero_and_a_scene_cut_give_the_fresh_frames():
    first, second = texture(seed=0), texture(seed=5)
    frames = [first] * 4 + [second] * 4
    stylized = flickering(frames)
    outputs = run(frames, stylized)
    np.testing.assert_array_equal(outputs[4], stylized[4])  # the cut: no trace of the old scene
    assert not np.array_equal(outputs[5], stylized[5])  # the new scene is stabilized again
    for a, b in zip(run(frames, stylized, strength=0.0), stylized):
        np.testing.assert_array_equal(a, b)


def test_a_moving_object_leaves_no_ghost():
    background = texture(seed=2)
    frames = []
    for step in range(8):
        frame = background.copy()
        frame[20:40, 10 + 6 * step : 30 + 6 * step] = (250, 30, 30)  # a red square moving right
        frames.append(frame)
    stylized = [f.astype(np.float32) for f in frames]  # no flicker: any difference is a ghost
    outputs = run(frames, stylized, strength=0.9)
    # Where the square was two frames ago and is no longer, the output shows the background.
    left = (slice(22, 38), slice(10 + 6 * 5, 10 + 6 * 6))
    assert np.abs(outputs[7][left] - stylized[7][left]).max() < 8


def test_a_fade_is_followed_not_smeared():
    base = texture(seed=3).astype(np.float32)
    frames = [np.round(base * (1 - t / 8)).astype(np.uint8) for t in range(8)]
    outputs = run(frames, [f.astype(np.float32) for f in frames], strength=0.9)
    # Each frame darkens by 12% of the picture: the output keeps up within a few levels.
    assert np.abs(outputs[-1] - frames[-1]).mean() < 4


def test_strength_must_be_below_one():
    with pytest.raises(ValueError, match="below 1"):
        MotionTracker(1.0)
    with pytest.raises(ValueError):
        MotionTracker(-0.1)


def panning(count=8, step=2, height=64, width=96):
    """Frames of a camera moving right by `step` pixels a frame: each frame's backward flow onto
    the one before is +step across, everywhere."""
    wide = texture(height, width + step * count, seed=4)
    return [wide[:, step * t : step * t + width] for t in range(count)]


@pytest.mark.parametrize("flow_side", [None, 48])
def test_motion_measured_on_shrunk_frames_has_the_frames_size_and_scale(flow_side):
    frames = panning()
    motions = MotionTracker(0.6, flow_side=flow_side)(np.stack(frames))
    assert motions[0].flow is None
    for motion in motions[1:]:
        assert motion.flow.shape == (64, 96, 2) and motion.weight.shape == (64, 96, 1)
        inner = motion.flow[8:-8, 8:-8]  # the border's flow has nothing to go on
        assert np.median(inner[..., 0]) == pytest.approx(2.0, abs=0.25)
        assert np.median(inner[..., 1]) == pytest.approx(0.0, abs=0.25)
    # Steadied as well as at full size: the pan's flicker mostly gone.
    stylized = flickering(frames)
    outputs = run(frames, stylized, flow_side=flow_side)
    assert pan_error(outputs) < 0.35 * pan_error(stylized)


def pan_error(outputs):
    flow = np.zeros(outputs[0].shape[:2] + (2,), np.float32)
    flow[..., 0] = 2.0
    return np.mean([warping_error(a, b, flow) for a, b in zip(outputs, outputs[1:])])


def test_a_frame_of_another_size_starts_afresh():
    tracker = MotionTracker(0.6)
    tracker(np.stack([texture()] * 2))
    [motion] = tracker(texture(48, 80)[None])
    assert motion.flow is None and motion.weight is None


def test_the_live_steadier_gives_the_video_paths_frames_and_restarts_without_a_ghost():
    frames = panning()
    stylized = flickering(frames)
    steadier = FrameSteadier(0.6, flow_side=None)
    painted = iter(stylized)
    try:
        live = [steadier(frame, lambda frame: next(painted)) for frame in frames[:5]]
        for one, batched in zip(live, run(frames[:5], stylized[:5])):
            np.testing.assert_allclose(one, batched, atol=1e-4)
        steadier.restart()
        np.testing.assert_array_equal(steadier(frames[5], lambda frame: stylized[5]), stylized[5])
        assert not np.array_equal(steadier(frames[6], lambda frame: stylized[6]), stylized[6])
    finally:
        steadier.close()


def test_the_live_steadier_hands_on_the_networks_error():
    steadier = FrameSteadier()
    try:
        with pytest.raises(RuntimeError, match="out of memory"):
            steadier(texture(), lambda frame: (_ for _ in ()).throw(RuntimeError("out of memory")))
    finally:
        steadier.close()
