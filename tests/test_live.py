"""src/live.py: the keys' effects, the loop's recording in real time (a file frame for frame, a
camera by the clock), snapshots, the window's keys, mirror and message where OpenCV has no GUI,
the engine race, and steadied frames. Fake captures and stylizers: no camera, no network."""

import re
import threading
import time

import numpy as np
import pytest

from src.live import Controls, LiveLoop, Report, fastest, key_action
from src.live_sources import CameraError, CaptureFrames, NewestFrame
from tests.clips import FakeCapture, Rated


class FakeStylizer:
    """Inverts the frame; slow enough that the reader gets ahead of it."""

    def __init__(self, seconds=0.0):
        self.seconds, self.strength, self.preserve_color, self.calls = seconds, 1.0, False, []

    def __call__(self, images):
        time.sleep(self.seconds)
        self.calls.append((self.strength, self.preserve_color))
        return 255.0 - images.astype(np.float32)


class Recorder:
    def __init__(self):
        self.frames = []

    def write(self, frames):
        self.frames.extend(frames)


def test_keys_cycle_styles_clamp_strength_and_toggle_colour():
    controls = Controls()
    for action, expected in (("next", 1), ("next", 2), ("next", 0), ("previous", 2)):
        controls.press(action, 3)
        assert controls.style == expected
    for _ in range(3):
        controls.press("stronger", 3)
    assert controls.strength == 1.0
    for _ in range(12):
        controls.press("weaker", 3)
    assert controls.strength == 0.0
    controls.press("stronger", 3)
    assert controls.strength == pytest.approx(0.1)
    controls.press("color", 3)
    controls.press("snapshot", 3)
    controls.press("quit", 3)
    assert controls.preserve_color and controls.snapshots == 1 and controls.quit
    assert controls.steady
    controls.press("steady", 3)
    assert not controls.steady
    assert not controls.mirror
    controls.press("mirror", 3)
    assert controls.mirror


@pytest.mark.parametrize(
    "code, action",
    [
        (ord("n"), "next"), (0x100000 | ord("n"), "next"),  # GTK with Num Lock on
        (ord("Q"), "quit"), (0x20000 | ord("Q"), "quit"),  # Caps Lock: a capital, and GTK's lock bit
        (65363, "next"), (0x100000 | 65363, "next"), (2555904, "next"), (63235, "next"),  # X11, Windows, Cocoa
        (65361, "previous"), (2424832, "previous"), (63234, "previous"),
        (ord("+"), "stronger"), (27, "quit"), (ord("m"), "mirror"), (ord("M"), "mirror"),
        (-1, None), (0, None), (ord("x"), None), (0x100000 | ord("x"), None),
    ],
)  # fmt: skip
def test_keys_are_read_on_every_opencv_backend_whatever_lock_is_on(code, action):
    assert key_action(code) == action


def test_a_file_is_recorded_frame_for_frame_and_the_controls_apply(tmp_path):
    stylizers = [FakeStylizer(0.01), FakeStylizer(0.01)]
    controls = Controls(style=1, strength=0.5, preserve_color=True)
    recorder = Recorder()
    frames = NewestFrame(CaptureFrames(Rated(40, rate=200.0)), paced=True)
    report = LiveLoop(stylizers, ["a", "b"], controls, recorder=recorder, snapshot_dir=tmp_path, log=lambda m: None).run(frames)
    frames.close()
    assert len(recorder.frames) == report.recorded == report.read == 40  # every source frame stands in the recording
    assert 0 < report.shown < 40 and len(report.latencies) == report.shown
    assert stylizers[1].calls[0] == (0.5, True) and not stylizers[0].calls
    # The last recorded frame is the stylized last frame (inverted 40).
    assert recorder.frames[-1][0, 0, 0] == 255 - 40
    assert re.search(r"\d+ frames? stylized of 40 read \(\d+ dropped\) in [\d.]+ s: [\d.]+ frames/s, latency median", report.summary())


@pytest.mark.parametrize("reported, recorded_at", [(50.0, 50.0), (10.0, 10.0), (0.0, 30.0), (1000.0, 30.0)])
def test_a_camera_is_recorded_by_the_clock_whatever_rate_it_reports(reported, recorded_at):
    # It delivers 25 frames a second: fewer than it reports (as in dim light), more, or a stream
    # that reports no rate (0) or a wrong one.
    recorder, camera = Recorder(), Rated(15, rate=reported, delay=0.04)
    frames = NewestFrame(CaptureFrames(camera), paced=False)
    report = LiveLoop([FakeStylizer(0.005)], ["a"], Controls(), recorder=recorder, log=lambda m: None).run(frames)
    frames.close()
    assert frames.frame_rate == recorded_at and report.read == 15
    # The recording lasts from frame 1 to frame 15 (at least 14 x 0.04 s), to a frame.
    shot = camera.delivered[-1] - camera.delivered[0]
    assert shot >= 14 * 0.04 and abs(len(recorder.frames) / recorded_at - shot) <= 2 / recorded_at
    # It ends with frame 15, or 14 where the source outruns the recording's rate.
    assert len(recorder.frames) == report.recorded and 255 - recorder.frames[-1][0, 0, 0] in (14, 15)


def test_max_frames_snapshots_and_quit(tmp_path):
    controls = Controls(snapshots=2)
    frames = NewestFrame(CaptureFrames(FakeCapture(100, delay=0.001)), paced=False)
    report = LiveLoop([FakeStylizer()], ["a"], controls, snapshot_dir=tmp_path, log=lambda m: None).run(frames, max_frames=3)
    assert report.shown == 3 and len(report.snapshots) == 2 and all(p.exists() for p in report.snapshots)
    controls.quit = True
    assert LiveLoop([FakeStylizer()], ["a"], controls, log=lambda m: None).run(frames).shown == 0
    frames.close()


class Stalling(FakeCapture):
    """Two frames, then silence (a camera or stream that hangs) until `resume` is set, then the end."""

    def __init__(self, count, **kwargs):
        super().__init__(count, **kwargs)
        self.resume = threading.Event()

    def read(self):
        if self.index == 2:
            self.resume.wait(10)
            return False, None
        return super().read()


class FakeWindow:
    """A window whose q key is pressed at its `polls`-th look after it first showed a frame."""

    def __init__(self, polls):
        self.polls, self.shown = polls, 0

    def show(self, rgb, caption, mirror=False):
        self.shown += 1

    def actions(self):
        if self.shown:
            self.polls -= 1
            if self.polls < 0:
                yield "quit"


def test_keys_and_seconds_work_while_the_camera_is_silent():
    camera, window, controls = Stalling(10), FakeWindow(polls=4), Controls()
    frames = NewestFrame(CaptureFrames(camera), paced=False)
    report = LiveLoop([FakeStylizer()], ["a"], controls, window=window, log=lambda m: None).run(frames)
    # q worked while the camera was silent: the loop did not wait for it to end.
    assert controls.quit and not frames.ended and 1 <= report.shown == window.shown <= 2
    camera.resume.set()
    frames.close()

    camera = Stalling(10)
    frames = NewestFrame(CaptureFrames(camera), paced=False)
    report = LiveLoop([FakeStylizer()], ["a"], Controls(), log=lambda m: None).run(frames, seconds=0.3)
    assert not frames.ended and report.shown <= 2
    assert report.seconds >= 0.3  # the run's time, silence included
    camera.resume.set()
    frames.close()


def test_ctrl_c_ends_the_loop_like_quit():
    class Interrupting(FakeStylizer):
        def __call__(self, images):
            if len(self.calls) == 2:
                raise KeyboardInterrupt
            return super().__call__(images)

    recorder, controls = Recorder(), Controls()
    frames = NewestFrame(CaptureFrames(Rated(100, rate=200.0)), paced=True)
    report = LiveLoop([Interrupting()], ["a"], controls, recorder=recorder, log=lambda m: None).run(frames)
    frames.close()
    assert controls.quit and report.shown == 2 and len(recorder.frames) >= 2


def test_the_window_says_what_to_do_where_opencv_has_no_gui():
    cv2 = pytest.importorskip("cv2")
    if "GUI:                           NONE" not in cv2.getBuildInformation():
        pytest.skip("this OpenCV has a GUI: opening a window here would need a display")
    from src.live import Window

    with pytest.raises(CameraError, match="--no-window"):
        Window()


def test_a_snapshot_that_cannot_be_written_is_said_and_the_session_goes_on(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the snapshots' folder should be")
    controls, said = Controls(snapshots=1), []
    frames = NewestFrame(CaptureFrames(FakeCapture(100, delay=0.001)), paced=False)
    report = LiveLoop([FakeStylizer()], ["a"], controls, snapshot_dir=blocked, log=said.append).run(frames, max_frames=4)
    frames.close()
    assert report.shown == 4 and report.snapshots == []
    assert any(line.startswith("snapshot not saved: cannot write") for line in said)


def test_the_mirror_flips_what_the_window_shows_not_the_recording_nor_the_snapshots(tmp_path, monkeypatch):
    cv2 = pytest.importorskip("cv2")
    from PIL import Image

    from src.live import Window

    shown = []
    monkeypatch.setattr(cv2, "namedWindow", lambda *args: None)
    monkeypatch.setattr(cv2, "imshow", lambda title, bgr: shown.append(bgr.copy()))
    monkeypatch.setattr(cv2, "waitKeyEx", lambda delay: -1)
    monkeypatch.setattr(cv2, "getWindowProperty", lambda *args: 1.0)

    class Ramp(FakeStylizer):  # dark on the left, bright on the right
        def __call__(self, images):
            ramp = np.linspace(0, 255, images.shape[2], dtype=np.float32)
            return np.broadcast_to(ramp[None, None, :, None], images.shape).copy()

    recorder, controls = Recorder(), Controls(mirror=True, snapshots=1)
    frames = NewestFrame(CaptureFrames(FakeCapture(3, size=(8, 40))), paced=False)
    loop = LiveLoop([Ramp()], ["a"], controls, Window(), recorder, tmp_path, log=lambda m: None)
    loop.run(frames, max_frames=2)
    frames.close()
    [snapshot] = [np.asarray(Image.open(path)) for path in tmp_path.glob("snapshot_*.png")]
    for kept in (recorder.frames[0], snapshot):  # the camera's view: dark on the left
        assert kept[4, 0, 0] < 10 and kept[4, -1, 0] > 245
    # The window: bright on the left (the caption is drawn on its top rows only).
    assert len(shown) == 2 and shown[0][-1, 0, 0] > 245 and shown[0][-1, -1, 0] < 10
    controls.press("mirror", 1)
    frames = NewestFrame(CaptureFrames(FakeCapture(3, size=(8, 40))), paced=False)
    loop.run(frames, max_frames=1)
    frames.close()
    assert shown[-1][-1, 0, 0] < 10  # mirror off: as the camera sees it


def test_an_empty_report_summarises():
    assert "0 frames stylized of 0 read (0 dropped)" in Report().summary()
    assert "1 frame stylized of 3 read (2 dropped) in 0.5 s: 2.0 frames/s" in Report(shown=1, read=3, seconds=0.5).summary()


def test_fastest_compiles_each_then_times_them_in_turns():
    calls = []

    def engine(label, seconds):
        def stylize(batch):
            calls.append((label, batch.shape))
            time.sleep(seconds)

        return stylize

    frame = np.zeros((6, 8, 3), np.uint8)
    label, medians = fastest({"slow": engine("slow", 0.03), "quick": engine("quick", 0.002)}, frame, runs=3, warmups=2)
    assert label == "quick" and medians["quick"] < 0.02 <= medians["slow"]
    assert [c[0] for c in calls] == ["slow"] * 2 + ["quick"] * 2 + ["slow", "quick"] * 3
    assert {c[1] for c in calls} == {(1, 6, 8, 3)}


def test_fastest_takes_fewer_turns_when_each_is_slow():
    calls = []

    def engine(label, seconds):
        return lambda batch: calls.append(label) or time.sleep(seconds)

    frame = np.zeros((6, 8, 3), np.uint8)
    # Turns of 0.05 s against a budget of 0.1 s: the least number of turns, 3.
    label, _ = fastest({"slow": engine("slow", 0.03), "quick": engine("quick", 0.02)}, frame, budget=0.1)
    assert label == "quick" and calls.count("slow") == calls.count("quick") == 2 + 3
    # Quick turns fit the budget (of a second, however busy the machine): all seven.
    calls.clear()
    fastest({"a": engine("a", 0), "b": engine("b", 0)}, frame, budget=1.0)
    assert calls.count("a") == calls.count("b") == 2 + 7


class Noisy(FakeStylizer):
    """Paints every frame with fresh noise (the flicker a network adds to a still camera); keeps
    what it painted last."""

    def __call__(self, images):
        self.calls.append((self.strength, self.preserve_color))
        noise = np.random.default_rng(len(self.calls)).normal(0, 30, images.shape)
        self.last = np.clip(images.astype(np.float32) + noise, 0, 255).astype(np.float32)
        return self.last


def test_steady_frames_flicker_less_and_a_key_starts_them_afresh():
    pytest.importorskip("cv2", reason="OpenCV (opencv-python-headless, requirements.txt) is not installed")
    from src.pixels import to_uint8
    from src.stabilize import FrameSteadier

    rng = np.random.default_rng(0)
    still = np.repeat(np.repeat(rng.integers(0, 256, (12, 16, 3)), 4, axis=0), 4, axis=1).astype(np.uint8)
    stylizers, controls, steadier = [Noisy(), Noisy()], Controls(), FrameSteadier(0.6)
    loop = LiveLoop(stylizers, ["a", "b"], controls, log=lambda m: None, steadier=steadier)

    def fresh():
        """Whether the next picture is the network's own, not blended with the one before."""
        return np.array_equal(loop.stylize(still), to_uint8(stylizers[controls.style].last[0]))

    try:
        steady = [loop.stylize(still) for _ in range(8)]
        assert "steady" in loop.caption(Report(), 0.0, 1.0)
        controls.press("steady", 2)
        plain = [loop.stylize(still) for _ in range(8)]
        assert "steady" not in loop.caption(Report(), 0.0, 1.0)
        assert flicker(steady[2:]) < 0.5 * flicker(plain[2:])
        # Turned on again, another style, another strength: a fresh picture, then steady ones.
        for action in ("steady", "next", "weaker"):
            controls.press(action, 2)
            assert fresh() and not fresh()
    finally:
        steadier.close()


def flicker(pictures):
    return np.mean([np.abs(a.astype(np.float32) - b).mean() for a, b in zip(pictures, pictures[1:])])
