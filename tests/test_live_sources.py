"""src/live_sources.py: the newest-frame reader dropping what arrives while the network is busy,
a capture that fails, files read at their own pace (held at the first frame until the networks
are ready), video files read through ffmpeg (HDR, rotation, --size), and the cameras named when
one does not open. Fake captures: no camera."""

import time

import numpy as np
import pytest

from src.live_sources import (
    CameraError,
    CaptureFrames,
    NewestFrame,
    camera_hint,
    linux_cameras,
    open_source,
)
from src.video_probe import fitted
from tests.clips import FakeCapture, Rated, make_clip, make_hdr_clip


def test_a_camera_that_does_not_open_is_told_which_cameras_there_are(tmp_path):
    sysfs = tmp_path / "class" / "video4linux"
    assert linux_cameras(tmp_path / "elsewhere" / "video4linux") is None  # not Linux: nothing to list
    sysfs.parent.mkdir()
    assert linux_cameras(sysfs) == {}  # Linux, no video device at all
    for number, name, index in [(0, "Integrated Camera", 0), (1, "Integrated Camera", 1), (2, "C920", 0), (3, "", 0)]:
        node = sysfs / f"video{number}"
        node.mkdir(parents=True)
        (node / "name").write_text(name + "\n")
        (node / "index").write_text(f"{index}\n")
    (sysfs / "v4l-subdev0").mkdir()
    cameras = linux_cameras(sysfs)
    assert cameras == {0: "Integrated Camera", 2: "C920", 3: "unnamed"}  # video1: the webcam's metadata
    assert camera_hint(1, cameras) == "the cameras here: 0 (Integrated Camera), 2 (C920), 3 (unnamed)"
    assert camera_hint(2, cameras).startswith("is another program using it? The cameras here: 0 (")
    assert "no camera was found" in camera_hint(0, {}) and camera_hint(0, None) == "is it connected, and free?"


def test_the_reader_keeps_only_the_newest_frame():
    frames = NewestFrame(CaptureFrames(FakeCapture(50, delay=0.002)), paced=False)
    first = frames.after(0)
    time.sleep(0.05)  # busy: the reader goes on meanwhile
    later = frames.after(first[0])
    assert later[0] > first[0] + 1  # frames in between were dropped
    assert later[2][0, 0].tolist() == [later[0], 0, 0]  # and its pixels are that frame's, in RGB
    while frames.after(later[0]) is not None:
        later = frames.after(later[0])
    assert frames.ended and frames.count == 50 and frames.after(50) is None
    frames.close()


def test_size_is_a_box_the_frames_fit_in_their_own_shape():
    assert fitted(1280, 720, (640, 480)) == (640, 360)
    assert fitted(480, 640, (640, 480)) == (360, 480)  # a phone held upright
    assert fitted(320, 240, (640, 480)) == (640, 480)
    assert fitted(57, 41, (57, 41)) == (57, 41) and fitted(3000, 1, (64, 64)) == (64, 1)
    # A camera that ignores the size asked of it (16:9 frames, 12x16 asked): fitted, not squashed.
    pytest.importorskip("cv2")  # which resizes a camera's frames
    frames = NewestFrame(CaptureFrames(FakeCapture(3, size=(18, 32))), paced=False, size=(12, 16))
    _, _, rgb = frames.after(0)
    frames.close()
    assert rgb.shape == (7, 12, 3)


def test_a_failing_capture_ends_the_stream_with_its_error():
    frames = NewestFrame(CaptureFrames(FakeCapture(50, fail_at=3)), paced=False)
    seen = 0
    while (newest := frames.after(seen)) is not None:
        seen = newest[0]
    assert frames.ended and seen == 3 and "went away" in str(frames.error)
    frames.close()


def test_a_paced_file_is_read_at_its_frame_rate():
    frames = NewestFrame(CaptureFrames(Rated(10, rate=50.0)), paced=True)
    began, seen = time.perf_counter(), 0
    while (newest := frames.after(seen)) is not None:
        seen = newest[0]
    assert seen == 10 and time.perf_counter() - began >= 9 / 50 * 0.9 and frames.frame_rate == 50.0
    frames.close()


def test_a_held_file_waits_at_its_first_frame_until_started():
    capture = Rated(10, rate=50.0)
    frames = NewestFrame(CaptureFrames(capture), paced=True, held=True)
    number, read_at, _ = frames.after(0)
    time.sleep(0.3)  # the networks compile and race on that frame
    assert number == 1 and frames.after(1, timeout=0.01) is None and capture.index == 1
    started = time.perf_counter()
    frames.start()
    assert frames.after(0)[1] >= started > read_at  # the first frame counts as delivered now
    seen = 1
    while (newest := frames.after(seen)) is not None:
        seen = newest[0]
    # Every frame, at the file's pace from the start (9 intervals of 1/50 s), none skipped by the wait.
    assert seen == 10 and capture.delivered[1] - started < 0.5 and time.perf_counter() - started >= 9 / 50 * 0.9
    frames.close()


def test_a_held_reader_closes_without_being_started():
    capture = Rated(10, rate=50.0)
    frames = NewestFrame(CaptureFrames(capture), paced=True, held=True)
    assert frames.after(0)[0] == 1
    frames.close()
    assert capture.released and capture.index == 1


@pytest.mark.parametrize("name", ["HLG", "PQ"])
def test_a_file_is_read_as_transform_video_reads_it_hdr_tone_mapped(tmp_path, name):
    clip, sdr = make_hdr_clip(tmp_path / f"{name}.mp4", name, size="320x240")
    source, is_file = open_source(clip)
    assert is_file and source.frame_rate == 10.0
    frames = []
    while (rgb := source.read()) is not None:
        frames.append(rgb)
    source.release()
    # As OpenCV reads it (HDR's codes taken for SDR), 51 to 65 levels off on average (bench/README.md).
    assert len(frames) == len(sdr) and np.abs(np.array(frames, float) - sdr).mean() < 35
    frames[0][0, 0] = 0  # writable, as a camera's frames are
    assert f"HDR video ({name})" in source.note


def test_a_rotated_file_is_read_upright_and_closes_mid_way(tmp_path):
    rotated = ("-display_rotation", "90")
    clip = make_clip(tmp_path / "phone.mp4", size="64x48", rate="25", seconds=2, sound=None, before=rotated)
    source, _ = open_source(clip)
    frames = NewestFrame(source, paced=True, held=True)
    number, _, rgb = frames.after(0)
    assert number == 1 and rgb.shape == (64, 48, 3) and frames.frame_rate == 25.0 and source.note is None
    frames.close()  # long before its 50 frames: ffmpeg is stopped, not left running
    assert source._reader._ffmpeg.process.poll() is not None
    # --size: scaled by ffmpeg to fit the box, upright, as the whole frame shrunk by area would be.
    small, _ = open_source(clip, (24, 48))
    shrunk = small.read()
    small.release()
    cv2 = pytest.importorskip("cv2")
    assert shrunk.shape == (32, 24, 3)
    assert np.abs(shrunk.astype(float) - cv2.resize(rgb, (24, 32), interpolation=cv2.INTER_AREA)).mean() < 4


def test_a_file_that_is_no_video_is_a_camera_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a video")
    with pytest.raises(CameraError, match="notes.txt"):
        open_source(tmp_path / "notes.txt")
