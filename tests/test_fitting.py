"""fit_with_progress: checkpoints every N iterations, and Ctrl-C stopping after the current step
with a checkpoint, on a one-layer network (src/training/fitting.py)."""

import os
import signal

import keras
import numpy as np
import pytest

from src.training.fitting import fit_with_progress


class Batches(keras.utils.PyDataset):
    def __init__(self, count):
        super().__init__()
        self.count = count

    @property
    def num_batches(self):
        return self.count

    def __getitem__(self, index):
        x = np.full((2, 3), index, np.float32)
        return x, x.sum(axis=1, keepdims=True)


class Run:
    """A FitRun that records its checkpoints and presses Ctrl-C during step `press_at`."""

    def __init__(self, press_at=None):
        self.press_at, self.saved = press_at, []

    def describe(self, iteration):
        return f"step {iteration}"

    def status(self):
        return ""

    def record(self, iteration, terms):
        if iteration == self.press_at:
            os.kill(os.getpid(), signal.SIGINT)

    def checkpoint(self, iteration, objective):
        self.saved.append(iteration)


@pytest.fixture
def network():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_checkpoints_every_n_iterations_and_at_the_end(network):
    run = Run()
    assert fit_with_progress(network, Batches(7), run, 0, 7, 3, print) == (7, False)
    assert run.saved == [3, 6, 7]


def test_ctrl_c_stops_after_the_step_with_a_checkpoint(network):
    run, messages = Run(press_at=2), []
    assert fit_with_progress(network, Batches(7), run, 0, 7, 5, messages.append) == (2, True)
    assert run.saved == [2]
    assert "stopping after this step" in messages[0]


def test_ctrl_c_during_the_last_step_is_not_a_stop(network):
    """The run is finished: reporting a stop would tell the user to resume a run with nothing left."""
    run = Run(press_at=5)
    assert fit_with_progress(network, Batches(3), run, 2, 5, 10, lambda message: None) == (5, False)
    assert run.saved == [5]
