"""src/video_probe.py: what a video file holds, read before its frames (size as displayed, exact
rate, sound, transparency), and the refusal, with its reason, of whatever is not a video. Reading
the frames, rotation, HDR and transparency included, is tests/test_video.py's."""

import os
from fractions import Fraction

import pytest

from src.video import plan_output
from src.video_probe import VideoError, fit_within, probe
from tests.clips import PNG_IN_MOV, VP9_ALPHA, ffmpeg, make_clip, make_transparent_clip, streams


def test_probe_reads_size_exact_rate_duration_and_sound(sound_clip, tmp_path):
    info = probe(sound_clip)
    assert (info.width, info.height) == (338, 190)
    assert info.frame_rate == 10 and info.duration == pytest.approx(2.0, abs=0.05)
    assert info.audio_codecs == ("aac",) and not info.variable_rate and info.subtitles == 0
    assert info.frame_estimate == 20 and info.hdr is None and not info.alpha and not info.scaled
    ntsc = make_clip(tmp_path / "ntsc.mp4", size="64x48", rate="30000/1001", seconds=1, sound=None)
    assert probe(ntsc).frame_rate == Fraction(30000, 1001)
    assert probe(ntsc).audio_codecs == () and probe(ntsc).pixel_aspect == 1


def test_fit_within_scales_down_keeping_the_shape_and_never_up(sound_clip):
    info = probe(sound_clip)  # 338x190
    assert fit_within(info, None) is info and fit_within(info, (338, 190)) is info and fit_within(info, (4000, 200)) is info
    smaller = fit_within(info, (240, 240))
    assert (smaller.width, smaller.height) == (240, 135) and smaller.scaled
    assert (fit_within(info, (1000, 95)).width, fit_within(info, (1000, 95)).height) == (169, 95)
    assert smaller.frame_rate == info.frame_rate and smaller.audio_codecs == info.audio_codecs


def test_probe_refuses_what_is_not_a_video(tmp_path):
    from PIL import Image

    (tmp_path / "notes.mp4").write_text("hello, not a video")
    (tmp_path / "notes.jpg").write_text("hello, not a photo either")
    Image.new("RGB", (32, 24), "red").save(tmp_path / "photo.jpg")
    Image.new("RGB", (32, 24), "red").save(tmp_path / "still.gif")  # read as a video of one frame by ffmpeg
    ffmpeg("-f", "lavfi", "-i", "sine=duration=0.5", str(tmp_path / "sound.m4a"))
    (tmp_path / "empty.y4m").write_bytes(b"YUV4MPEG2 W64 H48 F10:1 Ip A1:1 C420jpeg\n")  # a header, no frame
    (tmp_path / "nothing.mp4").write_bytes(b"")
    whole = make_clip(tmp_path / "whole.mp4", size="64x48", seconds=1, sound=None).read_bytes()
    (tmp_path / "unfinished.mp4").write_bytes(whole[: len(whole) // 2])  # the index comes last
    expected = {
        "missing.mp4": "no such file",
        "notes.mp4": "not a readable video",
        "photo.jpg": "a still image, not a video",
        "still.gif": "a still image, not a video",
        "notes.jpg": "neither a readable video nor a readable image",
        "sound.m4a": "has no video stream",
        "empty.y4m": "no frame of its video could be decoded",
        "nothing.mp4": "an empty file",
        "unfinished.mp4": r"an unfinished video: its index \(moov atom\) is missing",
        ".": "is a folder: give one video file",
        "pipe": "not a file",
    }
    os.mkfifo(tmp_path / "pipe")
    for name, message in expected.items():
        with pytest.raises(VideoError, match=message):
            probe(tmp_path / name)


def test_an_alpha_channel_that_is_opaque_everywhere_is_no_transparency(tmp_path):
    opaque = make_transparent_clip(tmp_path / "opaque.mov", PNG_IN_MOV, opaque=True)
    assert not probe(opaque).alpha and plan_output(opaque, tmp_path / "out.mp4", probe(opaque)).notes == ()
    plain = make_clip(tmp_path / "plain.webm", size="64x48", seconds=0.5, sound=None, video=VP9_ALPHA[:2])
    assert not probe(plain).alpha


def test_cover_art_is_not_taken_for_a_video(tmp_path):
    from PIL import Image

    Image.new("RGB", (32, 32), "blue").save(tmp_path / "cover.png")
    inputs = ["-f", "lavfi", "-i", "sine=duration=0.5", "-i", str(tmp_path / "cover.png")]
    cover = ["-map", "1", "-c:v", "png", "-disposition:v", "attached_pic"]
    ffmpeg(*inputs, "-map", "0", *cover, str(tmp_path / "song.m4a"))
    with pytest.raises(VideoError, match="has no video stream"):
        probe(tmp_path / "song.m4a")
    # A transparent cover on a video is not the video's transparency.
    Image.new("RGBA", (32, 32), (0, 0, 255, 0)).save(tmp_path / "clear.png")
    make_clip(tmp_path / "clip.mp4", size="64x48", seconds=0.5, sound=None)
    cover = ["-map", "0", "-map", "1", "-c:v:0", "copy", "-c:v:1", "png", "-disposition:v:1", "attached_pic"]
    ffmpeg("-i", str(tmp_path / "clip.mp4"), "-i", str(tmp_path / "clear.png"), *cover, str(tmp_path / "covered.mp4"))
    assert "rgba" in streams(tmp_path / "covered.mp4")[1][2] and not probe(tmp_path / "covered.mp4").alpha
