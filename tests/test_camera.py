"""bench/camera.py: the virtual camera's flow is exact, so the benchmark's warping errors measure
the stylization and nothing else."""

import numpy as np

from bench.camera import Pose, camera_clip, standard_clips
from src.temporal import warping_error


def photo(height=120, width=160, seed=0):
    from scipy.ndimage import gaussian_filter

    noise = gaussian_filter(np.random.default_rng(seed).uniform(0, 255, (height, width, 3)), sigma=(2, 2, 0))
    return ((noise - noise.min()) / np.ptp(noise) * 255).astype(np.float32)


def test_each_move_is_undone_by_its_exact_flow():
    for clip in standard_clips(photo(), (48, 64), count=5):
        pairs = list(zip(clip.frames, clip.frames[1:], clip.flows, clip.masks))
        errors = [warping_error(a, b, flow, mask) for a, b, flow, mask in pairs]
        unmoved = [warping_error(a, b, np.zeros_like(flow)) for a, b, flow, _ in pairs]
        reversed_ = [warping_error(a, b, -flow, mask) for a, b, flow, mask in pairs]
        if clip.name == "still + noise":
            assert np.allclose([np.abs(f).max() for f in clip.flows], 0)
            assert np.mean(errors) > 0  # the noise is what is left
        else:
            # Only the rounding to uint8 and resampling remain: far below standing still, and the
            # motion backwards is wrong twice over.
            assert np.mean(errors) < 0.25 * np.mean(unmoved), clip.name
            assert np.mean(errors) < 0.1 * np.mean(reversed_), clip.name


def test_rotation_flow_matches_the_geometry():
    poses = [Pose(80, 60, 1.0, 0.0), Pose(80, 60, 1.0, np.radians(10))]
    clip = camera_clip("turn", photo(), poses, (41, 41))
    flow = clip.flows[0]
    # The centre stays; a point 20 pixels right of it came from 20 (cos 10deg, sin 10deg).
    np.testing.assert_allclose(flow[20, 20], [0, 0], atol=1e-4)
    np.testing.assert_allclose(flow[20, 40], [20 * np.cos(np.radians(10)) - 20, 20 * np.sin(np.radians(10))], atol=1e-4)
