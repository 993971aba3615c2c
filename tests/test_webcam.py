"""webcam.py end to end with a video file and an MJPEG stream over HTTP as the camera
(--no-window): the recording keeps the file's size, rate and length, and the stream's time; bad
inputs are a message and an exit status; a camera that stops mid-run leaves a complete recording
and says so."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import webcam
from src.checkpoints import save_model
from src.cli import ROOT
from tests.clips import audio_facts, make_clip, mjpeg_stream, video_facts
from tests.fixtures import random_network, signal_while_writing


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("camera") / "camera.mp4", size="96x64", rate="20", seconds=1.5, sound=None)


@pytest.fixture(scope="module")
def two_styles(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "two.keras"
    save_model(random_network(num_styles=2, seed=3), path)
    return path


def run(*argv):
    return webcam.main([*map(str, argv), "--precision", "float32"])


def test_a_file_as_the_camera_is_recorded_in_real_time(model_file, clip, tmp_path, capsys):
    out = tmp_path / "take.mp4"
    assert run("--checkpoint", model_file, "--camera", clip, "--no-window", "--out-path", out) == 0
    err = capsys.readouterr().err
    assert re.search(r"\d+ frames? stylized of 30 read", err) and f"recorded {out}" in err
    facts, source = video_facts(out), video_facts(clip)
    assert (facts["width"], facts["height"], facts["frames"]) == (96, 64, 30)
    assert facts["rate"] == source["rate"]


def test_a_folder_as_the_out_path_gets_a_new_take_each_run(model_file, clip, tmp_path, capsys):
    takes = tmp_path / "takes"
    for _ in range(2):
        assert run("--checkpoint", model_file, "--camera", clip, "--no-window", "--max-frames", "2", "--out-path", f"{takes}/") == 0
    made = sorted(takes.glob("take_*.mp4"))
    assert len(made) == 2 and all(video_facts(path)["frames"] >= 2 for path in made)
    assert f"recorded {made[0]}" in capsys.readouterr().err


def test_a_file_as_the_camera_lends_the_recording_its_sound_up_to_where_it_stops(model_file, tmp_path, capsys):
    camera = make_clip(tmp_path / "song.mp4", size="96x64", rate="20", seconds=2, sound="aac")
    whole, early = tmp_path / "whole.mp4", tmp_path / "early.webm"  # WebM: the sound re-encoded
    assert run("--checkpoint", model_file, "--camera", camera, "--no-window", "--out-path", whole) == 0
    assert run("--checkpoint", model_file, "--camera", camera, "--no-window", "--out-path", early, "--max-frames", "8") == 0
    assert "re-encoding it with libopus" in capsys.readouterr().err
    source = audio_facts(camera)
    for out in (whole, early):
        video, sound = video_facts(out), audio_facts(out)
        # In step with the frames: as long as the recording's pictures, to within an audio frame.
        assert sound is not None and abs(sound["samples"] / sound["sample_rate"] - video["duration"]) < 0.05
    assert audio_facts(whole)["packets"] == source["packets"]  # carried unchanged into MP4
    assert video_facts(early)["duration"] < 1.5


def test_a_still_noisy_camera_is_recorded_steady_unless_stabilize_is_0(model_file, tmp_path, capsys):
    from PIL import Image
    from scipy.ndimage import gaussian_filter

    from tests.clips import ffmpeg

    # A still, textured scene (flow needs texture to hold on to) with a webcam's sensor noise,
    # fresh every frame, stored losslessly.
    texture = gaussian_filter(np.random.default_rng(0).uniform(0, 255, (64, 96, 3)), sigma=(1.5, 1.5, 0))
    Image.fromarray(((texture - texture.min()) / np.ptp(texture) * 255).astype(np.uint8)).save(tmp_path / "still.png")
    clip = tmp_path / "still.mkv"
    still = ["-loop", "1", "-framerate", "20", "-t", "1.5", "-i", tmp_path / "still.png", "-vf", "noise=alls=6:allf=t"]
    ffmpeg(*map(str, still), "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p", str(clip))
    flicker = {}
    for flags in (["--stabilize", "0"], []):  # off, and the default
        out = tmp_path / f"take_{len(flags)}.mkv"
        assert run("--checkpoint", model_file, "--camera", clip, "--no-window", "--out-path", out, *flags) == 0
        frames = recorded_frames(out)
        changes = [np.abs(a - b).mean() for a, b in zip(frames, frames[1:]) if not np.array_equal(a, b)]
        assert len(changes) >= 5  # frames dropped while the network was busy repeat the one before
        flicker[len(flags)] = np.mean(changes)
    said = capsys.readouterr().err
    assert "each frame painted on its own (--stabilize 0)" in said and "steadied against flicker (--stabilize 0.3)" in said
    assert flicker[0] < 0.7 * flicker[2]


def recorded_frames(path):
    from src.video import FrameReader
    from src.video_probe import probe

    with FrameReader(path, probe(path)) as reader:
        return [frame.astype(np.float32) for batch in reader.batches(8) for frame in batch]


def test_size_max_frames_and_every_style_of_each_model(model_file, two_styles, clip, tmp_path, capsys):
    out = tmp_path / "small.mkv"
    argv = [str(a) for a in ("--checkpoint", model_file, "--checkpoint", two_styles, "--camera", clip, "--size", "48x48")]
    assert run(*argv, "--no-window", "--max-frames", "3", "--out-path", out) == 0
    assert "3 frames stylized" in capsys.readouterr().err
    facts = video_facts(out)
    assert (facts["width"], facts["height"]) == (48, 32) and facts["frames"] >= 3  # the 96x64 camera's shape
    parser = webcam.build_parser()
    settings = webcam.settings_from_args(parser, parser.parse_args(argv + ["--precision", "float32", "--engine", "tensorflow"]))
    styles = webcam.load_styles(parser, settings.model.checkpoints)
    assert [(name, weights) for _, weights, name in styles] == [
        ("random", [1.0]),
        ("style_0", [1.0, 0.0]),
        ("style_1", [0.0, 1.0]),
    ]
    frame = np.zeros((32, 48, 3), np.uint8)
    stylizers = webcam.stylizers_for(styles, webcam.cli.stylizer_options(parser, settings.model), ("tensorflow",), frame)
    pictures = [stylizer(frame[None]) for stylizer in stylizers]
    assert [p.shape for p in pictures] == [(1, 32, 48, 3)] * 3 and not np.array_equal(pictures[1], pictures[2])


def test_a_folder_of_models_gives_every_style_of_each(model_file, two_styles, tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(model_file, folder / "a.keras")
    shutil.copy(two_styles, folder / "b.keras")
    (folder / "notes.txt").write_text("not a model")
    parser = webcam.build_parser()
    styles = webcam.load_styles(parser, [folder])
    assert [name for _, _, name in styles] == ["a", "style_0", "style_1"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit):
        webcam.load_styles(parser, [tmp_path / "empty"])
    assert "holds no models" in capsys.readouterr().err


def openvino_is_auto():
    from src.engines import resolve_engine

    if resolve_engine("auto", "cpu") != "openvino":
        pytest.skip("OpenVINO is not installed (setup.sh --openvino), or ONEDNN_MAX_CPU_ISA keeps it off")


def test_auto_races_openvino_against_tensorflow_on_the_first_frame(model_file, clip, capsys):
    openvino_is_auto()
    argv = ["--checkpoint", model_file, "--camera", clip, "--no-window", "--max-frames", "2"]
    assert run(*argv) == 0
    raced = re.search(r"engine: (\w+), \d+ ms a frame \((\w+) \d+ ms\)", capsys.readouterr().err)
    assert raced and {raced.group(1), raced.group(2)} == {"openvino", "tensorflow"}
    assert run(*argv, "--engine", "tensorflow") == 0
    assert "engine:" not in capsys.readouterr().err


def test_where_openvino_cannot_compile_the_race_names_tensorflow(model_file, clip, tmp_path, capsys, monkeypatch):
    openvino_is_auto()
    from src.engines import import_openvino

    openvino = import_openvino()
    monkeypatch.setenv("FST_CACHE_DIR", str(tmp_path))

    def refuse(*args, **kwargs):
        raise RuntimeError("could not create a primitive descriptor for the convolution forward propagation primitive")

    monkeypatch.setattr(openvino.Core, "compile_model", refuse)
    assert run("--checkpoint", model_file, "--camera", clip, "--no-window", "--max-frames", "2") == 0
    err = capsys.readouterr().err
    assert re.search(r"engine: tensorflow, \d+ ms a frame\n", err), err
    assert err.count("OpenVINO cannot run this network here") == 1 and "engine: openvino" not in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--camera", "missing.mp4", "--no-window", "--seconds", "1"], "--camera: missing.mp4: no such file"),
        (["--camera", "http://127.0.0.1:9/video", "--no-window", "--seconds", "1"], "cannot open http://127.0.0.1:9/video: is the address right"),
        (["--camera", "9", "--no-window", "--seconds", "1"], "cannot open camera 9"),
        (["--camera", "{tmp}/notes.avi", "--no-window", "--seconds", "1"], "--camera: {tmp}/notes.avi: not a readable video"),
        (["--camera", "0", "--no-window"], "with --no-window nothing would be seen"),
        (["--size", "640"], "expected WIDTHxHEIGHT"),
        (["--strength", "2"], "--strength: must be between 0 and 1"),
        (["--stabilize", "1"], "--stabilize: must be at least 0 and below 1"),
        (["--checkpoint", "{broken}", "--camera", "{clip}", "--no-window"], "--checkpoint: "),
        (["--camera", "{clip}", "--no-window", "--out-path", "{tmp}/take.txt"], "--out-path: "),
        (["--camera", "{clip}", "--out-path", "{tmp}/take.mp4"], "cannot open windows"),
    ],
)
def test_bad_inputs_are_a_message(model_file, clip, tmp_path, capsys, argv, message):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 broken")
    (tmp_path / "notes.avi").write_text("a text, not a video")
    argv = [a.format(clip=clip, tmp=tmp_path, broken=broken) for a in argv]
    message = message.format(tmp=tmp_path)
    if "--checkpoint" not in argv:
        argv += ["--checkpoint", str(model_file)]
    with pytest.raises(SystemExit) as exit_info:
        run(*argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not any(p.suffix in (".mp4", ".txt") for p in tmp_path.iterdir())


def test_an_odd_sized_camera_is_recorded_at_its_size_with_the_note_transform_video_gives(model_file, tmp_path, capsys):
    clip = make_clip(tmp_path / "odd.mp4", size="57x41", rate="20", seconds=0.5, sound=None)
    out = tmp_path / "take.mp4"
    assert run("--checkpoint", model_file, "--camera", clip, "--no-window", "--out-path", out) == 0
    assert "note: 57x41 has an odd side" in capsys.readouterr().err
    facts = video_facts(out)
    assert (facts["width"], facts["height"]) == (57, 41)


def test_every_style_is_compiled_at_the_start(monkeypatch):
    import src.stylize

    calls = []

    class Stylizer:
        def __init__(self, model, weights, engine, **options):
            self.name = model

        def __call__(self, batch):
            calls.append((self.name, batch.shape))

    monkeypatch.setattr(src.stylize, "Stylizer", Stylizer)
    styles = [(name, None, name) for name in ("a", "b", "c")]
    stylizers = webcam.stylizers_for(styles, {}, ("tensorflow",), np.zeros((6, 8, 3), np.uint8))
    assert [s.name for s in stylizers] == ["a", "b", "c"]
    # The first style is compiled by the loop's first frame; the others here, once each.
    assert calls == [("b", (1, 6, 8, 3)), ("c", (1, 6, 8, 3))]


def test_the_file_read_as_the_camera_is_never_the_recording(clip, tmp_path, capsys, monkeypatch):
    import src.cli

    # Refused before any model loads: loading one would fail the test.
    monkeypatch.setattr(src.cli, "import_keras", lambda: pytest.fail("a model was loaded"))
    folder = tmp_path / "takes"
    folder.mkdir()
    camera = folder / "clip.mp4"  # (a folder as --out-path gets a new take_<time>.mp4, never an existing file)
    shutil.copy(clip, camera)
    before = camera.read_bytes()
    link = tmp_path / "link.mp4"
    link.symlink_to(camera)
    for out in (camera, link):
        with pytest.raises(SystemExit) as exit_info:
            run("--camera", str(camera), "--no-window", "--out-path", str(out))
        assert exit_info.value.code == 2 and "is the input itself" in capsys.readouterr().err
    assert camera.read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["clip.mp4"]


def test_a_camera_that_stops_keeps_the_recording(model_file, tmp_path, capsys, monkeypatch):
    import cv2

    class Camera:
        """Camera 0: five frames, then nothing, as when it is unplugged."""

        def __init__(self, index):
            self.index, self.frames = index, 0

        def isOpened(self):
            return self.index == 0

        def set(self, prop, value):
            return True

        def get(self, prop):
            return 25.0

        def read(self):
            time.sleep(1 / 25)  # as fast as it says
            self.frames += 1
            return (True, np.full((40, 56, 3), 10 * self.frames, np.uint8)) if self.frames <= 5 else (False, None)

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoCapture", Camera)
    out = tmp_path / "unplugged.mp4"
    assert run("--checkpoint", model_file, "--camera", "0", "--no-window", "--out-path", out) == 1
    err = capsys.readouterr().err
    assert "camera 0 stopped sending frames" in err and "what came before it is kept" in err
    facts = video_facts(out)
    assert facts["rate"] == 25 and facts["frames"] >= 1


def test_a_network_stream_is_recorded_in_real_time_until_it_stops(model_file, tmp_path, capsys):
    out = tmp_path / "stream.mp4"
    # 80 frames at 10 a second, no rate announced (OpenCV guesses one), then the stream ends. The
    # models load while it plays: 8 s leaves the loop several seconds on a slow or busy CPU too.
    with mjpeg_stream(80, 10) as (url, shot):
        assert run("--checkpoint", model_file, "--camera", url, "--no-window", "--out-path", out) == 1
        assert shot() >= 79 / 10
    err = capsys.readouterr().err
    assert f"camera {url} stopped sending frames" in err and "of 80 read" in err
    # Recorded by the clock from the first stylized frame on: it lasts as long as the loop ran,
    # whatever rate the recording has (one frame per source frame at 30 a second, as before,
    # would make 80 / 30 = 2.7 s).
    ran = float(re.search(r" in ([\d.]+) s: ", err).group(1))
    facts = video_facts(out)
    assert (facts["width"], facts["height"]) == (64, 48)
    assert ran >= 2 and abs(facts["duration"] - ran) <= 0.2


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full, where every write finds the disk full")
def test_a_recording_that_cannot_be_written_is_a_message(model_file, clip, tmp_path, capsys, monkeypatch):
    import contextlib
    from pathlib import Path

    import src.video

    monkeypatch.setattr(src.video, "atomic_path", lambda path: contextlib.nullcontext(Path("/dev/full")))
    out = tmp_path / "take.mp4"
    assert run("--checkpoint", model_file, "--camera", clip, "--no-window", "--out-path", out) == 1
    err = capsys.readouterr().err
    assert f"webcam.py: cannot write {out}: No space left on device; nothing was recorded" in err
    assert "Traceback" not in err and not out.exists()


def test_a_kill_while_recording_keeps_the_recording(model_file, tmp_path):
    camera = make_clip(tmp_path / "long.mp4", size="96x64", rate="20", seconds=30, sound=None)
    out = tmp_path / "out" / "take.mp4"
    argv = ["webcam.py", "--checkpoint", model_file, "--camera", camera, "--no-window", "--precision", "float32"]
    status, stderr = signal_while_writing([*argv, "--out-path", out], out.parent, signal.SIGTERM)
    assert status == 0 and f"recorded {out}" in stderr and "Traceback" not in stderr
    assert os.listdir(out.parent) == ["take.mp4"] and 10 <= video_facts(out)["frames"] < 600


def test_ctrl_c_before_the_first_frame_is_one_line(model_file, clip, tmp_path, capsys, monkeypatch):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(webcam.cli, "import_keras", interrupted)
    out = tmp_path / "take.mp4"
    assert run("--checkpoint", model_file, "--camera", clip, "--no-window", "--out-path", out) == 130
    err = capsys.readouterr().err
    assert f"interrupted; nothing was recorded to {out}" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, mirrored",
    [([], True), (["--camera", "2"], True), (["--camera", "clip.mp4"], False), (["--camera", "http://cam/video"], False),
     (["--no-mirror"], False), (["--camera", "clip.mp4", "--mirror"], True)],
)  # fmt: skip
def test_a_camera_starts_mirrored_and_a_file_or_stream_does_not(argv, mirrored):
    parser = webcam.build_parser()
    assert webcam.settings_from_args(parser, parser.parse_args(argv)).mirror is mirrored


def test_help_is_instant_and_imports_nothing_heavy():
    code = "import sys, webcam; webcam.build_parser(); print(sorted(m for m in ('tensorflow', 'keras', 'cv2') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
