"""The same training code on the JAX backend (the GPU machines here have JAX, not TensorFlow), in
a separate process: two styles in one network taking turns, resuming, previews, --slow, and
distilling the result."""

import os
import shutil
import subprocess
import sys

import numpy as np

from src.checkpoints import load_model
from src.training.train_state import read_state
from tests.fixtures import ROOT
from tests.training_runs import train_args

# Four training images make one step per epoch: after epoch 1 only the first style's scales
# and shifts have trained, after the resumed epoch 2 the second's too.

def test_two_styles_resume_and_slow_on_jax(training_data, tmp_path):
    train = tmp_path / "train"
    train.mkdir()
    for path in sorted(training_data["train"].glob("*.jpg"))[:4]:
        shutil.copy(path, train)
    directory, previews, slow = tmp_path / "run", tmp_path / "previews", tmp_path / "slow"
    data = {**training_data, "train": train}
    argv = train_args(data, directory, "--style", str(training_data["style2"]), vgg="vgg_h5")
    argv += ["--test", str(training_data["test"]), "--test-dir", str(previews)]
    slow_argv = ["--slow", "--style", str(training_data["style"]), "--test", str(training_data["test"])]
    slow_argv += ["--test-dir", str(slow), "--vgg-path", str(training_data["vgg_mat"]), "--epochs", "10"]
    result = subprocess.run(
        [sys.executable, "-m", "tests.in_subprocess.train_jax", str(directory), "|".join(slow_argv), *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "done" in result.stdout
    assert "resumed from iteration 1" in result.stderr
    # Two styles, one step each: each of the 4 photos painted once per style (Keras asks for a
    # batch twice: reused).
    assert "the teacher's pictures: 8 painted, " in result.stderr
    assert read_state(directory).iteration == 2
    model = load_model(directory)
    assert (model.num_styles, model.style_names) == (2, ["style", "style2"])
    names = {p.name for p in previews.iterdir()}
    assert names == {f"{e}_{i}_{s}.png" for e, i in ((0, 0), (0, 1), (1, 2)) for s in ("style", "style2")}
    assert (slow / "slow_10.png").exists()
    first_scales = model.layers_in_order()[0].norm.scale.numpy()
    assert not np.array_equal(first_scales[0], first_scales[1])  # one scale per style
