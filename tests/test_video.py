"""src/video.py and src/video_jobs.py: streaming frames in and out, sound carried over,
bad inputs and outputs, cleanup, flat memory. No network here: frames pass through NumPy."""

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from src.cli import ROOT
from src.out_paths import OutPathError
from src.video import FrameReader, audio_arguments, plan_output, writing
from src.video_jobs import notes_before, stylize_video
from src.video_probe import VideoError, fit_within, probe
from tests.clips import (
    FAST_H264,
    PNG_IN_MOV,
    VP9_ALPHA,
    audio_facts,
    decoded,
    make_clip,
    make_hdr_clip,
    make_transparent_clip,
    streams,
    video_facts,
)


@pytest.fixture(scope="module")
def clips(tmp_path_factory, sound_clip):
    folder = tmp_path_factory.mktemp("clips")
    return {
        "sound": sound_clip,
        "odd": make_clip(folder / "odd.mkv", size="77x45", rate="10", seconds=1.5, sound="pcm_s16le"),
        "silent": make_clip(folder / "silent.mp4", size="64x48", rate="10", seconds=1, sound=None),
        "rotated": make_clip(
            folder / "rotated.mp4", size="64x48", rate="10", seconds=1, sound=None, before=("-display_rotation", "90")
        ),
    }


def seconds(sound):
    return sound["samples"] / sound["sample_rate"]


def ffmpeg_children():
    """ffmpeg processes this process started and has not reaped (read from Linux's /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        if int(fields[1]) == os.getpid() and name.startswith("ffmpeg"):
            children.append(int(stat.parent.name))
    return children


def copy_frames(source, target, batch_size=3, info=None, **plan):
    """Read every frame of source and write it unchanged, with the sound, through src.video."""
    info = info or probe(source)
    output = plan_output(source, target, info, **plan)
    audio, note = audio_arguments(source, info, output.container)
    reader = FrameReader(source, info)
    with writing(output, info, source, audio) as writer:
        batches = list(reader.batches(batch_size))
        for batch in batches:
            writer.write(batch)
    return np.concatenate(batches), output, note


def test_rotation_metadata_gives_upright_frames_at_the_displayed_size(clips, tmp_path):
    info = probe(clips["rotated"])
    assert (info.width, info.height) == (48, 64)
    frames, _, _ = copy_frames(clips["rotated"], tmp_path / "upright.mp4")
    assert frames.shape == (10, 64, 48, 3)
    facts = video_facts(tmp_path / "upright.mp4")
    assert (facts["width"], facts["height"]) == (48, 64)
    # Written upright, so no rotation is left to apply: the output's own probe agrees.
    assert (probe(tmp_path / "upright.mp4").width, probe(tmp_path / "upright.mp4").height) == (48, 64)


def test_anamorphic_video_keeps_its_pixel_aspect(tmp_path):
    make_clip(tmp_path / "dvd.mp4", size="72x48", seconds=0.5, sound=None, video=("-vf", "setsar=8/9", *FAST_H264))
    assert probe(tmp_path / "dvd.mp4").pixel_aspect == Fraction(8, 9)
    copy_frames(tmp_path / "dvd.mp4", tmp_path / "out.mkv")
    assert "72x48 [SAR 8:9" in streams(tmp_path / "out.mkv")[0][2]
    copy_frames(tmp_path / "dvd.mp4", tmp_path / "out.gif")  # square pixels only: its displayed shape
    assert (video_facts(tmp_path / "out.gif")["width"], video_facts(tmp_path / "out.gif")["height"]) == (64, 48)


def test_odd_size_keeps_exact_size_frames_and_pcm_sound(clips, tmp_path):
    frames, output, note = copy_frames(clips["odd"], tmp_path / "odd.mp4")
    assert note is None and any("odd side" in n for n in output.notes)
    facts = video_facts(tmp_path / "odd.mp4")
    assert (facts["width"], facts["height"], facts["frames"]) == (77, 45, 15)
    assert facts["rate"] == pytest.approx(10)
    assert "yuv444p" in [rest for kind, _, rest in streams(tmp_path / "odd.mp4") if kind == "Video"][0]
    source, result = audio_facts(clips["odd"]), audio_facts(tmp_path / "odd.mp4")
    assert result == source  # same codec, rate, samples, and every packet bit for bit
    # The pixels survive the trip: the colour matrix written is the one read back.
    back = np.concatenate(list(FrameReader(tmp_path / "odd.mp4", probe(tmp_path / "odd.mp4")).batches(8)))
    assert np.abs(back.astype(int) - frames.astype(int)).mean() < 2.5


@pytest.mark.parametrize("name, live_setting", [("live.mp4", "-preset superfast"), ("live.webm", "-deadline realtime")])
def test_a_live_recording_takes_the_codecs_faster_settings_and_keeps_every_frame(clips, tmp_path, name, live_setting):
    error = {}
    for live in (False, True):
        target = tmp_path / f"{live}_{name}"
        frames, output, _ = copy_frames(clips["silent"], target, live=live)
        assert (live_setting in " ".join(output.video_arguments)) == live and "-crf" in output.video_arguments
        assert video_facts(target)["frames"] == len(frames)
        back = np.concatenate(list(FrameReader(target, probe(target)).batches(8)))
        error[live] = np.abs(back.astype(int) - frames.astype(int)).mean()
    # testsrc's coloured edges at 64x48 lose most to 4:2:0 chroma; the faster settings add little.
    assert error[True] < error[False] + 1


def test_sound_is_copied_bit_for_bit_at_an_ntsc_rate(clips, tmp_path):
    source = make_clip(tmp_path / "in.mov", size="96x54", rate="30000/1001", seconds=1.2)
    frames, _, _ = copy_frames(source, tmp_path / "out.mp4")
    before, after = video_facts(source), video_facts(tmp_path / "out.mp4")
    assert after["frames"] == before["frames"] == len(frames)
    assert after["duration"] == pytest.approx(before["duration"], abs=1e-6)
    assert after["rate"] == pytest.approx(30000 / 1001)
    assert audio_facts(tmp_path / "out.mp4") == audio_facts(source)


def test_variable_rate_input_keeps_its_timing(tmp_path):
    # 10 frames at 10 fps, then 10 at 5 fps: ffmpeg repeats the slow ones to a constant 10 fps.
    make_clip(
        tmp_path / "vfr.mp4", size="64x48", sound=None,
        video=("-vf", "setpts='if(lt(N,10),N/10,1+(N-10)/5)/TB'", "-fps_mode", "vfr", *FAST_H264),
    )
    info = probe(tmp_path / "vfr.mp4")
    assert info.variable_rate and info.frame_rate == 10
    copy_frames(tmp_path / "vfr.mp4", tmp_path / "out.mp4")
    before, after = video_facts(tmp_path / "vfr.mp4"), video_facts(tmp_path / "out.mp4")
    assert before["frames"] == 20 and after["frames"] == 28
    assert after["duration"] == pytest.approx(before["duration"], abs=0.1)


def test_webm_reencodes_sound_it_cannot_hold(clips, tmp_path):
    _, output, note = copy_frames(clips["odd"], tmp_path / "odd.webm")
    assert "re-encoding" in note and not output.notes  # VP9 4:2:0 stores odd sizes
    facts = video_facts(tmp_path / "odd.webm")
    assert (facts["width"], facts["height"], facts["frames"]) == (77, 45, 15)
    source, result = audio_facts(clips["odd"]), audio_facts(tmp_path / "odd.webm")
    assert result["codec"] == "opus"
    # Opus runs at 48 kHz; the length stays within a frame.
    assert seconds(result) == pytest.approx(seconds(source), abs=0.1)


def test_silent_input_gives_silent_output(clips, tmp_path):
    copy_frames(clips["silent"], tmp_path / "silent.mkv")
    assert audio_facts(tmp_path / "silent.mkv") is None
    assert [kind for kind, _, _ in streams(tmp_path / "silent.mkv")] == ["Video"]


def test_plan_output_folder_target_and_missing_parents(clips, tmp_path):
    info = probe(clips["silent"])
    (tmp_path / "folder").mkdir()
    assert plan_output(clips["silent"], tmp_path / "folder", info).path == tmp_path / "folder" / "silent.mp4"
    assert plan_output(tmp_path / "clip.avi", tmp_path / "folder", info).path == tmp_path / "folder" / "clip.mp4"
    # A container we do not write goes into its own folder under a name that is not the input's.
    for name in ("old.avi", "silent.mp4"):
        (tmp_path / "folder" / name).write_bytes(b"")
    assert plan_output(tmp_path / "folder" / "old.avi", tmp_path / "folder", info).path == tmp_path / "folder" / "old.mp4"
    with pytest.raises(OutPathError, match="is the input itself"):
        plan_output(tmp_path / "folder" / "silent.mp4", tmp_path / "folder", info)
    plan = plan_output(clips["silent"], tmp_path / "new" / "deeper" / "out.mov", info)
    assert plan.container.muxer == "mov" and not (tmp_path / "new").exists()  # created at the first write
    assert "yuv420p" in " ".join(plan.video_arguments) and "-crf 18" in " ".join(plan.video_arguments)
    assert "-b:v 3M" in " ".join(plan_output(clips["silent"], tmp_path / "b.webm", info, bitrate="3M").video_arguments)


@pytest.mark.parametrize(
    "target, message",
    [
        ("out.avi2", "cannot write videos with extension '.avi2'"),
        ("out", "out: no extension to choose the container by: give a file such as .*out.mp4, or a folder as .*out/"),
        ("a_file/out.mp4", "a_file is a file, not a folder"),
    ],
)
def test_plan_output_refuses_outputs_that_cannot_work(clips, tmp_path, target, message):
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises((VideoError, OutPathError), match=message):
        plan_output(clips["silent"], tmp_path / target, probe(clips["silent"]))


def test_plan_output_refuses_the_input_and_bad_crf(clips, tmp_path):
    info = probe(clips["silent"])
    with pytest.raises(OutPathError, match="is the input itself"):
        plan_output(clips["silent"], clips["silent"], info)
    with pytest.raises(VideoError, match="between 0 and 51"):
        plan_output(clips["silent"], tmp_path / "new" / "x.mp4", info, crf=52)
    assert not (tmp_path / "new").exists()  # a refused plan creates no folder


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_plan_output_refuses_a_read_only_folder(clips, tmp_path):
    (tmp_path / "locked").mkdir(mode=0o555)
    with pytest.raises(OutPathError, match="not writable"):
        plan_output(clips["silent"], tmp_path / "locked" / "out.mp4", probe(clips["silent"]))


def test_frames_read_to_fit_a_box_are_the_picture_scaled(clips, tmp_path):
    info = probe(clips["sound"])  # 338x190
    assert fit_within(info, None) is info and fit_within(info, (400, 400)) is info  # never enlarged
    small = fit_within(info, (100, 100))
    assert (small.width, small.height, small.scaled) == (100, 56, True)
    with FrameReader(clips["sound"], small) as reader:
        frames = np.concatenate(list(reader.batches(8))).astype(float)
    with FrameReader(clips["sound"], info) as reader:
        whole = np.concatenate(list(reader.batches(8)))
    from PIL import Image

    expected = np.stack([np.asarray(Image.fromarray(f).resize((100, 56), Image.Resampling.BOX), float) for f in whole])
    assert frames.shape == (20, 56, 100, 3) and np.abs(frames - expected).mean() < 4
    # Written at that size, with the shape of a pixel kept.
    read, output, _ = copy_frames(clips["sound"], tmp_path / "small.webm", info=small)
    assert (video_facts(output.path)["width"], video_facts(output.path)["height"]) == (100, 56)


@pytest.mark.parametrize("name", ["sticker.gif", "sticker.png", "sticker.webp"])
def test_an_animated_picture_is_read_as_a_video_of_its_frames(tmp_path, name):
    from PIL import Image

    levels = (0, 90, 180)
    frames = [Image.new("RGB", (32, 24), (level,) * 3) for level in levels]  # GIF, APNG, animated WebP
    frames[0].save(tmp_path / name, save_all=True, append_images=frames[1:], duration=100, loop=0, lossless=True)
    info = probe(tmp_path / name)
    assert (info.width, info.height, info.frame_rate) == (32, 24, 10)
    with FrameReader(tmp_path / name, info) as reader:
        read = np.concatenate(list(reader.batches(8)))
    assert [round(frame.mean()) for frame in read] == list(levels)


@pytest.mark.parametrize("name", ["HLG", "PQ"])
def test_hdr_video_is_read_tone_mapped_to_the_sdr_picture(tmp_path, name):
    # An SDR picture written as 10-bit HDR, as phones record: read back, it should look like the
    # picture, not like HDR's codes taken for SDR (grey and flat).
    clip, sdr = make_hdr_clip(tmp_path / f"{name}.mp4", name)
    info = probe(clip)
    assert info.hdr == name and probe(make_clip(tmp_path / "sdr.mp4", sound=None)).hdr is None
    with FrameReader(clip, info) as reader:
        read = np.concatenate(list(reader.batches(8))).astype(float)
    # Left as HDR's codes, the frames are about 50 levels off on average; converted back exactly as
    # the clip was made, about 27 (bench/README.md, "HDR video").
    assert np.abs(read - sdr).mean() < 35
    assert any(f"HDR video ({name})" in note for note in plan_output(clip, tmp_path / "out.mp4", info).notes)



@pytest.mark.parametrize(
    "name, video, out", [("vp9.webm", VP9_ALPHA, "out.webm"), ("png.mov", PNG_IN_MOV, "out.webm"), ("png.mov", PNG_IN_MOV, "out.gif")]
)
def test_a_transparent_video_keeps_its_transparency_in_webm_and_gif(tmp_path, name, video, out):
    clip = make_transparent_clip(tmp_path / name, video)
    info = probe(clip)
    assert info.alpha
    output = plan_output(clip, tmp_path / out, info)
    assert output.alpha and output.notes == ()
    seen = []

    def invert(batch):  # the network sees RGB only; the alpha goes around it
        seen.append(batch.shape[-1])
        return 255 - batch

    assert stylize_video(clip, output, info, invert, batch_size=3, progress=False).frames == 10
    assert set(seen) == {3}
    decoder = "libvpx-vp9" if out.endswith(".webm") else None
    source, result = decoded(clip, decoder=info.decoder), decoded(output.path, decoder=decoder)
    assert result.shape == source.shape == (10, 48, 64, 4)
    alpha = result[..., 3].astype(float)
    assert alpha[:, :, :30].mean() > 250 and alpha[:, :, 34:].mean() < 5  # left opaque, right transparent
    # The picture went through the callable (up to VP9's 4:2:0 or GIF's 256 colours on testsrc2's
    # saturated detail).
    painted, before = result[:, :, :30, :3].astype(float), source[:, :, :30, :3].astype(float)
    assert np.abs(painted - (255 - before)).mean() < 16 < 64 < np.abs(painted - before).mean()
    # Where the container has no transparency, the run says so and where to find it.
    mp4 = plan_output(clip, tmp_path / "out.mp4", info)
    assert not mp4.alpha and any("a .webm or .gif out path keeps the transparency" in note for note in mp4.notes)


def test_a_gif_of_frames_of_their_own_durations_keeps_them_each_frame_once(tmp_path):
    from PIL import Image

    # A sticker's frames, the last held long: read at a constant rate, the frames repeat.
    rng, durations = np.random.default_rng(0), [40, 1000, 40, 2000]
    frames = [Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)) for _ in durations]
    frames[0].save(tmp_path / "sticker.gif", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    assert probe(tmp_path / "sticker.gif").variable_rate
    read, output, _ = copy_frames(tmp_path / "sticker.gif", tmp_path / "out.gif")
    assert len(read) == 77 and output.merges_repeats  # 3.08 s at 25 frames/s
    written = Image.open(output.path)
    shown = []
    for index in range(written.n_frames):
        written.seek(index)
        shown.append(written.info["duration"])
    assert shown == durations and written.info["loop"] == 0
    # Another container keeps the constant rate that holds the sound in step, and says so.
    info = probe(tmp_path / "sticker.gif")
    mp4 = plan_output(tmp_path / "sticker.gif", tmp_path / "out.mp4", info)
    assert not mp4.merges_repeats and any("frame rate varies" in note for note in notes_before(info, mp4))
    assert not any("frame rate varies" in note for note in notes_before(info, output))


def test_a_gif_has_every_frame_a_loop_no_sound_and_no_quality_setting(clips, tmp_path):
    info = probe(clips["sound"])
    output = plan_output(clips["sound"], tmp_path / "out.gif", info)
    notes = []
    assert stylize_video(clips["sound"], output, info, lambda b: b, 4, progress=False, note=notes.append).frames == 20
    assert notes == ["a GIF has no sound: the input's is left out"] and audio_facts(output.path) is None
    facts = video_facts(output.path)
    assert (facts["width"], facts["height"], facts["frames"]) == (338, 190, 20) and facts["rate"] == pytest.approx(10)
    assert b"NETSCAPE2.0" in output.path.read_bytes()  # the block that makes it loop
    # Each frame's own 256 colours keep the picture close (testsrc's flat colours: nearly exact).
    assert np.abs(decoded(output.path, "rgb24").astype(float) - decoded(clips["sound"], "rgb24")).mean() < 3
    for quality in ({"crf": 20}, {"bitrate": "1M"}):
        with pytest.raises(VideoError, match="no quality setting"):
            plan_output(clips["sound"], tmp_path / "again.gif", info, **quality)


def test_an_error_or_interrupt_leaves_no_file(clips, tmp_path):
    calls = []

    def stylize(batch):
        calls.append(len(batch))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return 255 - batch

    def broken(batch):
        raise ValueError("something went wrong in the network")

    info = probe(clips["sound"])
    output = plan_output(clips["sound"], tmp_path / "out.mp4", info)
    with pytest.raises(KeyboardInterrupt):
        stylize_video(clips["sound"], output, info, stylize, batch_size=4, progress=False)
    assert os.listdir(tmp_path) == [] and ffmpeg_children() == []
    with pytest.raises(ValueError, match="wrong"):
        stylize_video(clips["sound"], output, info, broken, batch_size=4, progress=False)
    assert os.listdir(tmp_path) == [] and ffmpeg_children() == []


def open_descriptors():
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts file descriptors in Linux's /proc")
def test_readers_and_writers_let_go_of_their_pipes(clips, tmp_path):
    # The app runs video after video in one process: a pipe left for the garbage collector is a
    # descriptor held, so none may stay open while the reader or writer object still exists.
    info = probe(clips["silent"])
    kept, before = [], open_descriptors()
    for turn in range(3):
        with FrameReader(clips["silent"], info) as stopped_early:
            next(iter(stopped_early.batches(1)))
        read_through = FrameReader(clips["silent"], info)
        frames = np.concatenate(list(read_through.batches(4)))
        output = plan_output(clips["silent"], tmp_path / f"{turn}.mp4", info)
        with writing(output, info, clips["silent"]) as writer:
            writer.write(frames)
        kept += [stopped_early, read_through, writer]
    assert open_descriptors() == before and ffmpeg_children() == []


def test_stylize_video_streams_every_frame_through_the_callable(clips, tmp_path):
    info = probe(clips["sound"])
    output = plan_output(clips["sound"], tmp_path / "out.mkv", info)
    seen = []

    def invert(batch):
        seen.append(batch.dtype)
        return 255 - batch

    result = stylize_video(clips["sound"], output, info, invert, batch_size=3, progress=False)
    assert result.frames == 20 and len(seen) == 7 and set(seen) == {np.dtype(np.float32)}
    assert video_facts(output.path)["frames"] == 20 and audio_facts(output.path) == audio_facts(clips["sound"])
    preview = plan_output(clips["sound"], tmp_path / "preview.mp4", info)
    assert stylize_video(clips["sound"], preview, info, lambda b: b, 4, max_frames=6, progress=False).frames == 6
    assert video_facts(preview.path)["frames"] == 6
    # The sound is cut to the preview's length (at a packet boundary).
    assert seconds(audio_facts(preview.path)) == pytest.approx(0.6, abs=0.05)


def test_an_encoder_that_dies_is_reported_and_cleaned_up(clips, tmp_path):
    info = probe(clips["silent"])
    output = plan_output(clips["silent"], tmp_path / "out.mp4", info)
    with pytest.raises(VideoError, match="cannot write"):
        with writing(output, info, clips["silent"]) as writer:
            writer._ffmpeg.process.kill()
            for _ in range(50):
                writer.write(np.zeros((4, 48, 64, 3), np.uint8))
    assert os.listdir(tmp_path) == []




@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full, where every write finds the disk full")
@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_a_full_disk_is_said_in_words(clips, tmp_path, suffix, monkeypatch):
    """ffmpeg reports a full disk from each of its parts in turn, each line under an internal
    name ("[out#0/mp4 @ 0x55...]"): the message says it once, plainly."""
    import contextlib

    import src.video

    monkeypatch.setattr(src.video, "atomic_path", lambda path: contextlib.nullcontext(Path("/dev/full")))
    info = probe(clips["silent"])
    output = plan_output(clips["silent"], tmp_path / f"out{suffix}", info)
    with pytest.raises(VideoError) as raised:
        with writing(output, info, None) as writer:
            writer.write(np.zeros((10, 48, 64, 3), np.uint8))
    assert str(raised.value) == f"cannot write {output.path}: No space left on device"


def test_memory_stays_flat_whatever_the_length(tmp_path):
    # 480x270 frames: keeping the 4x longer clip's 120 frames would cost 47 MB more as uint8,
    # 190 MB as float32. Streaming holds a few batches, whatever the length.
    peaks = {}
    for name, length in (("short", 1), ("long", 4)):
        clip = make_clip(tmp_path / f"{name}.mp4", size="480x270", rate="30", seconds=length, sound="aac")
        command = [sys.executable, "-m", "tests.in_subprocess.video_memory", str(clip), str(tmp_path / f"{name}_out.mp4")]
        done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
        frames, peak_kib = map(int, done.stdout.split())
        assert frames == 30 * length
        peaks[name] = peak_kib / 1024
    assert peaks["long"] - peaks["short"] < 12, peaks
