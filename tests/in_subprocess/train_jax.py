"""Training on the JAX backend (tests/test_train_jax.py): two styles taking turns, a resume, --slow,
and distilling the trained network into a slim student.

    KERAS_BACKEND=jax python -m tests.in_subprocess.train_jax DIRECTORY 'SLOW|ARGS' STYLE_ARGS...
"""

import sys
import keras
import numpy as np

import style
from src import transform
from src.checkpoints import load_model
from src.pixel_blocks import convolve_on_blocks

assert keras.backend.backend() == "jax"
directory, slow_argv, argv = sys.argv[1], sys.argv[2].split("|"), sys.argv[3:]

# JAX's step calls the objective's `call` directly, so the objectives must pass `training` on to
# the network themselves for its last convolution to run on blocks of pixels (src/pixel_blocks.py).
blocked = []


def counted(*args, **kwargs):
    blocked.append(1)
    return convolve_on_blocks(*args, **kwargs)


transform.convolve_on_blocks = counted


def conv_out_norm(style_index):
    norm = load_model(directory).layers_in_order()[-1].norm
    return np.concatenate([np.asarray(norm.scale.value)[style_index], np.asarray(norm.shift.value)[style_index]])


untrained = np.array([1.0, 1, 1, 0, 0, 0])
assert style.main(argv + ["--epochs", "1"]) == 0
assert blocked, "training did not run the last convolution on blocks"
assert not np.allclose(conv_out_norm(0), untrained)
assert np.array_equal(conv_out_norm(1), untrained), "the second style trained on the first step"
assert style.main(argv + ["--epochs", "2"]) == 0
assert not np.allclose(conv_out_norm(1), untrained)
assert style.main(slow_argv) == 0

# The teacher's pictures (src/training/distill.py TeacherTargets) are made by jax.jit here.
student = directory + "_student"
common = ["--precision", "float32", "--image-size", "16", "--seed", "3", "--width", "0.25", "--residual-blocks", "2"]
train_path = argv[argv.index("--train-path") + 1]
distill_argv = ["--distill-from", directory, "--checkpoint-dir", student, "--train-path", train_path, *common]
blocked.clear()
assert style.main(distill_argv + ["--epochs", "2"]) == 0
assert blocked, "distilling did not run the convolutions on blocks"
assert load_model(student).residual_blocks == 2
print("done")
