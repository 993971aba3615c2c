"""Live stylization (webcam.py): the newest frame of a camera, a video file or a stream
(src/live_sources.py) through the one forward path (src/stylize.py), a window out with the
keys that steer it, and a recording.

The recording plays in real time. From a video file, each stylized frame is written once for
every source frame it stands for (the dropped ones repeat it), which keeps the file's rate and
length exactly, and so its sound in step (webcam.py carries it over). A camera or stream is
recorded from the first stylized frame on, at its reported frame rate (30 where it reports
none), by the clock: each stylized frame fills the recording up to its arrival time, so a
webcam that delivers fewer frames than it reports (in dim light) or a stream that reports no
rate still plays at the speed it was shot.
Against flicker, each stylized frame is blended with the previous output carried along the
camera's motion, as transform_video.py --stabilize does (src/stabilize.py, FrameSteadier): a
webcam's sensor noise alone makes a network paint its strokes anew every frame.
OpenCV (cv2) shows the window; ffmpeg writes the recording (src/video.py).
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from src.live_sources import CameraError
from src.pixels import to_uint8
from src.settings import ModelSettings
from src.stabilize import LIVE_STRENGTH
from src.wording import counted

STRENGTH_STEP = 0.1
# How long the loop waits for a frame before it looks at the window's keys again.
POLL_SECONDS = 0.1
# What the window's keys do, by cv2.waitKeyEx code: characters as themselves; the right and left
# arrows as OpenCV reports them with GTK or Qt on Linux (X keysyms), on Windows, and with Cocoa
# on macOS.
KEYS = {
    ord("n"): "next", 65363: "next", 2555904: "next", 63235: "next",
    ord("p"): "previous", 65361: "previous", 2424832: "previous", 63234: "previous",
    ord("+"): "stronger", ord("="): "stronger", ord("-"): "weaker",
    ord("c"): "color", ord("f"): "steady", ord("m"): "mirror", ord("s"): "snapshot", ord("q"): "quit", 27: "quit",
}  # fmt: skip


def key_action(code):
    """A cv2.waitKeyEx code -> what the key does ("next", ...), or None. GTK adds the modifier
    keys held (Num Lock, Caps Lock) above the key's own 16 bits, and Caps Lock gives capitals:
    both are ignored, so that the keys work whichever lock is on."""
    if code in KEYS:
        return KEYS[code]
    key = code & 0xFFFF
    if ord("A") <= key <= ord("Z"):
        key += ord("a") - ord("A")
    return KEYS.get(key)


HELP = (
    "keys: n/p next/previous style, +/- strength, c colour, f steady (less flicker) on/off, m mirror on/off, "
    "s snapshot, q quit"
)


@dataclass(frozen=True)
class LiveSettings:
    """What webcam.py is asked to do, as data: its flags, with the defaults that depend on other
    flags already settled (the mirror; this run's file in a folder of takes)."""

    model: ModelSettings  # its checkpoints (or folders of them), each style of each offered; its
    # strength and preserve_color are where the keys start
    camera: str = "0"  # a camera number, a video file or a stream URL (src/live_sources.py)
    size: tuple | None = None  # (width, height) the frames are fitted into; None: the source's
    out_path: str | None = None  # the recording, or None
    snapshot_dir: Path = Path(".")
    window: bool = True
    max_frames: int | None = None
    seconds: float | None = None
    stabilize: float = LIVE_STRENGTH  # 0: each frame painted on its own
    mirror: bool = False


@dataclass
class Controls:
    """What the keys change while running."""

    style: int = 0
    strength: float = 1.0
    preserve_color: bool = False
    steady: bool = True  # blend with the previous output along the motion, where there is a steadier
    # The window shows the picture as a mirror would, as video calls show their own camera; the
    # recording and snapshots keep the camera's view, as phones keep a selfie's.
    mirror: bool = False
    snapshots: int = 0  # asked for, not yet written
    quit: bool = False

    def press(self, action, styles):
        """Apply one key's action ("next", "stronger", ...) with `styles` styles to cycle through."""
        if action == "next":
            self.style = (self.style + 1) % styles
        elif action == "previous":
            self.style = (self.style - 1) % styles
        elif action in ("stronger", "weaker"):
            step = STRENGTH_STEP if action == "stronger" else -STRENGTH_STEP
            self.strength = round(min(1.0, max(0.0, self.strength + step)), 2)
        elif action == "color":
            self.preserve_color = not self.preserve_color
        elif action == "steady":
            self.steady = not self.steady
        elif action == "mirror":
            self.mirror = not self.mirror
        elif action == "snapshot":
            self.snapshots += 1
        elif action == "quit":
            self.quit = True


def recording_copies(frames, stands_for, since_first, recorded):
    """How many times the recording writes a stylized frame that stands for `stands_for` source
    frames and arrived `since_first` seconds after the first stylized one, `recorded` frames
    having been written: once per source frame from a file; from a camera or stream, as many
    frames of the recording's rate as make it reach that time (0 when the source runs faster
    than its reported rate)."""
    if frames.paced:
        return stands_for
    return max(0, round(since_first * frames.frame_rate) + 1 - recorded)


@dataclass
class Report:
    """What a live run did, for its closing line and bench/."""

    shown: int = 0  # frames stylized and shown (or recorded)
    read: int = 0  # frames the source delivered
    seconds: float = 0.0
    latencies: list = field(default_factory=list)  # seconds from a frame's arrival to its display
    snapshots: list = field(default_factory=list)
    recorded: int = 0  # frames written to the recording

    @property
    def frames_per_second(self):
        return self.shown / self.seconds if self.seconds else 0.0

    def summary(self):
        late = np.asarray(self.latencies or [0.0]) * 1000
        return (
            f"{counted(self.shown, 'frame')} stylized of {self.read} read ({self.read - self.shown} dropped) in "
            f"{self.seconds:.1f} s: {self.frames_per_second:.1f} frames/s, latency median {np.median(late):.0f} ms, "
            f"95th percentile {np.percentile(late, 95):.0f} ms"
        )


class LiveLoop:
    """The newest frame -> the current style's Stylizer -> the window and the recording."""

    def __init__(
        self, stylizers, names, controls, window=None, recorder=None, snapshot_dir=Path("."), log=print, steadier=None
    ):
        """stylizers: one Stylizer per style (batch 1); window: a Window or None; recorder: a
        VideoWriter or None; steadier: a FrameSteadier (used while controls.steady) or None."""
        self.stylizers, self.names, self.controls = stylizers, names, controls
        self.window, self.recorder, self.snapshot_dir, self.log = window, recorder, Path(snapshot_dir), log
        self.steadier = steadier

    def run(self, frames, max_frames=None, seconds=None):
        """Until the source ends, `quit` (Ctrl-C too), max_frames stylized or `seconds` passed -> Report."""
        report, began = Report(), time.perf_counter()
        try:
            self._loop(frames, report, began, max_frames, seconds)
        except KeyboardInterrupt:  # a normal way to stop: the recording is finished, not thrown away
            self.controls.quit = True
        # To the end of the run, not the last frame: a camera gone silent lowers the frame rate.
        report.seconds, report.read = time.perf_counter() - began, frames.count
        return report

    def _loop(self, frames, report, began, max_frames, seconds):
        seen, first_arrival = 0, None
        while not self.controls.quit and (max_frames is None or report.shown < max_frames):
            if seconds is not None and time.perf_counter() - began >= seconds:
                break
            # Short waits, so that the window's keys and --seconds still work while a camera or
            # stream is silent (it may take OpenCV 10 to 30 s to give up on it).
            newest = frames.after(seen, timeout=POLL_SECONDS)
            if newest is None:
                if frames.ended:
                    break
                self.read_keys()
                continue
            number, arrived, rgb = newest
            picture = self.stylize(rgb)
            first_arrival = arrived if first_arrival is None else first_arrival
            self.record(picture, frames, number - seen, arrived - first_arrival, report)
            seen, tick = number, time.perf_counter()
            report.latencies.append(tick - arrived)
            report.shown += 1
            if self.window is not None:
                self.window.show(picture, self.caption(report, began, tick), mirror=self.controls.mirror)
            self.read_keys()
            self.take_snapshots(picture, report)

    def record(self, picture, frames, stands_for, since_first, report):
        """Write the stylized frame to the recording as often as recording_copies says."""
        if self.recorder is None:
            return
        copies = recording_copies(frames, stands_for, since_first, report.recorded)
        if copies:
            self.recorder.write(np.repeat(picture[None], copies, axis=0))
            report.recorded += copies

    def read_keys(self):
        """Apply the keys pressed in the window since the last look (and keep it painted)."""
        if self.window is not None:
            for action in self.window.actions():
                self.controls.press(action, len(self.stylizers))

    def stylize(self, rgb):
        """One frame (H, W, 3) uint8 -> uint8, with the current style, strength, colour and
        steadiness."""
        controls = self.controls
        stylizer = self.stylizers[controls.style]
        stylizer.strength, stylizer.preserve_color = controls.strength, controls.preserve_color
        if self.steadier is None or not controls.steady:
            if self.steadier is not None:
                self.steadier.restart()  # turned on again, it starts afresh
            return to_uint8(stylizer(rgb[None])[0])
        settings = (controls.style, controls.strength, controls.preserve_color)
        return to_uint8(self.steadier(rgb, lambda frame: stylizer(frame[None])[0], settings))

    def caption(self, report, began, now):
        controls, rate = self.controls, report.shown / max(now - began, 1e-9)
        color = ", colour kept" if controls.preserve_color else ""
        steady = ", steady" if self.steadier is not None and controls.steady else ""
        return f"{self.names[controls.style]}  strength {controls.strength:.1f}{color}{steady}  {rate:.1f} fps"

    def take_snapshots(self, picture, report):
        from src.images import ImageError, write_image

        while self.controls.snapshots:
            self.controls.snapshots -= 1
            path = self.snapshot_dir / f"snapshot_{time.strftime('%Y%m%d_%H%M%S')}_{report.shown:05d}.png"
            try:
                write_image(path, picture)
            except ImageError as error:  # a full disk, a read-only folder: the session and its recording go on
                self.log(f"snapshot not saved: {error}")
                continue
            report.snapshots.append(path)
            self.log(f"snapshot: {path}")


def fastest(stylizers, frame, runs=7, warmups=2, budget=2.0, least=3):
    """{label: Stylizer} and a frame (H, W, 3) -> (the fastest's label, {label: median seconds}).
    Each runs `warmups` times first (its compilation, its first allocations), then all take
    turns, so that a busy moment of the machine slows every one alike: `runs` turns, or `least`
    once the turns have taken `budget` seconds, so that a big frame or a full-size network does
    not hold the start for half a minute."""
    batch = frame[None]
    for stylizer in stylizers.values():
        for _ in range(warmups):
            stylizer(batch)
    seconds = {label: [] for label in stylizers}
    began = time.perf_counter()
    for turn in range(runs):
        if turn >= least and time.perf_counter() - began > budget:
            break
        for label, stylizer in stylizers.items():
            started = time.perf_counter()
            stylizer(batch)
            seconds[label].append(time.perf_counter() - started)
    medians = {label: float(np.median(times)) for label, times in seconds.items()}
    return min(medians, key=medians.get), medians


def engines_to_race(asked, resolved):
    """The engines a live mode times on its first frame: --engine `asked` resolved to `resolved`
    (src/engines.py). Where auto picked OpenVINO, TensorFlow too: OpenVINO is the faster for
    whole photos, but a slim student at camera sizes ran slower on it than on TensorFlow on an
    AMX Xeon (bench/README.md), and a live mode lives by its rate."""
    return ("openvino", "tensorflow") if asked == "auto" and resolved == "openvino" else (resolved,)


def on_fastest_engine(make, engines, frame):
    """make(engine) -> a Stylizer; -> (the engine, its Stylizer, {engine: median seconds} of
    the engines that ran, or None where there was only one engine to run). An engine that could
    not compile the network here (OpenVINO on some CPUs: its Stylizer went over to TensorFlow,
    with a note) is left out of the result, so that the log and the later styles name the one
    that ran."""
    candidates = {engine: make(engine) for engine in engines}
    if len(candidates) == 1:
        [(engine, stylizer)] = candidates.items()
        return engine, stylizer, None
    engine, seconds = fastest(candidates, frame)
    ran = {label: value for label, value in seconds.items() if candidates[label].engine == label}
    if engine not in ran:
        engine = min(ran, key=ran.get)
    return engine, candidates[engine], ran


class Window:
    """An OpenCV window with a caption; `actions` turns the keys pressed into Controls actions."""

    def __init__(self, title="fast style transfer"):
        import cv2

        self._cv2, self.title = cv2, title
        try:
            cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE)
        except cv2.error:
            raise CameraError(
                "this OpenCV cannot open windows (opencv-python-headless, or no display): "
                "pip install opencv-python for the window, or run with --no-window"
            ) from None

    def show(self, rgb, caption, mirror=False):
        cv2 = self._cv2
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if mirror:
            bgr = cv2.flip(bgr, 1)  # before the caption, which reads the right way round
        cv2.putText(bgr, caption, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(bgr, caption, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.imshow(self.title, bgr)

    def actions(self):
        action = key_action(self._cv2.waitKeyEx(1))
        if action:
            yield action
        if self._cv2.getWindowProperty(self.title, self._cv2.WND_PROP_VISIBLE) < 1:
            yield "quit"  # the window was closed

    def close(self):
        self._cv2.destroyAllWindows()
