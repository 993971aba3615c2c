"""Short test clips made with the bundled ffmpeg, a live MJPEG stream served over HTTP (a camera
for webcam.py), fake OpenCV captures (cameras without a camera), and facts about video files
measured with ffmpeg directly (not through src/video.py, which is what the tests check)."""

import contextlib
import io
import re
import subprocess
import sys
import time
from fractions import Fraction

import imageio_ffmpeg
import numpy as np

from src.cli import ROOT

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
FAST_H264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p")
VP9_ALPHA = ("-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p", "-deadline", "realtime", "-cpu-used", "8")
PNG_IN_MOV = ("-c:v", "png", "-pix_fmt", "rgba")


def ffmpeg(*arguments, stdout=subprocess.DEVNULL):
    command = [FFMPEG, "-hide_banner", "-nostdin", "-v", "error", *arguments]
    done = subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(arguments)}: {done.stderr.decode(errors='replace')}")
    return done.stdout


def make_clip(path, size="338x190", rate="10", seconds=2, sound="aac", video=FAST_H264, before=()):
    """testsrc (RGB, so odd sizes stay odd) with a 440 Hz tone encoded by `sound` (None: silent);
    `before` goes ahead of the inputs (e.g. -display_rotation 90)."""
    inputs = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}:duration={seconds}"]
    outputs = ["-map", "0:v", *video]
    if sound:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
        outputs += ["-map", "1:a", "-c:a", sound]
    ffmpeg("-y", *before, *inputs, *outputs, str(path))
    return path


def make_transparent_clip(path, video, size="64x48", opaque=False):
    """testsrc2, its left half opaque and its right half transparent (or all opaque), 10 frames,
    encoded by `video` (ffmpeg arguments: an encoder and pixel format that keep alpha)."""
    alpha = "255" if opaque else "if(lt(X,W/2),255,0)"
    source = f"testsrc2=size={size}:rate=10:duration=1,format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='{alpha}'"
    ffmpeg("-y", "-f", "lavfi", "-i", source, *video, str(path))
    return path


def decoded(path, pixel_format="rgba", decoder=None):
    """Every frame of the first video stream as uint8 (N, H, W, channels), by ffmpeg alone:
    `decoder` libvpx-vp9 reads a WebM's alpha, which ffmpeg's own VP9 decoder skips."""
    width, height = video_facts(path)["width"], video_facts(path)["height"]
    before = ["-c:v", decoder] if decoder else []
    data = ffmpeg(*before, "-i", str(path), "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", pixel_format, "-", stdout=subprocess.PIPE)
    channels = {"rgba": 4, "rgb24": 3, "gray": 1}[pixel_format]
    return np.frombuffer(data, np.uint8).reshape(-1, height, width, channels)


# The transfer function of each HDR format, as ffmpeg names it.
HDR_TRANSFERS = {"HLG": "arib-std-b67", "PQ": "smpte2084"}


def make_hdr_clip(path, name, size="96x64"):
    """testsrc2 written as 10-bit HDR video (`name`: "HLG" or "PQ"), as phones record it ->
    (path, the SDR picture's frames as uint8 RGB (N, H, W, 3))."""
    width, height = map(int, size.split("x"))
    source = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=10:duration=0.5"]
    sdr = np.frombuffer(ffmpeg(*source, "-pix_fmt", "rgb24", "-f", "rawvideo", "-", stdout=subprocess.PIPE), np.uint8)
    transfer = HDR_TRANSFERS[name]
    to_hdr = f"zscale=tin=bt709:min=bt709:pin=bt709:rin=full:t={transfer}:m=bt2020nc:p=bt2020:r=tv:npl=100,format=yuv420p10le"
    hdr = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=none"]
    hdr += ["-color_trc", transfer, "-color_primaries", "bt2020", "-colorspace", "bt2020nc"]
    ffmpeg("-y", *source, "-vf", to_hdr, *hdr, str(path))
    return path, sdr.reshape(-1, height, width, 3)


def _framemd5_rows(text):
    """stream, dts, pts, duration, size, checksum[, side data] for each line of ffmpeg's framemd5."""
    return [[field.strip() for field in line.split(",")] for line in text.splitlines() if line and line[0] != "#"]


def video_facts(path):
    """The decoded frames of the first video stream: size, count, and rate and duration from their
    own timestamps."""
    command = ["-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "framemd5", "-"]
    text = ffmpeg(*command, stdout=subprocess.PIPE).decode()
    time_base = Fraction(*map(int, re.search(r"^#tb 0: (\d+)/(\d+)", text, re.MULTILINE).groups()))
    width, height = map(int, re.search(r"^#dimensions 0: (\d+)x(\d+)", text, re.MULTILINE).groups())
    rows = _framemd5_rows(text)
    first_pts, last_pts, last_duration = int(rows[0][2]), int(rows[-1][2]), int(rows[-1][3])
    duration = (last_pts + last_duration - first_pts) * time_base
    rate = float(len(rows) / duration)
    return {"width": width, "height": height, "frames": len(rows), "duration": float(duration), "rate": rate}


def streams(path):
    """[(kind, codec, rest of line)] for each stream, from ffmpeg's dump."""
    done = subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True)
    return re.findall(r"^\s*Stream #0:\d+\S*: (\w+): (\w+)(.*)$", done.stderr.decode(errors="replace"), re.MULTILINE)


def audio_facts(path):
    """None for a silent file; else codec, sample rate, decoded samples and the packets' checksums."""
    audio = [(codec, rest) for kind, codec, rest in streams(path) if kind == "Audio"]
    if not audio:
        return None
    codec, rest = audio[0]
    pcm = ffmpeg("-i", str(path), "-map", "0:a:0", "-ac", "1", "-f", "s16le", "-", stdout=subprocess.PIPE)
    packets = ffmpeg("-i", str(path), "-map", "0:a:0", "-c", "copy", "-f", "framemd5", "-", stdout=subprocess.PIPE)
    return {
        "codec": codec,
        "sample_rate": int(re.search(r"(\d+) Hz", rest).group(1)),
        "samples": len(pcm) // 2,
        "packets": [row[5] for row in _framemd5_rows(packets.decode())],
    }


@contextlib.contextmanager
def mjpeg_stream(frames, rate):
    """A live MJPEG stream over HTTP, as IP cameras and phone camera apps send it, served by a
    process of its own (so that the test's own work does not hold up its clock): yields (url,
    shot), shot() -> seconds from its first frame to its last, once it has sent them all."""
    code = f"from tests.clips import serve_mjpeg; serve_mjpeg({int(frames)}, {float(rate)})"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/video.mjpg", lambda: float(process.communicate(timeout=60)[0])
    finally:
        process.kill()
        process.wait()


def serve_mjpeg(frames, rate):
    """mjpeg_stream's server: prints its port, sends `frames` JPEG frames (48x64, grey levels) at
    `rate` a second, announcing no rate, to its one client, then prints how long that took."""
    from http.server import BaseHTTPRequestHandler, HTTPServer

    import numpy as np
    from PIL import Image

    sent = []

    class Camera(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            for index in range(frames):
                picture = io.BytesIO()
                Image.fromarray(np.full((48, 64, 3), 8 * index % 256, np.uint8)).save(picture, "JPEG")
                data = picture.getvalue()
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                sent.append(time.perf_counter())
                time.sleep(1 / rate)

        def log_message(self, *args):
            pass

    with HTTPServer(("127.0.0.1", 0), Camera) as server:
        print(server.server_address[1], flush=True)
        server.handle_request()
    print(sent[-1] - sent[0], flush=True)


class FakeCapture:
    """cv2.VideoCapture's read(): `count` BGR frames (frame i red at level i), then nothing; an
    exception instead of frame `fail_at`."""

    def __init__(self, count, size=(12, 16), fail_at=None, delay=0.0):
        self.count, self.size, self.fail_at, self.delay, self.index = count, size, fail_at, delay, 0
        self.released, self.delivered = False, []  # delivered: when each frame was read

    def read(self):
        time.sleep(self.delay)
        if self.index == self.fail_at:
            raise RuntimeError("the driver went away")
        if self.index >= self.count:
            return False, None
        self.index += 1
        self.delivered.append(time.perf_counter())
        bgr = np.zeros((*self.size, 3), np.uint8)
        bgr[..., 2] = self.index % 256  # red, which OpenCV gives last
        return True, bgr

    def get(self, prop):
        return 0.0

    def release(self):
        self.released = True


class Rated(FakeCapture):
    """A capture that reports `rate` frames per second, whatever it delivers."""

    def __init__(self, count, rate, **kwargs):
        super().__init__(count, **kwargs)
        self.rate = rate

    def get(self, prop):
        return self.rate
