"""style.py stopped by Ctrl-C, then killed with SIGKILL in the middle of writing a checkpoint,
then resumed: every checkpoint left behind loads."""

import os
import signal
import subprocess
import sys
import time

import style
from src.checkpoints import load_model
from src.training.train_state import STATE_FILENAME, read_state
from tests.fixtures import ROOT
from tests.training_runs import train_args


def start(argv, log, env=None):
    with log.open("w") as output:  # the child has its own copy
        return subprocess.Popen(
            [sys.executable, "style.py", *argv],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )


def wait_for(condition, process, timeout=90):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "style.py ended early"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def writing(directory):
    return any(p.name.endswith((".tmp", ".tmp.keras")) for p in directory.glob(".*"))


def test_ctrl_c_and_kill_9_then_resume(training_data, tmp_path, capsys):
    directory = tmp_path / "run"
    # 24 iterations: room for the signals to land before the end even when the host is slow.
    argv = train_args(training_data, directory, "--epochs", "8", "--checkpoint-iterations", "1")

    # Ctrl-C: a checkpoint of the last step, then exit status 130.
    process = start(argv, tmp_path / "1.log")
    wait_for(lambda: (directory / STATE_FILENAME).exists() and read_state(directory).iteration >= 2, process)
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 130
    log = (tmp_path / "1.log").read_text()
    stopped = read_state(directory).iteration
    assert f"stopped at iteration {stopped}, checkpoint saved" in log
    assert "Traceback" not in log

    # SIGKILL while a checkpoint is being written: the previous one stays loadable.
    process = start(argv, tmp_path / "2.log")
    wait_for(lambda: f"resumed from iteration {stopped}" in (tmp_path / "2.log").read_text(), process)
    wait_for(lambda: writing(directory), process)
    process.kill()
    process.wait(60)
    assert writing(directory)  # it died mid-write
    killed_at = read_state(directory).iteration
    assert killed_at >= stopped
    load_model(directory)  # what evaluate.py would load

    # The same command again (in this process, it is quicker): resumes and finishes.
    assert style.main(argv) == 0
    out, err = capsys.readouterr()
    assert f"resumed from iteration {killed_at}" in err
    assert "Training complete (24 iterations)" in out
    assert not writing(directory)  # the leftovers of the killed run are gone
    assert read_state(directory).iteration == 24
