"""style.py end to end, in-process (TensorFlow backend): training, resuming, previews,
TensorBoard logs, evaluate.py on the result, --slow, and argument errors."""

import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import evaluate
import style
from src.checkpoints import load_model
from src.training.train_state import read_state
from tests.fixtures import read_events, tensorflow_log_lines, unquieted_environment
from tests.fixtures import ROOT, loaded
from tests.training_runs import train_args


def test_train_resume_and_evaluate(training_data, tmp_path, capsys, monkeypatch):
    from src.training.train import _Run

    directory, previews = tmp_path / "run", tmp_path / "previews"
    test = ["--test", str(training_data["test"]), "--test-dir", str(previews)]
    preview = _Run.preview
    monkeypatch.setattr(_Run, "preview", lambda run, iteration: (time.sleep(0.5), preview(run, iteration)))  # a large --test
    assert style.main(train_args(training_data, directory, "--epochs", "1", "--checkpoint-iterations", "2", *test)) == 0
    monkeypatch.setattr(_Run, "preview", preview)
    out, err = capsys.readouterr()
    assert f"python evaluate.py --checkpoint {directory} --in-path" in out
    assert "skipped 1 unreadable file in" in err and "broken.jpg" in err
    # The steps' time is told apart from the previews' (three of them: iterations 0, 2 and 3).
    times = re.search(r"3 iterations in [\d.]+ s \([\d.e-]+ s each\); checkpoints and previews ([\d.]+) s; waited", err)
    assert times and float(times.group(1)) >= 1.5, err
    assert read_state(directory).iteration == 3  # 14 files // 4
    assert sorted(p.name for p in previews.iterdir()) == ["0_0.png", "0_2.png", "0_3.png"]
    assert loaded(previews / "0_3.png").size == (27, 21)  # the test image's own size

    assert style.main(train_args(training_data, directory, "--epochs", "2", "--checkpoint-iterations", "2", *test)) == 0
    assert "resumed from iteration 3 (epoch 2 of 2)" in capsys.readouterr().err
    assert read_state(directory).iteration == 6
    assert {"1_4.png", "1_6.png"} <= {p.name for p in previews.iterdir()}
    assert style.main(train_args(training_data, directory, "--epochs", "2")) == 0
    assert "already holds 6 iterations, 2 epochs: nothing to do" in capsys.readouterr().err

    # The same run without the stop: the same network (resuming loses nothing, repeats nothing).
    straight = tmp_path / "straight"
    assert style.main(train_args(training_data, straight, "--epochs", "2", "--checkpoint-iterations", "2")) == 0
    for resumed, uninterrupted in zip(load_model(directory).get_weights(), load_model(straight).get_weights()):
        np.testing.assert_allclose(resumed, uninterrupted, rtol=1e-4, atol=1e-5)

    events = read_events(directory / "logs")  # both runs' files
    steps = sorted(e.step for e in events if any(v.tag == "loss/content" for v in e.summary.value))
    assert steps == [1, 2, 3, 4, 5, 6]
    assert any(v.tag == "preview/style" and v.image.width == 27 for e in events for v in e.summary.value)
    assert any(e.session_log.status == 1 and e.step == 3 for e in events)

    output = tmp_path / "out.png"
    argv = ["--checkpoint", str(directory), "--in-path", str(training_data["test"]), "--out-path", str(output)]
    assert evaluate.main(argv) == 0
    assert loaded(output).size == (27, 21)

    assert style.main(train_args(training_data, directory, "--epochs", "2")) == 0
    assert "nothing to do" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        style.main(train_args(training_data, directory, "--epochs", "3", "--batch-size", "2"))
    assert exit_info.value.code == 2
    assert "--batch-size was 4, now 2" in capsys.readouterr().err


@pytest.mark.tf_bfloat16
def test_mixed_bfloat16_training(training_data, tmp_path, capsys):
    from src.training.train_state import read_state as state_of

    runs = {}
    for precision in ("float32", "mixed_bfloat16"):
        directory = tmp_path / precision
        assert style.main(train_args(training_data, directory, "--epochs", "1", "--precision", precision)) == 0
        runs[precision] = load_model(directory)
        assert state_of(directory).iteration == 3
    assert "training in mixed_bfloat16" in capsys.readouterr().err
    # Weights stay float32 (only the convolutions compute in bfloat16): the saved model is an
    # ordinary one, and three steps from the same seed land near the float32 run ...
    for mixed, full in zip(runs["mixed_bfloat16"].get_weights(), runs["float32"].get_weights()):
        assert mixed.dtype == np.float32
        np.testing.assert_allclose(mixed, full, atol=0.02)
    # ... with the same first loss (same weights, only the precision differs) to bfloat16's
    # precision, and later ones close (the loss falls steeply here, so the paths part a little).
    losses = {}
    for precision in runs:
        events = read_events(tmp_path / precision / "logs")
        losses[precision] = {e.step: v.simple_value for e in events for v in e.summary.value if v.tag == "loss/total"}
    assert sorted(losses["float32"]) == sorted(losses["mixed_bfloat16"]) == [1, 2, 3]
    for step, value in losses["float32"].items():
        assert losses["mixed_bfloat16"][step] == pytest.approx(value, rel=0.02 if step == 1 else 0.1)


def test_slow(training_data, tmp_path, capsys):
    previews = tmp_path / "slow"
    argv = ["--slow", "--style", str(training_data["style"]), "--test", str(training_data["test"])]
    argv += ["--test-dir", str(previews), "--vgg-path", str(training_data["vgg_mat"]), "--epochs", "12"]
    assert style.main([*argv, "--checkpoint-iterations", "5", "--seed", "1"]) == 0
    assert "12 iterations at learning rate 10" in capsys.readouterr().err
    assert sorted(p.name for p in previews.iterdir()) == ["slow_10.png", "slow_12.png", "slow_5.png"]
    assert loaded(previews / "slow_12.png").size == (27, 21)


def half_transparent(photo_path, out_path):
    """A copy of the photo whose right half is transparent -> its alpha (H, W)."""
    photo = Image.open(photo_path).convert("RGBA")
    alpha = np.zeros(photo.size[::-1], np.uint8)
    alpha[:, : photo.size[0] // 2] = 255
    photo.putalpha(Image.fromarray(alpha))
    photo.save(out_path)
    return alpha


def test_slow_keeps_the_transparency_of_test(training_data, tmp_path):
    alpha = half_transparent(training_data["test"], tmp_path / "logo.png")
    argv = ["--slow", "--style", str(training_data["style"]), "--test", str(tmp_path / "logo.png")]
    argv += ["--test-dir", str(tmp_path / "slow"), "--vgg-path", str(training_data["vgg_mat"]), "--epochs", "10"]
    assert style.main([*argv, "--checkpoint-iterations", "10", "--seed", "1"]) == 0
    written = Image.open(tmp_path / "slow" / "slow_10.png")
    assert written.mode == "RGBA" and np.array_equal(np.asarray(written)[..., 3], alpha)


def test_previews_keep_the_transparency_of_test(training_data, tmp_path):
    alpha = half_transparent(training_data["test"], tmp_path / "logo.png")
    test = ["--test", str(tmp_path / "logo.png"), "--test-dir", str(tmp_path / "previews")]
    assert style.main(train_args(training_data, tmp_path / "run", "--epochs", "1", *test)) == 0
    for name in ("0_0.png", "0_3.png"):
        written = Image.open(tmp_path / "previews" / name)
        assert written.mode == "RGBA" and np.array_equal(np.asarray(written)[..., 3], alpha)


def test_training_photos_in_subfolders_are_named_as_not_searched(training_data, tmp_path, capsys):
    for name in ("2024", "2025"):
        shutil.copytree(training_data["train"], tmp_path / "photos" / name)
    with pytest.raises(SystemExit) as exit_info:
        style.main(train_args(training_data, tmp_path / "run") + ["--train-path", str(tmp_path / "photos")])
    assert exit_info.value.code == 2
    assert "has 0 readable images (its 2 folders, 2024, 2025, are not searched)" in capsys.readouterr().err


def test_slow_refuses_a_test_image_larger_than_the_memory_free(training_data, tmp_path, capsys, monkeypatch):
    import src.devices
    import src.memory

    monkeypatch.setattr(src.memory, "available_memory", lambda: 1 << 30)  # 1 GB free: less than the least
    monkeypatch.setattr(src.devices, "nvidia_driver_present", lambda: False)  # on a CPU
    argv = ["--slow", "--style", str(training_data["style"]), "--test", str(training_data["test"])]
    with pytest.raises(SystemExit) as exit_info:
        style.main([*argv, "--test-dir", str(tmp_path), "--vgg-path", str(training_data["vgg_mat"])])
    assert exit_info.value.code == 2
    assert "--slow optimizes all 27x21 pixels of --test at once, which takes at least 1.0 GB" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a, d: a[:1] + ["/nonexistent/style.jpg"] + a[2:], "--style /nonexistent/style.jpg: no such file"),
        (lambda a, d: a[:1] + ["https://museum.org/wave.jpg"] + a[2:], "https://museum.org/wave.jpg is a web address: download"),
        (lambda a, d: a + ["--epochs", "0"], "--epochs: must be at least 1"),
        (lambda a, d: a + ["--batch-size", "-2"], "--batch-size: must be at least 1"),
        (lambda a, d: a + ["--checkpoint-iterations", "x"], "not a whole number"),
        (lambda a, d: a + ["--learning-rate", "0"], "--learning-rate: must be a positive number"),
        (lambda a, d: a + ["--style-weight", "-1"], "--style-weight: must be a number 0 or more"),
        (lambda a, d: a + ["--style-scale", "nan"], "--style-scale: must be a positive number"),
        (lambda a, d: a + ["--seed", "-1"], "--seed: must be 0 or more"),
        (lambda a, d: a + ["--image-size", "8"], "--image-size must be at least 16"),
        (lambda a, d: a + ["--train-path", str(d / "nowhere")], "is not a folder"),
        (lambda a, d: a + ["--train-path", str(d)], "has 0 readable images;"),
        (lambda a, d: a + ["--vgg-path", str(d / "missing.mat")], "--vgg-path: VGG weights"),
        (lambda a, d: a + ["--vgg-path", str(a[1])], "is not a VGG weight file"),
        (lambda a, d: a + ["--style-layers", "relu5_5"], "--style-layers/--content-layer: VGG19 has no layer relu5_5"),
        (lambda a, d: a + ["--content-layer", "pool4"], "VGG19 has no layer pool4: its layers are relu1_1"),
        (lambda a, d: [x for x in a if x not in ("--checkpoint-dir", str(d / "run"))], "required: --checkpoint-dir"),
        (lambda a, d: a + ["--slow"], "--slow optimizes the pixels of --test"),
        (lambda a, d: a + ["--test", str(a[1])], "--test and --test-dir go together"),
        (lambda a, d: a + ["--test", a[1], "--test-dir", a[a.index("--train-path") + 1]], "is the --train-path folder"),
        (lambda a, d: a + ["--style", a[1]], "same name"),
        (lambda a, d: a + ["--slow", "--test", a[1], "--test-dir", str(d), "--temporal-weight", "5"], "--temporal-weight trains"),
        (lambda a, d: a + ["--temporal-weight", "-1"], "--temporal-weight"),
    ],
)
def test_bad_arguments(training_data, tmp_path, capsys, change, message):
    argv = change(train_args(training_data, tmp_path / "run"), tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        style.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run" / "model.keras").exists()


def test_broken_vgg_file_no_traceback(training_data, tmp_path):
    truncated = tmp_path / "imagenet-vgg-verydeep-19.mat"
    truncated.write_bytes(training_data["vgg_mat"].read_bytes()[:5000])
    argv = train_args({**training_data, "vgg_mat": truncated}, tmp_path / "run")
    result = subprocess.run(
        [sys.executable, "style.py", *argv], cwd=ROOT, env=unquieted_environment(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and tensorflow_log_lines(result.stderr) == []
    assert f"{truncated}" in result.stderr and "cut short" in result.stderr


def test_vgg16_trains_at_any_layers(training_data, tmp_path, capsys):
    args = train_args(training_data, tmp_path / "run", "--epochs", "1", vgg="vgg16_h5")
    layers = ["--style-layers", "relu1_2", "relu2_2", "relu3_3", "relu4_3", "--content-layer", "relu2_2"]
    assert style.main(args + layers) == 0
    assert (tmp_path / "run" / "model.keras").is_file()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        style.main(args + ["--style-layers", "relu5_4"])  # VGG19 has it, VGG16 does not
    assert "VGG16 has no layer relu5_4" in capsys.readouterr().err


@pytest.mark.parametrize(
    "change, named",
    [
        (lambda args, d: args + ["--style-weight", "50"], "--style-weight was 100, now 50"),
        (lambda args, d: args + ["--style-layers", "relu1_1", "relu2_1"], "--style-layers was"),
        (lambda args, d: args + ["--content-layer", "relu3_1"], "--content-layer was relu4_2, now relu3_1"),
        (lambda args, d: args + ["--temporal-weight", "3"], "--temporal-weight was 0, now 3"),
        (lambda args, d: [str(d["vgg_h5"]) if a == str(d["vgg_mat"]) else a for a in args], None),
        (lambda args, d: [str(d["vgg16_h5"]) if a == str(d["vgg_mat"]) else a for a in args], "--vgg-path was VGG19, now VGG16"),
    ],
)
def test_resuming_with_another_objective_is_refused(training_data, tmp_path, capsys, change, named):
    """The same weights in another file layout resume; other weights, layers or network do not."""
    args = train_args(training_data, tmp_path / "run", "--epochs", "1")
    assert style.main(args) == 0
    capsys.readouterr()
    again = change(args + ["--epochs", "2"], training_data)
    if named is None:
        assert style.main(again) == 0
        assert "resumed from iteration" in capsys.readouterr().err
        return
    with pytest.raises(SystemExit) as exit_info:
        style.main(again)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "holds a run with other settings" in err and named in err


def test_resuming_with_another_painting_of_the_same_name_is_refused(training_data, tmp_path, capsys):
    painting = tmp_path / "style.png"
    shutil.copyfile(training_data["style"], painting)
    args = [painting if a == str(training_data["style"]) else a for a in train_args(training_data, tmp_path / "run")]
    args = [str(a) for a in args] + ["--epochs", "1"]
    assert style.main(args) == 0
    Image.fromarray(np.zeros((30, 26, 3), np.uint8)).save(painting)  # same name, another picture
    capsys.readouterr()
    with pytest.raises(SystemExit):
        style.main(args[:-1] + ["2"])
    assert "the --style images are other pictures" in capsys.readouterr().err


def test_a_transparent_style_is_learnt_from_its_opaque_part_an_animated_one_from_its_first_frame(training_data, tmp_path, capsys):
    import hashlib

    from src.training.styles import Style

    rgba = np.asarray(Image.open(training_data["style"]).convert("RGBA")).copy()
    rgba[:, 20:, 3] = 0  # a painting cut out of its background
    painting = tmp_path / "cut_out.png"
    Image.fromarray(rgba).save(painting)
    args = [str(painting) if a == str(training_data["style"]) else a for a in train_args(training_data, tmp_path / "run")]
    assert style.main(args + ["--epochs", "1"]) == 0
    assert f"note: --style {painting} is transparent in part: the style is learnt from its opaque part" in capsys.readouterr().err
    frames = [Image.open(training_data["style"]).convert("RGB"), Image.new("RGB", (30, 26))]
    frames[0].save(tmp_path / "animated.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(SystemExit):  # the notes come before the missing --vgg-path is found
        style.main([str(tmp_path / "animated.gif") if a == str(painting) else a for a in args] + ["--vgg-path", "nowhere"])
    assert f"note: --style {tmp_path / 'animated.gif'} has several frames; the first is used" in capsys.readouterr().err
    rgba[:, 15:, 3] = 0  # the same pixels, less of them opaque: another style
    Image.fromarray(rgba).save(painting)
    with pytest.raises(SystemExit):
        style.main(args + ["--epochs", "2"])
    assert "the --style images are other pictures" in capsys.readouterr().err
    rgba[..., 3] = 0
    Image.fromarray(rgba).save(painting)
    with pytest.raises(SystemExit) as exit_info:
        style.main(args[:3] + [str(tmp_path / "other")] + args[4:])
    assert exit_info.value.code == 2 and "is wholly transparent" in capsys.readouterr().err
    # An opaque style's fingerprint is its pixels' alone, as before alpha counted: older runs resume.
    rgb = rgba[..., :3].astype(np.float32)
    opaque = Style("s", rgb, np.full(rgb.shape[:2], 255, np.uint8))
    assert opaque.alpha is None and opaque.fingerprint() == hashlib.sha256(rgb.tobytes()).hexdigest()[:16]


def test_ctrl_c_during_start_up_is_one_line(training_data, tmp_path, capsys, monkeypatch):
    from src import cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "import_keras", interrupted)
    assert style.main(train_args(training_data, tmp_path / "run")) == 130
    err = capsys.readouterr().err
    assert "interrupted before training started" in err and "Traceback" not in err


def test_a_kill_during_start_up_is_stopped_as_a_ctrl_c(training_data, tmp_path, capsys, monkeypatch):
    import os
    import signal
    import time

    from src import cli

    def killed():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the handler runs here
        raise AssertionError("the kill was not taken as an interrupt")

    monkeypatch.setattr(cli, "import_keras", killed)
    previous = signal.signal(signal.SIGTERM, lambda *_: None)  # without the change: not pytest's end
    try:
        assert style.main(train_args(training_data, tmp_path / "run")) == 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    err = capsys.readouterr().err
    assert "interrupted before training started" in err and "Traceback" not in err


def test_a_full_disk_names_the_file(training_data, tmp_path, capsys, monkeypatch):
    import errno

    from src.training import train_state

    def full(model, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(train_state, "save_model", full)
    assert style.main(train_args(training_data, tmp_path / "run", "--epochs", "1")) == 1
    err = capsys.readouterr().err
    assert f"style.py: cannot write {tmp_path / 'run' / 'model.keras'}: No space left on device" in err


def test_temporal_weight_trains_and_resumes(training_data, tmp_path, capsys):
    args = train_args(training_data, tmp_path / "run", "--epochs", "1", "--temporal-weight", "10")
    assert style.main(args) == 0
    assert "temporal" in capsys.readouterr().err  # its term is on the progress bar
    assert style.main(args[:-2] + ["--epochs", "2", "--temporal-weight", "10"]) == 0
    assert "resumed from iteration" in capsys.readouterr().err
