"""A saved model run on the JAX backend (tests/test_transform.py).

    KERAS_BACKEND=jax python -m tests.in_subprocess.transform_jax MODEL IN.npy OUT.npy
"""

import sys

import keras
import numpy as np

from src.checkpoints import load_model
assert keras.backend.backend() == "jax", keras.backend.backend()
model = load_model(sys.argv[1])
np.save(sys.argv[3], np.asarray(model(np.load(sys.argv[2]))))
