"""Running a training `fit` for style.py's two modes (a network, or --slow's pixels): the
progress bar (iteration, epoch, the three losses), a checkpoint every N iterations, and a clean
stop on Ctrl-C or SIGTERM that saves first. The mode provides a `FitRun`.
"""

import contextlib
import signal
import sys
from typing import Protocol

import keras
import numpy as np

# "temporal" only with --temporal-weight; "pixel", "feature" and "texture" (instead of the others) with --distill-from
LOSS_TERMS = ("content", "style", "tv", "temporal", "pixel", "feature", "texture")


class FitRun(Protocol):
    """What `fit_with_progress` calls back into."""

    def describe(self, iteration: int) -> str:
        """The progress bar's label at `iteration` (for example the epoch)."""

    def status(self) -> str:
        """Extra text after the losses on the bar."""

    def record(self, iteration: int, terms: dict) -> None:
        """The step's loss terms {name: value} (TensorBoard)."""

    def checkpoint(self, iteration: int, objective: keras.Model) -> None:
        """Save what a resumed run (or the user) needs after `iteration` steps."""


def fresh_seed():
    """A seed for a run that was not given one (kept in its checkpoint for resuming)."""
    return int(np.random.SeedSequence().entropy % 2**31)


class _Progress(keras.callbacks.Callback):
    def __init__(self, run, start, total, every, stop):
        super().__init__()
        from tqdm import tqdm

        self.run, self.iteration, self.saved, self.every, self.stop = run, start, start, every, stop
        self.first = start
        self.bar = tqdm(total=total, initial=start, unit="it", file=sys.stderr, dynamic_ncols=True)

    def on_train_batch_end(self, batch, logs=None):
        self.iteration = iteration = self.first + batch + 1
        terms = {name: float(logs[name]) for name in LOSS_TERMS if name in logs}
        self.run.record(iteration, terms)
        self.bar.set_description(self.run.describe(iteration), refresh=False)
        self.bar.set_postfix_str(" ".join(f"{k} {v:.4g}" for k, v in terms.items()) + self.run.status(), refresh=False)
        self.bar.update(1)
        if iteration % self.every == 0 or self.stop.requested:
            # Callback.model brings, on JAX, the trained values back into the variables.
            self.run.checkpoint(iteration, self.model)
            self.saved = iteration
        if self.stop.requested:
            self.model.stop_training = True

    def close(self):
        self.bar.close()


def fit_with_progress(objective, feed, run: FitRun, start, total, every, log):
    """objective.fit over `feed` (one epoch of its steps) with a progress bar -> (the last iteration,
    whether it stopped before `total`). Ctrl-C or SIGTERM stops after the current step; the last
    iteration always ends in a checkpoint. A stop asked for during the last step is no stop: the
    run is finished, and saying "the same command resumes" would send the user to do nothing."""
    with stop_requests(log) as stop:
        monitor = _Progress(run, start, total, every, stop)
        try:
            objective.fit(feed, epochs=1, shuffle=False, verbose=0, callbacks=[monitor])
        finally:
            monitor.close()
    if monitor.saved != monitor.iteration:
        run.checkpoint(monitor.iteration, objective)
    return monitor.iteration, stop.requested and monitor.iteration < total


class StopRequest:
    requested = False


@contextlib.contextmanager
def stop_requests(log):
    """Ctrl-C (or SIGTERM) asks for a checkpoint and a clean stop after the current step; a
    second Ctrl-C interrupts at once, leaving the last checkpoint as it was."""
    request = StopRequest()

    def handler(signum, frame):
        request.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        log("\nstopping after this step, with a checkpoint (Ctrl-C again quits without one)")

    previous = {number: signal.signal(number, handler) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
