"""Video files in and out, through the ffmpeg binary that imageio-ffmpeg bundles (no system
ffmpeg needed; IMAGEIO_FFMPEG_EXE picks another one).

Reading decodes the first real video stream (cover art is skipped) to RGB uint8 frames, streamed
from an ffmpeg process, upright (ffmpeg applies rotation metadata, so a phone clip shot in portrait
comes out at its displayed size). Frames come at a constant rate: the input's own, as ffmpeg
guesses it (30000/1001 stays exact). A variable-rate input has frames repeated or dropped by
ffmpeg to that rate, as ffmpeg does in its own conversions, so picture and sound stay in sync.
HDR video (HLG, PQ) is tone-mapped to SDR on the way (its zscale and tonemap filters).
What a file holds is read first by src/video_probe.py (VideoInfo). Transparent video (WebM VP8/VP9 with alpha, ProRes 4444, PNG or QuickTime Animation in .mov, a
transparent GIF) can be read as RGBA, and its transparency written back into a .webm (VP9 with
alpha) or a .gif, as images keep theirs (src/images.py).

Writing streams frames into an ffmpeg process that encodes them and muxes in the input's sound
tracks unchanged (stream copy), or re-encoded when the container cannot hold them. The output
goes to a temporary name in the same folder and is renamed into place only once complete.
"""

import contextlib
import re
import subprocess
import tempfile
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from src.atomic import atomic_path
from src.out_paths import OutPathError, check_folder, no_extension, output_file
from src.video_probe import VideoError, ffmpeg_exe, hdr_note
from src.wording import counted


@dataclass(frozen=True)
class Codec:
    encoder: str
    default_crf: int | None  # None: no quality setting (GIF)
    max_crf: int | None
    options: tuple = ()
    live_options: tuple = ()  # for a recording made while the network paints live (webcam.py)
    odd_sizes_in_420: bool = False  # whether 4:2:0 can store odd widths and heights
    keeps_alpha: bool = False  # whether it can carry a transparent input's alpha


# CRF 18 rather than x264's default 23: the fine, saturated brush strokes of a stylized frame are
# what lossy coding blurs first (images.py saves JPEG at 95 for the same reason). A live recording
# shares the CPU with the network, so it takes faster settings (bench/README.md, "Recording while
# painting live").
H264 = Codec("libx264", 18, 51, ("-preset", "medium"), ("-preset", "superfast"))
VP9 = Codec(
    "libvpx-vp9",
    31,
    63,
    ("-deadline", "good", "-cpu-used", "4", "-row-mt", "1"),
    ("-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1"),
    odd_sizes_in_420=True,
    keeps_alpha=True,
)
# GIF: 256 colours a frame, chosen for each frame (palettegen stats_mode=single, paletteuse
# new=1), so that the encoder streams instead of holding the whole video for one palette;
# ordered (Bayer) dithering, whose pattern stays put from frame to frame where error diffusion's
# crawls; transparency where the input has it (alpha below 128 becomes the transparent colour).
GIF = Codec("gif", None, None, odd_sizes_in_420=True, keeps_alpha=True)
_GIF_FILTERS = (
    "split[frames][again];[again]palettegen=stats_mode=single:reserve_transparent=1[palette];"
    "[frames][palette]paletteuse=new=1:alpha_threshold=128:dither=bayer:bayer_scale=5"
)


@dataclass(frozen=True)
class Container:
    muxer: str
    codec: Codec
    audio_fallback: tuple | None  # encoder arguments for sound that cannot be copied; None: no sound
    options: tuple = ()


AAC = ("-c:a", "aac", "-b:a", "192k")
OPUS = ("-c:a", "libopus", "-b:a", "160k")
# faststart moves the index to the front so that players can start before the whole file is read.
CONTAINERS = {
    ".mp4": Container("mp4", H264, AAC, ("-movflags", "+faststart")),
    ".m4v": Container("mp4", H264, AAC, ("-movflags", "+faststart")),
    ".mov": Container("mov", H264, AAC, ("-movflags", "+faststart")),
    ".mkv": Container("matroska", H264, AAC),
    # WebM holds only VP8/VP9/AV1 and Opus/Vorbis.
    ".webm": Container("webm", VP9, OPUS),
    ".gif": Container("gif", GIF, None),  # loops forever, as GIFs are shown
}
# HDR frames to the SDR (BT.709) RGB the network was trained on: linear light with 100 nits as
# white, BT.2020 primaries to BT.709, then Mobius tone mapping, which leaves the SDR range nearly
# as it is (linear up to 0.7) and rolls the highlights off instead of clipping them
# (bench/README.md, "HDR video"). Decoded as it is, HDR comes out grey and flat.
_TONE_MAP = (
    "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,"
    "tonemap=tonemap=mobius:param=0.7:desat=0,zscale=t=bt709,format=gbrp"
)


# ffmpeg's name for the part of it that speaks, as in "[out#0/mp4 @ 0x55d4ce30abc0] ".
_SPEAKER = re.compile(r"^\[[^\]]* @ 0x[0-9a-fA-F]+\] ")
_NO_SPACE = "No space left on device"


class _Ffmpeg:
    """An ffmpeg process in its own session (a Ctrl-C in the terminal reaches only Python, which
    then stops it and cleans up), with stderr drained so it never blocks, keeping the last lines."""

    def __init__(self, arguments, **pipes):
        self.log = deque(maxlen=20)
        command = [ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "error", *arguments]
        try:
            self.process = subprocess.Popen(command, stderr=subprocess.PIPE, start_new_session=True, **pipes)
        except OSError as error:
            raise VideoError(f"cannot start ffmpeg: {error}") from None
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()

    def _read_log(self):
        for line in self.process.stderr:
            self.log.append(line.decode("utf-8", "replace").rstrip())

    def wait(self):
        code = self.process.wait()
        self._drain.join()
        self._close_pipes()
        return code

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
        self.wait()

    def _close_pipes(self):
        # Closed here, not left to the garbage collector: the app runs video after video in one
        # process, and every open pipe holds a file descriptor.
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe:
                try:
                    pipe.close()
                except OSError:  # unwritten frames of a killed encoder
                    pass

    def reason(self):
        """ffmpeg's last error lines, each once, without its internal names; a full disk, which
        every part of it reports in turn, as just that."""
        lines = (_SPEAKER.sub("", line.strip()) for line in self.log)
        lines = list(dict.fromkeys(line for line in lines if line and not line.startswith("Last message repeated")))
        if any(_NO_SPACE in line for line in lines):
            return _NO_SPACE
        return "; ".join(lines) or f"ffmpeg exited with status {self.process.returncode}"


class FrameReader:
    """Batches of decoded frames, uint8 RGB (B, H, W, 3) (RGBA with `alpha`), streamed from
    ffmpeg; close(), or leaving it as a context manager, stops it even when not every frame was
    read."""

    def __init__(self, path, info, max_frames=None, size=None, alpha=False):
        self.info, self.max_frames = info, max_frames
        self.size = tuple(size) if size else (info.width, info.height)  # (width, height) of the frames
        self.channels = 4 if alpha else 3  # alpha: RGBA, the input's transparency last
        decoder = ["-c:v", info.decoder] if alpha and info.decoder else []
        arguments = ["-nostdin", *decoder, "-i", str(path), "-map", "0:V:0", "-fps_mode", "cfr", "-r", str(info.frame_rate)]
        filters = [_TONE_MAP] if info.hdr else []
        if size or info.scaled:  # scaled by ffmpeg, in its own process, rather than piped whole (bench/README.md)
            filters.append(f"scale={self.size[0]}:{self.size[1]}:flags=area")
        if filters:
            arguments += ["-vf", ",".join(filters)]
        if max_frames:
            arguments += ["-frames:v", str(max_frames)]
        arguments += ["-f", "rawvideo", "-pix_fmt", "rgba" if alpha else "rgb24", "pipe:1"]
        self._ffmpeg = _Ffmpeg(arguments, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)

    def batches(self, batch_size):
        shape = (self.size[1], self.size[0], self.channels)
        frame_bytes = int(np.prod(shape))
        count = 0
        while True:
            data = self._ffmpeg.process.stdout.read(frame_bytes * batch_size)
            whole = len(data) // frame_bytes
            if whole:
                count += whole
                yield np.frombuffer(data, np.uint8, count=whole * frame_bytes).reshape(whole, *shape)
            if len(data) < frame_bytes * batch_size:
                break
        self._ffmpeg.process.stdout.close()
        if self._ffmpeg.wait() != 0:
            raise VideoError(f"decoding failed after {counted(count, 'frame')}: {self._ffmpeg.reason()}")
        if count == 0:
            raise VideoError("no frame of the video could be decoded")
        expected = min(self.info.frame_estimate or 0, self.max_frames or float("inf"))
        if self._ffmpeg.log and count < expected - 2:
            # ffmpeg exits 0 on a file cut short (its data ends before its index does) but says so.
            raise VideoError(
                f"the video is damaged: decoding stopped after {count} of {expected} frames "
                f"({self._ffmpeg.reason()}); nothing was written (--max-frames {count} stylizes what is readable)"
            )

    def close(self):
        self._ffmpeg.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.close()


@dataclass(frozen=True)
class Output:
    """Where and how to write: checked before any work starts."""

    path: Path
    container: Container
    video_arguments: tuple
    notes: tuple
    alpha: bool = False  # the input's transparency carried over (RGBA frames in and out)
    merges_repeats: bool = False  # a GIF of a varying rate: repeated frames merged (src/gif.py)


def plan_output(source, target, info, crf=None, bitrate=None, live=False):
    """(input, --out-path, VideoInfo, quality[, live: the codec's faster settings]) -> Output;
    VideoError for an output that cannot work (OutPathError, src/out_paths.py, for a path that
    cannot: the input itself, an unwritable folder).
    An existing folder as target receives a file named like the input (.mp4 if its container is
    not one we write), and so does a target ending in a path separator, as in evaluate.py."""
    # Into a folder, under the input's name: .mp4 where its container is not one we write, so
    # that clip.avi can go into its own folder as clip.mp4.
    suffix = None if Path(source).suffix.lower() in CONTAINERS else ".mp4"
    source, target = Path(source), output_file(source, target, suffix)
    if not target.suffix:
        raise VideoError(no_extension(target, "container", ".mp4"))
    container = CONTAINERS.get(target.suffix.lower())
    if container is None:
        supported = ", ".join(CONTAINERS)
        raise VideoError(f"{target}: cannot write videos with extension '{target.suffix}' (use {supported})")
    codec = container.codec
    check_quality(target, crf, bitrate)
    _check_writable(target)
    pixel_format, notes = _pixel_format(codec, info)
    if info.hdr:
        notes.append(hdr_note(info))
    alpha = info.alpha and codec.keeps_alpha and not info.hdr
    if alpha and codec is VP9:
        pixel_format = "yuva420p"
    elif info.alpha and not alpha:
        notes.append(
            f"the input is transparent in places; {target.suffix} ({codec.encoder}) has no transparency, so the "
            "stylized picture fills the whole frame: a .webm or .gif out path keeps the transparency"
        )
    # A GIF holds each frame for its own time: the frames repeated to make a varying rate constant
    # (a sticker's long last frame, say) are merged back instead of stored again and again.
    merge = codec is GIF and info.variable_rate
    video_arguments = _video_arguments(codec, pixel_format, info.pixel_aspect, crf, bitrate, live, merge)
    return Output(target, container, video_arguments, tuple(notes), alpha, merge)


def check_quality(target, crf=None, bitrate=None):
    """VideoError where --crf or --bitrate does not fit the codec of the out path `target`
    (whose extension is one of CONTAINERS)."""
    codec = CONTAINERS[Path(target).suffix.lower()].codec
    if codec.max_crf is None and (crf is not None or bitrate):
        raise VideoError(f"{Path(target).suffix} has no quality setting (256 colours a frame): leave out --crf and --bitrate")
    if crf is not None and not 0 <= crf <= codec.max_crf:
        raise VideoError(f"--crf for {codec.encoder} must be between 0 and {codec.max_crf}, got {crf}")


def _check_writable(target):
    check_folder(target.parent)
    try:
        if target.parent.exists():
            tempfile.TemporaryFile(dir=target.parent).close()
    except OSError as error:
        raise OutPathError(f"cannot write {target}: {error.strerror or error}") from None


def _pixel_format(codec, info):
    """4:2:0, what every player decodes, needs even sides in H.264 (its crop step is 2 pixels, so
    even pad-and-crop cannot reach an odd size). An odd-sized input keeps its exact size in 4:4:4."""
    if codec.odd_sizes_in_420 or (info.width % 2 == 0 and info.height % 2 == 0):
        return "yuv420p", []
    note = (
        f"{info.width}x{info.height} has an odd side, which H.264 4:2:0 cannot store; writing H.264 4:4:4 "
        "to keep the exact size (VLC, mpv and ffmpeg play it; QuickTime, browsers and hardware players "
        "may not: a .webm out path (VP9 4:2:0, any size) plays more widely)"
    )
    return "yuv444p", [note]


def _video_arguments(codec, pixel_format, pixel_aspect, crf, bitrate, live=False, merge_repeats=False):
    # RGB -> YUV with the BT.709 matrix, tagged as such, so that players show the colours we wrote
    # (untagged video is read as BT.601 or BT.709 depending on the player and the size). The pixel
    # aspect is the input's, so that anamorphic video keeps its displayed shape.
    arguments = ["-c:v", codec.encoder, *(codec.live_options if live else codec.options)]
    if codec is GIF:  # RGB straight to each frame's palette: no YUV, no colour tags
        # GIF pixels are square: anamorphic video is widened (or narrowed) to its displayed shape.
        square = f"scale=round(iw*{pixel_aspect}):ih,setsar=1," if pixel_aspect != 1 else ""
        merged = "mpdecimate," if merge_repeats else ""  # a frame like the last one kept: dropped, that one held
        return tuple(arguments + ["-vf", square + merged + _GIF_FILTERS])
    convert = f"scale=out_color_matrix=bt709:out_range=tv,format={pixel_format}"
    tags = f"setparams=color_primaries=bt709:color_trc=bt709,setsar={pixel_aspect.numerator}/{pixel_aspect.denominator}"
    arguments += ["-vf", f"{convert},{tags}"]
    if bitrate:
        return tuple(arguments + ["-b:v", bitrate])
    arguments += ["-crf", str(codec.default_crf if crf is None else crf)]
    if codec is VP9:
        arguments += ["-b:v", "0"]  # constant quality: libvpx otherwise caps --crf with a default bitrate
    return tuple(arguments)


def audio_arguments(source, info, container):
    """(ffmpeg arguments for the sound of input #1, note or None): stream copy when the container
    takes the input's codecs (checked by muxing a second of them), else the container's codec."""
    if not info.audio_codecs:
        return (), None
    if container.audio_fallback is None:
        return (), f"a {container.muxer.upper()} has no sound: the input's is left out"
    if _can_copy_audio(source, container):
        return ("-map", "1:a", "-c:a", "copy"), None
    codecs, encoder = ", ".join(info.audio_codecs), container.audio_fallback[1]
    note = f"{container.muxer} cannot hold the input's sound ({codecs}) unchanged; re-encoding it with {encoder}"
    return ("-map", "1:a", *container.audio_fallback), note


def _can_copy_audio(source, container):
    with tempfile.TemporaryDirectory() as folder:
        command = [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(source), "-map", "0:a", "-c:a", "copy"]
        command += ["-t", "1", "-f", container.muxer, str(Path(folder) / "sound")]
        try:
            return subprocess.run(command, capture_output=True, timeout=300).returncode == 0
        except subprocess.TimeoutExpired:
            return False


@contextlib.contextmanager
def writing(output, info, source, audio=(), duration=None, shortest=False):
    """A VideoWriter for output.path (a planned Output), as a context manager: leaving it normally
    finishes the file and renames it into place; leaving it through an exception (Ctrl-C
    included) stops ffmpeg and deletes the partial file (src/atomic.py)."""
    output.path.parent.mkdir(parents=True, exist_ok=True)  # planned, created once there is output
    try:
        with atomic_path(output.path) as temporary:
            writer = VideoWriter(temporary, output, info, source, audio, duration, shortest)
            try:
                yield writer
                writer.finish()
            finally:
                writer.abort()
    except OSError as error:
        raise VideoError(f"cannot write {output.path}: {error.strerror or error}") from None


class VideoWriter:
    """Encodes uint8 RGB frames (B, H, W, 3) (RGBA where output.alpha), with the sound of
    `source` (None: no sound, as from a camera), into `path` as `output` (a planned Output)
    asks. The sound stops at `duration` seconds where given, or, with `shortest`, where the
    frames do (a live recording stopped early). Use it through `writing`, which makes the file
    appear atomically."""

    def __init__(self, path, output, info, source, audio=(), duration=None, shortest=False):
        self.output, self.path, self.frame_rate, self.frames = output, path, info.frame_rate, 0
        size = f"{info.width}x{info.height}"
        rgb = "rgba" if output.alpha else "rgb24"
        frames = ["-f", "rawvideo", "-pix_fmt", rgb, "-s", size, "-framerate", str(info.frame_rate), "-i", "pipe:0"]
        # Input #1 is the source again: its sound tracks and its metadata (title, date...).
        again = ["-i", str(source), "-map", "0:v", *audio, "-map_metadata", "1"] if source else ["-map", "0:v"]
        arguments = ["-y", *frames, *again]
        arguments += [*output.video_arguments, "-fps_mode", "passthrough"]
        if duration is not None:
            arguments += ["-t", f"{float(duration):.6f}"]
        if shortest:
            arguments += ["-shortest"]
        arguments += [*output.container.options, "-f", output.container.muxer, str(path)]
        self._ffmpeg = _Ffmpeg(arguments, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)

    def write(self, frames):
        try:
            self._ffmpeg.process.stdin.write(np.ascontiguousarray(frames, dtype=np.uint8).data)
            self.frames += len(frames)
        except OSError:  # BrokenPipeError included: ffmpeg went away
            self._ffmpeg.kill()
            raise VideoError(f"cannot write {self.output.path}: {self._ffmpeg.reason()}") from None

    def finish(self):
        """Close the stream and wait for ffmpeg to complete the file."""
        try:
            self._ffmpeg.process.stdin.close()
        except OSError:  # BrokenPipeError included: ffmpeg went away
            pass
        if self._ffmpeg.wait() != 0:
            raise VideoError(f"cannot write {self.output.path}: {self._ffmpeg.reason()}")
        if self.output.merges_repeats:
            from src.gif import hold_last_frame

            hold_last_frame(self.path, self.frames / self.frame_rate)

    def abort(self):
        self._ffmpeg.kill()
