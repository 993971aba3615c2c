"""src/temporal.py: bilinear warping, the forward-backward check and the warping error, against
hand-computed values; the OpenCV flow and remap against the NumPy reference."""

import numpy as np
import pytest

from src.temporal import clip_warping_error, consistent, sample, warp, warping_error


def textured(height=48, width=64, seed=0):
    """A smooth random texture (H, W, 3) 0..255: flow estimators need structure, and bilinear
    interpolation is exact only on smooth images."""
    from scipy.ndimage import gaussian_filter

    noise = np.random.default_rng(seed).uniform(0, 255, (height, width, 3))
    smooth = gaussian_filter(noise, sigma=(3, 3, 0))
    return ((smooth - smooth.min()) / np.ptp(smooth) * 255).astype(np.float32)


def test_sample_is_bilinear_and_marks_points_outside():
    image = np.arange(12, dtype=np.float32).reshape(3, 4, 1)  # value = 4 y + x
    x = np.array([[0.0, 1.5, 3.0, 3.5]])
    y = np.array([[0.0, 0.5, 2.0, 1.0]])
    values, inside = sample(image, x, y)
    # A linear function is reproduced exactly inside; outside reads the nearest edge.
    assert values[0, :3, 0].tolist() == [0.0, 4 * 0.5 + 1.5, 11.0]
    assert values[0, 3, 0] == 4 * 1 + 3
    assert inside.tolist() == [[True, True, True, False]]


def test_warp_by_a_whole_pixel_flow_is_a_shift():
    image = textured()
    flow = np.zeros(image.shape[:2] + (2,), np.float32)
    flow[..., 0], flow[..., 1] = -3, 2  # pixel (x, y) of frame t was at (x - 3, y + 2)
    warped, inside = warp(image, flow)
    np.testing.assert_allclose(warped[:-2, 3:], image[2:, :-3], atol=1e-4)
    assert inside[:-2, 3:].all() and not inside[:, :3].any() and not inside[-2:].any()


def test_consistency_trusts_agreeing_flows_and_rejects_contradictions():
    shape = (20, 30, 2)
    backward = np.full(shape, 1.5, np.float32)
    assert consistent(backward, -backward)[:-2, :-2].all()  # each undoes the other
    assert not consistent(backward, -backward)[:, -1].any()  # points outside frame t-1
    wrong = np.zeros(shape, np.float32)
    wrong[..., 0] = 4.0  # forward motion that does not bring the pixel back
    assert not consistent(backward, wrong).any()


def test_warping_error_matches_hand_values():
    previous = textured()
    flow = np.zeros(previous.shape[:2] + (2,), np.float32)
    assert warping_error(previous, previous, flow) == 0.0
    assert warping_error(previous, previous + 10, flow) == pytest.approx((10 / 255) ** 2, rel=1e-5)
    mask = np.zeros(previous.shape[:2], bool)
    mask[:, :10] = True
    brighter = previous.copy()
    brighter[:, 10:] += 50  # only outside the mask: not counted
    assert warping_error(previous, brighter, flow, mask) == 0.0
    assert np.isnan(warping_error(previous, brighter, flow, np.zeros_like(mask)))


def test_warping_error_of_a_moved_frame_is_zero_only_with_its_motion():
    previous = textured()
    current = np.roll(previous, 2, axis=1)  # the picture moved 2 pixels right
    flow = np.zeros(previous.shape[:2] + (2,), np.float32)
    flow[..., 0] = -2
    assert warping_error(previous, current, flow) < 1e-10
    assert warping_error(previous, current, np.zeros_like(flow)) > 1e-4
    assert clip_warping_error([previous, current, current], [flow, np.zeros_like(flow)]) < 1e-10


def test_opencv_flow_finds_a_subpixel_shift_and_remap_matches_warp():
    pytest.importorskip("cv2", reason="OpenCV (opencv-python-headless, requirements.txt) is not installed")
    from src.temporal import FlowEstimator

    image = textured(96, 128)
    flow = np.zeros(image.shape[:2] + (2,), np.float32)
    flow[..., 0], flow[..., 1] = -1.5, 0.75
    current, _ = warp(image, flow)
    estimator = FlowEstimator()
    found = estimator.flow(estimator.gray(current.astype(np.uint8)), estimator.gray(image.astype(np.uint8)))
    interior = (slice(16, -16), slice(16, -16))
    np.testing.assert_allclose(np.median(found[interior], axis=(0, 1)), [-1.5, 0.75], atol=0.15)
    remapped = estimator.remap(image, flow)
    np.testing.assert_allclose(remapped[interior], current[interior], atol=1.0)  # 1/32-pixel steps


def test_opencv_consistency_check_agrees_with_numpy():
    pytest.importorskip("cv2", reason="OpenCV (opencv-python-headless, requirements.txt) is not installed")
    from src.temporal import FlowEstimator

    from scipy.ndimage import gaussian_filter

    random = np.random.default_rng(2)
    backward = (20 * gaussian_filter(random.normal(0, 1, (30, 40, 2)), sigma=(4, 4, 0))).astype(np.float32)
    spread = np.linspace(0, 1.5, 40)[None, :, None]  # errors growing from left to right
    forward = (-backward + spread * random.normal(0, 1, backward.shape)).astype(np.float32)
    reference = consistent(backward, forward)
    fast = consistent(backward, forward, FlowEstimator().warp)
    assert 0.2 < reference.mean() < 0.95  # a mix of trusted and rejected pixels
    assert np.mean(fast != reference) < 0.02  # only where the 1/32-pixel steps tip the test
