"""transform_video.py end to end: a random-weight network (the style does not matter here) over
short clips made with ffmpeg; bad inputs give a message and a non-zero exit, never a traceback,
and never a file at the out path."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import transform_video
from src.checkpoints import load_model
from src.cli import ROOT
from src.pixels import to_uint8
from src.stylize import Stylizer
from tests.clips import FAST_H264, audio_facts, make_clip, video_facts
from tests.fixtures import first_frame, signal_while_writing


@pytest.fixture(scope="module")
def clips(tmp_path_factory, sound_clip):
    folder = tmp_path_factory.mktemp("clips")
    return {
        "sound": sound_clip,
        "odd": make_clip(folder / "odd.mov", size="77x45", rate="10", seconds=1.5, sound=None),
    }


def blocks(frame, size=8):
    """Means of size x size blocks: 4:2:0 chroma and the codec blur single pixels, not these."""
    rows, columns = frame.shape[0] // size, frame.shape[1] // size
    return frame[: rows * size, : columns * size].reshape(rows, size, columns, size, 3).mean(axis=(1, 3))


def run(model_file, *arguments):
    return transform_video.main(["--checkpoint", str(model_file), "--device", "cpu", *map(str, arguments)])


def test_clip_with_sound_keeps_size_frames_duration_and_sound(model_file, clips, tmp_path, capsys):
    out = tmp_path / "styled.mp4"
    assert run(model_file, "--in-path", clips["sound"], "--out-path", out, "--batch-size", 3) == 0
    before, after = video_facts(clips["sound"]), video_facts(out)
    assert (after["width"], after["height"]) == (338, 190)
    assert after["frames"] == before["frames"] == 20
    assert after["duration"] == pytest.approx(before["duration"]) and after["rate"] == pytest.approx(10)
    assert audio_facts(out) == audio_facts(clips["sound"])  # copied packet for packet
    assert "stylized 20 frames" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["styled.mp4"]
    # The frames went through the network: the first one is what Stylizer makes of it, up to the codec.
    source, styled = first_frame(clips["sound"]), first_frame(out)
    expected = to_uint8(Stylizer(load_model(model_file))(source[None].astype(np.float32))[0])
    assert np.abs(blocks(styled) - blocks(expected)).mean() < 3 < np.abs(blocks(styled) - blocks(source)).mean()


def test_odd_silent_clip_stays_odd_and_silent_and_preview_stops_early(model_file, clips, tmp_path, capsys):
    out = tmp_path / "styled.mkv"
    assert run(model_file, "--in-path", clips["odd"], "--out-path", out, "--max-frames", 7, "--crf", 30) == 0
    facts = video_facts(out)
    assert (facts["width"], facts["height"], facts["frames"]) == (77, 45, 7)
    assert audio_facts(out) is None
    assert "odd side" in capsys.readouterr().err


def test_max_size_scales_the_frames_down_keeping_their_shape_and_never_up(model_file, clips, tmp_path, capsys):
    out = tmp_path / "small.mp4"
    assert run(model_file, "--in-path", clips["sound"], "--out-path", out, "--max-size", "120x120") == 0
    facts = video_facts(out)
    assert (facts["width"], facts["height"], facts["frames"]) == (120, 67, 20)  # 338x190's shape
    assert audio_facts(out) == audio_facts(clips["sound"])
    assert "note: frames scaled to 120x67" in capsys.readouterr().err
    untouched = tmp_path / "copy.mkv"
    assert run(model_file, "--in-path", clips["odd"], "--out-path", untouched, "--max-size", "640x640") == 0
    assert (video_facts(untouched)["width"], video_facts(untouched)["height"]) == (77, 45)  # never enlarged
    assert "scaled" not in capsys.readouterr().err


def test_stroke_scale_keeps_the_frame_size_and_paints_the_frame_as_evaluate_does(model_file, clips, tmp_path):
    out = tmp_path / "strokes.mp4"
    argv = ["--in-path", clips["odd"], "--out-path", out, "--max-frames", 3, "--stroke-scale", 2, "--stabilize", 0]
    assert run(model_file, *argv, "--crf", 12) == 0
    facts = video_facts(out)
    assert (facts["width"], facts["height"], facts["frames"]) == (77, 45, 3)
    source, styled = first_frame(clips["odd"]), first_frame(out)
    model = load_model(model_file)
    expected = to_uint8(Stylizer(model, stroke_scale=2)(source[None].astype(np.float32))[0])
    plain = to_uint8(Stylizer(model)(source[None].astype(np.float32))[0])
    assert np.abs(blocks(styled) - blocks(expected)).mean() < 3 < np.abs(blocks(styled) - blocks(plain)).mean()


def test_compatibility_flags_are_accepted(model_file, clips, tmp_path, capsys):
    out = tmp_path / "folder"
    out.mkdir()
    flags = ["--tmp-dir", tmp_path, "--no-disk"]
    code = run(model_file, "--in-path", clips["odd"], "--out-path", out, "--max-frames", 1, *flags)
    assert code == 0 and video_facts(out / "odd.mov")["frames"] == 1
    err = capsys.readouterr().err
    assert "no longer needed" in err and "stylized 1 frame into" in err


@pytest.mark.parametrize(
    "in_name, out_name, message",
    [
        ("missing.mp4", "out.mp4", "no such file"),
        ("notes.txt", "out.mp4", "not a readable video"),
        ("photo.jpg", "out.mp4", "still image"),
        ("sound.mp4", "out.avi", "cannot write videos with extension '.avi'"),
        ("sound.mp4", "sound.mp4", "is the input itself"),
        ("sound.mp4", "notes.txt/out.mp4", "notes.txt is a file, not a folder"),
    ],
)
def test_bad_inputs_and_outputs_exit_with_a_message(clips, tmp_path, capsys, in_name, out_name, message):
    from PIL import Image

    (tmp_path / "notes.txt").write_text("not a video")
    Image.new("RGB", (16, 16)).save(tmp_path / "photo.jpg")
    (tmp_path / "sound.mp4").write_bytes(clips["sound"].read_bytes())
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(SystemExit) as exit_:
        transform_video.main(["--in-path", str(tmp_path / in_name), "--out-path", str(tmp_path / out_name)])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize(
    "flags",
    [["--crf", "60"], ["--bitrate", "fast"], ["--crf", "20", "--bitrate", "2M"], ["--max-frames", "0"], ["--stabilize", "1"],
     ["--stroke-scale", "0"], ["--stroke-scale", "big"]],
)
def test_bad_flags_exit_with_a_message(clips, tmp_path, capsys, flags):
    with pytest.raises(SystemExit) as exit_:
        transform_video.main(["--in-path", str(clips["sound"]), "--out-path", str(tmp_path / "o.mp4"), *flags])
    assert exit_.value.code == 2 and "error:" in capsys.readouterr().err
    assert not (tmp_path / "o.mp4").exists()


def test_command_line_failure_has_no_traceback(tmp_path):
    command = [sys.executable, "transform_video.py", "--in-path", str(tmp_path / "nothing.mp4")]
    done = subprocess.run([*command, "--out-path", str(tmp_path / "o.mp4")], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "no such file" in done.stderr and "Traceback" not in done.stderr


def test_ctrl_c_leaves_nothing_at_the_out_path(model_file, tmp_path):
    clip = make_clip(tmp_path / "long.mp4", size="338x190", rate="25", seconds=20)
    out = tmp_path / "out" / "styled.mp4"
    argv = ["transform_video.py", "--checkpoint", model_file, "--device", "cpu", "--in-path", clip, "--out-path", out]
    status, stderr = signal_while_writing(argv, out.parent, signal.SIGINT)
    assert status == 130 and "interrupted; nothing was written" in stderr
    assert "Traceback" not in stderr
    assert os.listdir(out.parent) == []


def test_a_video_cut_short_is_an_error_not_a_short_output(model_file, tmp_path, capsys):
    """Its index (at the front) promises 30 frames, its data holds about half: ffmpeg decodes
    what is there, says so, and exits 0; we exit 1 and write nothing."""
    whole = make_clip(tmp_path / "whole.mp4", size="96x64", rate="10", seconds=3, video=[*FAST_H264, "-movflags", "+faststart"])
    data = whole.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    status = run(model_file, "--in-path", tmp_path / "cut.mp4", "--out-path", tmp_path / "out.mp4")
    err = capsys.readouterr().err
    assert status == 1, err
    assert "the video is damaged: decoding stopped after" in err and "of 30 frames" in err
    assert not (tmp_path / "out.mp4").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4", "whole.mp4"]
    # What is readable can still be asked for.
    assert run(model_file, "--in-path", tmp_path / "cut.mp4", "--out-path", tmp_path / "out.mp4", "--max-frames", "5") == 0


def test_stabilize_keeps_the_first_frame_and_the_count_and_steadies_the_rest(model_file, clips, tmp_path):
    """A still scene with sensor noise: per-frame stylization flickers, --stabilize much less."""
    from tests.clips import ffmpeg

    still = tmp_path / "still.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x96:rate=10,trim=end_frame=1,loop=loop=11:size=1", "-vf",
           "noise=alls=12:allf=t", "-frames:v", "12", *FAST_H264, str(still))  # fmt: skip
    outputs = {}
    for strength in ("0", "0.6"):
        out = tmp_path / f"s{strength}.mp4"
        assert run(model_file, "--in-path", still, "--out-path", out, "--stabilize", strength, "--crf", "0") == 0
        assert video_facts(out)["frames"] == 12
        outputs[strength] = read_frames(out)
    per_frame, steady = outputs["0"], outputs["0.6"]
    assert np.abs(per_frame[0] - steady[0]).mean() < 1.0  # the first frame has no past
    flicker = [np.abs(np.diff(frames[4:], axis=0)).mean() for frames in (per_frame, steady)]
    assert flicker[1] < 0.6 * flicker[0]


def test_stabilize_without_opencv_says_how_to_get_it(model_file, clips, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 raises ImportError
    with pytest.raises(SystemExit) as exit_:
        run(model_file, "--in-path", clips["sound"], "--out-path", tmp_path / "o.mp4")
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "opencv-python-headless" in err and "--stabilize 0" in err


def read_frames(path):
    from src.video import FrameReader
    from src.video_probe import probe

    with FrameReader(path, probe(path)) as reader:
        return np.concatenate(list(reader.batches(8))).astype(np.float32)


def test_stabilize_with_variable_rate_tiles_colour_and_strength(model_file, tmp_path):
    """The stabilizer acts on the final frames: a phone-like variable-rate clip keeps its timing,
    and tiles, --preserve-color and --strength go through it unchanged."""
    vfr = make_clip(
        tmp_path / "vfr.mp4", size="64x48", sound=None,
        video=("-vf", "setpts='if(lt(N,10),N/10,1+(N-10)/5)/TB'", "-fps_mode", "vfr", *FAST_H264),
    )  # fmt: skip
    out = tmp_path / "out.mp4"
    flags = ["--tile-size", "32", "--preserve-color", "--strength", "0.5", "--stabilize", "0.5"]
    assert run(model_file, "--in-path", vfr, "--out-path", out, *flags) == 0
    before, after = video_facts(vfr), video_facts(out)
    assert after["frames"] == 28 and after["duration"] == pytest.approx(before["duration"], abs=0.1)


def test_a_folder_of_videos_goes_into_a_folder_with_one_network(model_file, tmp_path, capsys, monkeypatch):
    from src import cli

    built, stylizer_for = [], cli.stylizer_for
    monkeypatch.setattr(cli, "stylizer_for", lambda *a, **k: built.append(a) or stylizer_for(*a, **k))
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("a.mp4", "a.avi", "b.mkv"):
        make_clip(clips / name, size="64x48", rate="10", seconds=0.5, sound=None)
    (clips / "notes.txt").write_text("not a video")
    (clips / "broken.mov").write_text("not a video either")
    (clips / "sub").mkdir()
    out = tmp_path / "styled"
    assert run(model_file, "--in-path", clips, "--out-path", out, "--max-frames", 3) == 1  # broken.mov failed
    err = capsys.readouterr().err
    # a.avi's container is not one we write: .mp4, and not over a.mp4's result.
    assert sorted(os.listdir(out)) == ["a.avi.mp4", "a.mp4", "b.mkv"]
    assert all(video_facts(out / name)["frames"] == 3 for name in os.listdir(out))
    assert "1 file in" in err and "(notes.txt)" in err and "3 of 4 videos: b.mkv" in err
    assert "1 folder in" in err and "(sub) not searched" in err
    assert "stylized 3 of 4 videos into" in err and "broken.mov: not a readable video" in err
    assert len(built) == 1 and "Traceback" not in err  # one network for every video
    # A quoted pattern takes what it matches, into a folder.
    assert run(model_file, "--in-path", clips / "*.mp4", "--out-path", tmp_path / "pattern", "--max-frames", 2) == 0
    assert os.listdir(tmp_path / "pattern") == ["a.mp4"]


@pytest.mark.parametrize(
    "out_name, flags, message",
    [
        ("clips", [], "the outputs would overwrite the inputs"),
        ("notes.txt", [], "is a file"),
        ("styled.mp4", [], "is named like a video; give a folder such as"),
        ("styled", ["--crf", "60"], "--crf for libx264 must be between 0 and 51"),  # said once, before any work
    ],
)
def test_a_folder_needs_a_folder_to_go_into(model_file, tmp_path, capsys, out_name, flags, message):
    clips = tmp_path / "clips"
    clips.mkdir()
    make_clip(clips / "a.mp4", size="64x48", rate="10", seconds=0.5, sound=None)
    (tmp_path / "notes.txt").write_text("a file")
    with pytest.raises(SystemExit) as exit_:
        run(model_file, "--in-path", clips, "--out-path", tmp_path / out_name, *flags)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["clips", "notes.txt"] and os.listdir(clips) == ["a.mp4"]


def test_a_folder_without_videos_or_a_pattern_matching_nothing(model_file, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert run(model_file, "--in-path", tmp_path / "empty", "--out-path", tmp_path / "out") == 1
    assert "no videos in" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run(model_file, "--in-path", tmp_path / "*.mov", "--out-path", tmp_path / "out")
    assert "matches no file" in capsys.readouterr().err and not (tmp_path / "out").exists()
