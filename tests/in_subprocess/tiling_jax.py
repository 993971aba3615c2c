"""Whole and tiled stylization on the JAX backend; prints both errors (tests/test_tiling.py).

    KERAS_BACKEND=jax python -m tests.in_subprocess.tiling_jax
"""

import numpy as np
from src.stylize import Stylizer
from src.transform import build_transform_net
model = build_transform_net()
images = np.random.default_rng(0).uniform(0, 255, (1, 45, 70, 3)).astype(np.float32)
whole = Stylizer(model, tile_size=4096)(images)
tiled = Stylizer(model, tile_size=32)(images)
expected = np.clip(np.asarray(model(images)), 0, 255)
print(np.abs(whole - expected).max(), np.abs(tiled - whole).max())
