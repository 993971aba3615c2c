"""Training under tf.distribute.MirroredStrategy, on two logical CPUs, in a separate process
(logical devices must be set before TensorFlow starts)."""

import subprocess
import sys

from src.checkpoints import load_model
from tests.fixtures import ROOT
from tests.training_runs import train_args


def test_mirrored_strategy_on_two_cpus(training_data, tmp_path):
    directory = tmp_path / "run"
    previews = tmp_path / "previews"
    argv = train_args(training_data, directory, "--epochs", "1")
    argv += ["--test", str(training_data["test"]), "--test-dir", str(previews)]
    result = subprocess.run(
        [sys.executable, "-m", "tests.in_subprocess.train_mirrored", str(training_data["vgg_mat"]), *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "same step on two replicas" in result.stdout
    assert "trained 3" in result.stdout
    assert load_model(directory).num_styles == 1
    assert sorted(p.name for p in previews.iterdir()) == ["0_0.png", "0_3.png"]
