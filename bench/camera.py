"""Clips with known motion, made by moving a virtual camera over a still photo (bench/temporal.py).

Frame t shows the photo through the affine map p -> centre_t + scale_t * R(angle_t) (p - c),
with p a frame pixel and c the frame's centre, so the exact backward flow of frame t onto frame
t-1 is p' - p with p' = M_{t-1}^-1(M_t(p)): no flow estimator biases the warping error. Frames
are rendered by bilinear sampling and rounded to uint8, as a video's are.
"""

from dataclasses import dataclass

import numpy as np

from src.temporal import grid, inside_mask, sample


@dataclass(frozen=True)
class Pose:
    x: float  # the frame centre's position on the photo, in photo pixels
    y: float
    scale: float = 1.0  # photo pixels per frame pixel
    angle: float = 0.0  # radians

    def matrix(self):
        """(2, 2) linear part of the map frame offset -> photo offset."""
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        return self.scale * np.array([[cos, -sin], [sin, cos]])


@dataclass(frozen=True)
class Clip:
    name: str
    frames: list  # (H, W, 3) uint8
    flows: list  # flows[i]: exact backward flow of frame i+1 onto frame i, (H, W, 2) float32
    masks: list  # masks[i]: pixels of frame i+1 that frame i sees, (H, W) bool


def _photo_points(pose, x, y, size):
    """Frame pixel coordinates -> photo coordinates under `pose`."""
    height, width = size
    offset = np.stack([x - (width - 1) / 2, y - (height - 1) / 2], axis=-1)
    photo = offset @ pose.matrix().T
    return photo[..., 0] + pose.x, photo[..., 1] + pose.y


def _frame_points(pose, px, py, size):
    """Photo coordinates -> frame pixel coordinates under `pose` (the inverse map)."""
    height, width = size
    offset = np.stack([px - pose.x, py - pose.y], axis=-1) @ np.linalg.inv(pose.matrix()).T
    return offset[..., 0] + (width - 1) / 2, offset[..., 1] + (height - 1) / 2


def render(photo, pose, size):
    """The frame of `size` (H, W) that the camera at `pose` sees of `photo` (H, W, 3) -> uint8."""
    x, y = grid(*size)
    values, _ = sample(np.asarray(photo, np.float32), *_photo_points(pose, x, y, size))
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


def exact_flow(previous, current, size):
    """Backward flow of the frame at pose `current` onto the one at `previous`, and the pixels the
    previous frame sees: (H, W, 2) float32, (H, W) bool."""
    height, width = size
    x, y = grid(height, width)
    px, py = _photo_points(current, x, y, size)
    fx, fy = _frame_points(previous, px, py, size)
    inside = inside_mask(fx, fy, height, width)
    return np.stack([fx - x, fy - y], axis=-1).astype(np.float32), inside


def camera_clip(name, photo, poses, size, noise=0.0, seed=0):
    """A clip of the camera at `poses` over `photo`, with Gaussian sensor noise of `noise` levels
    (0..255) added to every frame independently."""
    random = np.random.default_rng(seed)
    frames = []
    for pose in poses:
        frame = render(photo, pose, size).astype(np.float32)
        if noise:
            frame = frame + random.normal(0.0, noise, frame.shape)
        frames.append(np.clip(np.round(frame), 0, 255).astype(np.uint8))
    pairs = [exact_flow(a, b, size) for a, b in zip(poses, poses[1:])]
    return Clip(name, frames, [flow for flow, _ in pairs], [mask for _, mask in pairs])


def standard_clips(photo, size, count=24):
    """The four camera moves of the issue: a still camera with noise, a pan, a slow zoom, a small
    rotation, each `count` frames of `size` (H, W) over `photo` (larger than `size`)."""
    height, width = photo.shape[:2]
    cx, cy = (width - 1) / 2, (height - 1) / 2
    steps = np.arange(count)
    # The pan moves by a non-integer step, so that every frame is resampled as in real footage.
    span = min(width - size[1], 2.0 * count) - 2
    return [
        camera_clip("still + noise", photo, [Pose(cx, cy)] * count, size, noise=4.0),
        camera_clip("pan", photo, [Pose(cx - span / 2 + span * t / count, cy + 0.3 * t) for t in steps], size),
        camera_clip("zoom", photo, [Pose(cx, cy, 1.0 - 0.006 * t) for t in steps], size),
        camera_clip("rotation", photo, [Pose(cx, cy, 0.95, np.radians(0.4) * t) for t in steps], size),
    ]
