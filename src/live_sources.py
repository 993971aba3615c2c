"""A live mode's frames in (webcam.py, bench/live.py): a camera or a stream through OpenCV, or a
video file decoded by ffmpeg as transform_video.py decodes it, read in a thread that keeps only
the newest frame, so that frames arriving while the network is busy are dropped and latency
never grows. A video file stands in for a camera by being read at its own frame rate (and
tests need no camera).
"""

import threading
import time
from pathlib import Path

from src.video_probe import fitted

# How long closing waits for the reader's last read.
CLOSE_SECONDS = 2.0
# Frame rates a capture may report; outside them (0 from many streams) the recording takes 30.
MIN_FRAME_RATE, MAX_FRAME_RATE = 1.0, 240.0
# Where Linux lists its video devices; /dev/videoN is what OpenCV opens as camera N.
VIDEO4LINUX = Path("/sys/class/video4linux")


class CameraError(Exception):
    """A camera or stream that cannot be opened, or that stops sending frames."""


def is_camera(source):
    """Whether --camera names a camera (its number), rather than a video file or a stream."""
    return str(source).isdigit()


def open_source(source, size=None):
    """A camera index ("0"), a video file or a stream URL -> (frames, is_file), frames being
    CaptureFrames or FileFrames; size: (width, height) asked of a camera, or the box a file's
    frames are scaled to fit (src/video_probe.py `fitted`). CameraError when it cannot be opened."""
    camera = is_camera(source)
    is_file = not camera and Path(source).exists()
    if not camera and not is_file and "://" not in str(source):
        raise CameraError(f"{source}: no such file (give a camera number, a video file or a stream URL)")
    if is_file:
        return FileFrames(source, size), True
    import cv2

    capture = cv2.VideoCapture(int(source) if camera else str(source))
    if camera and size:
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
    if not capture.isOpened():
        if camera:
            raise CameraError(f"cannot open camera {source}: {camera_hint(int(source), linux_cameras())}")
        raise CameraError(f"cannot open {source}: is the address right, and is the camera sending?")
    return CaptureFrames(capture), False


def linux_cameras(root=VIDEO4LINUX):
    """{N: name} of the cameras Linux lists, N being what --camera takes; None where this is not
    Linux. A webcam makes a second device beside its picture's, for metadata (/dev/video1 beside
    /dev/video0, its sysfs `index` 1), which gives no frames: left out, so that the list names
    what a user can open."""
    if not root.parent.is_dir():
        return None
    found = {}
    for node in root.glob("video*") if root.is_dir() else ():
        number = node.name.removeprefix("video")
        if number.isdigit() and _read(node / "index", "0") == "0":
            found[int(number)] = _read(node / "name", "unnamed")
    return found


def _read(path, default):
    try:
        return path.read_text().strip() or default
    except OSError:
        return default


def camera_hint(number, cameras):
    """What to tell a user whose camera `number` did not open, from linux_cameras()."""
    if cameras is None:
        return "is it connected, and free?"
    if not cameras:
        return "no camera was found on this machine (/dev/video* is absent)"
    listed = ", ".join(f"{n} ({name})" for n, name in sorted(cameras.items()))
    if number in cameras:
        return f"is another program using it? The cameras here: {listed}"
    return f"the cameras here: {listed}"


class CaptureFrames:
    """A camera or stream through OpenCV: read() -> the next frame, RGB uint8, or None at its end."""

    note = None

    def __init__(self, capture):
        import cv2

        self._cv2, self._capture = cv2, capture
        self.frame_rate = capture.get(cv2.CAP_PROP_FPS)  # 0 where the source reports none

    def read(self):
        ok, bgr = self._capture.read()
        # OpenCV's own conversion: a NumPy copy of the reversed channels is far slower (bench/README.md).
        return self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB) if ok and bgr is not None else None

    def release(self):
        self._capture.release()


class FileFrames:
    """A video file decoded as transform_video.py decodes it (src/video.py, ffmpeg): upright,
    HDR tone-mapped to SDR (OpenCV would show a phone's HLG clip grey and flat), at a constant
    frame rate, scaled to fit `size` (width, height) where given. read() -> the next frame, RGB
    uint8, or None at its end."""

    def __init__(self, path, size=None):
        from src.video import FrameReader
        from src.video_probe import VideoError, hdr_note, probe

        try:
            info = probe(path)
        except VideoError as error:
            raise CameraError(str(error)) from None
        self.info, self.frame_rate = info, float(info.frame_rate)
        self.note = hdr_note(info)
        size = size and fitted(info.width, info.height, size)
        self._reader = FrameReader(path, info, size=size)
        self._batches = self._reader.batches(1)

    def read(self):
        batch = next(self._batches, None)
        return None if batch is None else batch[0].copy()  # writable, as a camera's frames are

    def release(self):
        self._reader.close()


class NewestFrame:
    """Reads a source (CaptureFrames, FileFrames) in a thread, keeping only the newest frame
    (RGB uint8) and its time. A file is read at its own frame rate, as a camera would deliver
    it. `held`: the first frame is read and the rest wait for start(), so that a file does not
    play on unseen while the networks compile and race on that frame."""

    def __init__(self, source, paced, size=None, held=False):
        self._source, self._size, self.paced = source, size, paced
        rate = source.frame_rate
        self.frame_rate = rate if rate and MIN_FRAME_RATE <= rate <= MAX_FRAME_RATE else 30.0
        self._interval = 1.0 / self.frame_rate if paced else 0.0
        self._condition = threading.Condition()
        self._newest, self.count, self.ended, self.error = None, 0, False, None
        self._stop, self._go = False, threading.Event()
        if not held:
            self._go.set()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        due = time.perf_counter()
        try:
            while not self._stop:
                rgb = self._source.read()
                if rgb is None:
                    break
                if self._size:  # a camera that gives another size than the one asked of it
                    size = fitted(rgb.shape[1], rgb.shape[0], self._size)
                    rgb = rgb if rgb.shape[1::-1] == size else _resized(rgb, size)
                with self._condition:
                    self.count += 1
                    self._newest = (self.count, time.perf_counter(), rgb)
                    self._condition.notify_all()
                if not self._go.is_set():
                    self._go.wait()
                    due = time.perf_counter()  # the file's clock starts now
                if self._interval:
                    due += self._interval
                    time.sleep(max(0.0, due - time.perf_counter()))
        except Exception as error:  # a driver failing mid-run: reported by the caller, not a traceback
            self.error = error
        finally:
            with self._condition:
                self.ended = True
                self._condition.notify_all()

    def after(self, seen, timeout=None):
        """The newest frame (number, time read, RGB) newer than frame number `seen`, waiting for
        one (at most `timeout` seconds when given); None where there is none: the source has
        ended (`ended`) or the wait timed out."""
        deadline = None if timeout is None else time.perf_counter() + timeout
        with self._condition:
            while not self.ended and (self._newest is None or self._newest[0] <= seen):
                left = 0.5 if deadline is None else deadline - time.perf_counter()
                if left <= 0:
                    break
                self._condition.wait(min(0.5, left))
            if self._newest is not None and self._newest[0] > seen:
                return self._newest
            return None

    def start(self):
        """Let a held reader go on; its first frame counts as delivered now."""
        with self._condition:
            if not self._go.is_set() and self._newest is not None:
                number, _, rgb = self._newest
                self._newest = (number, time.perf_counter(), rgb)
            self._go.set()

    def close(self):
        self._stop = True
        self._go.set()
        self._thread.join(timeout=CLOSE_SECONDS)
        # A read still hanging on a silent camera: releasing the capture under it could crash
        # OpenCV, so it is left to the end of the process (the thread is a daemon).
        if not self._thread.is_alive():
            self._source.release()


def _resized(rgb, size):
    import cv2

    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
