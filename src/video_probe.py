"""What a video file holds, learnt before its frames are read (VideoInfo): its displayed size,
exact frame rate, pixel shape, duration, sound and subtitle tracks, HDR transfer and
transparency, from its first decoded frame through the ffmpeg binary that imageio-ffmpeg bundles
(IMAGEIO_FFMPEG_EXE picks another one); and the size its frames are read at to fit a box
(fit_within). What is not a video is refused with the reason: a still image (a still GIF too),
sound alone or with cover art, a folder.

src/video.py reads and writes the frames.
"""

import re
import subprocess
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path


class VideoError(Exception):
    """An input that is not a usable video, an output that cannot be written, or ffmpeg failing."""


# The extensions of video files (a GIF may be a still image or an animation, so it is not one).
VIDEO_SUFFIXES = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .mpg .mpeg .mts .m2ts .ts .wmv .flv .3gp .ogv .mxf .dv .vob".split()
)
# Pictures that may be animations (GIF, APNG, animated WebP), read as videos; a still one is refused.
ANIMATION_SUFFIXES = frozenset({".gif", ".png", ".webp"})
# Pixel formats with an alpha channel, as ffmpeg names them (ProRes 4444 yuva444p12le, QuickTime
# Animation argb, PNG rgba, GIF bgra...).
_ALPHA_FORMATS = re.compile(r"^(yuva|rgba|bgra|argb|abgr|gbrap|ya8|ya16|rgba64|bgra64)")
# WebM keeps VP8 and VP9's alpha beside the picture, which ffmpeg's own decoders skip: libvpx reads it.
_ALPHA_DECODERS = {"vp8": "libvpx", "vp9": "libvpx-vp9"}
# Demuxers that read single pictures: an image is not a video (evaluate.py stylizes it).
_IMAGE_DEMUXER = re.compile(r"^image2$|_pipe$")
# Demuxers of pictures that may be animations (GIF, APNG, animated WebP): one frame is a still image.
_ANIMATION_DEMUXERS = frozenset({"gif", "apng", "webp_anim"})
# HDR transfer functions, as ffmpeg names them in a stream's colour description (phones record
# HLG; HDR10 is PQ).
_HDR_TRANSFERS = {"arib-std-b67": "HLG", "smpte2084": "PQ"}


@dataclass(frozen=True)
class VideoInfo:
    width: int  # as displayed, after rotation
    height: int
    frame_rate: Fraction  # the constant rate frames are read at
    pixel_aspect: Fraction  # the shape of a pixel (1 but in anamorphic video, e.g. 8/9 on NTSC DVDs)
    duration: float | None  # seconds, the container's (None when unknown)
    audio_codecs: tuple  # one per sound track
    variable_rate: bool  # the average rate differs from frame_rate
    subtitles: int  # subtitle tracks (not carried over)
    hdr: str | None = None  # "HLG" or "PQ": tone-mapped to SDR when read
    alpha: bool = False  # transparent somewhere in its first frame (an alpha channel in use)
    decoder: str | None = None  # the decoder that reads its alpha, where ffmpeg's own skips it
    scaled: bool = False  # read scaled to width x height (fit_within), not at its own size

    @property
    def frame_estimate(self):
        """Frames to expect (for progress bars; the reader gives the exact count)."""
        return round(self.duration * self.frame_rate) if self.duration else None


def fitted(width, height, box):
    """The largest (width, height) of a width x height frame's shape within `box` (width,
    height): --size 640x480 makes a 1280x720 camera's frames 640x360, not squashed to 4:3."""
    factor = min(box[0] / width, box[1] / height)
    return max(1, round(width * factor)), max(1, round(height * factor))


def fit_within(info, box):
    """VideoInfo of the frames read scaled, keeping their shape, to fit `box` (width, height);
    `info` itself where they fit already (a video is never enlarged) or where box is None."""
    if not box or (info.width <= box[0] and info.height <= box[1]):
        return info
    width, height = fitted(info.width, info.height, box)
    return replace(info, width=width, height=height, scaled=True)


def ffmpeg_exe():
    import imageio_ffmpeg

    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as error:
        raise VideoError(f"no ffmpeg binary: {error}") from None


def probe(path):
    """path -> VideoInfo, by decoding the first frame; VideoError saying what is wrong otherwise."""
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if path.is_dir():
        raise VideoError(f"{path} is a folder: give one video file (a folder of them: run once per file)")
    if not path.is_file():
        raise VideoError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: an empty file")
    # One decoded frame as YUV4MPEG: its header holds the displayed size, the exact constant rate
    # (F30000:1001) that ffmpeg settles on, which its text dump only prints rounded, and the pixel
    # aspect ratio (A8:9; A0:0 when unknown).
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:V:0?", "-frames:v", "1"]
    command += ["-fps_mode", "cfr", "-pix_fmt", "gray", "-f", "yuv4mpegpipe", "pipe:1"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise VideoError(f"{path}: ffmpeg took too long to open it") from None
    dump = _input_section(done.stderr.decode("utf-8", "replace"))
    header = re.match(rb"YUV4MPEG2 W(\d+) H(\d+) F(\d+):(\d+) [^\n]*?A(\d+):(\d+)[^\n]*\nFRAME", done.stdout)
    info = _video_info(path, dump, header, done.stderr)
    decoder = _alpha_decoder(dump)
    if decoder is not False and _transparent_first_frame(path, decoder):
        info = replace(info, alpha=True, decoder=decoder)
    return info


def _alpha_decoder(dump):
    """Whether the first video stream (not cover art) has an alpha channel: False where it has
    none, else the decoder that reads it (None: ffmpeg's own)."""
    streams = re.findall(r"^\s*Stream #0:\d+\S*: Video: (\w+)[^,]*, (\w+)(.*(?:\n\s{4,}.*)*)", dump, re.MULTILINE)
    videos = [stream for stream in streams if "(attached pic)" not in stream[2].split("\n")[0]]  # not cover art
    if not videos:
        return False
    codec, pixel_format, rest = videos[0]
    if re.search(r"^\s+alpha_mode\s*: 1\s*$", rest, re.MULTILINE) and codec in _ALPHA_DECODERS:
        return _ALPHA_DECODERS[codec]
    return None if _ALPHA_FORMATS.match(pixel_format) else False


def _transparent_first_frame(path, decoder):
    """Whether the first frame's alpha is below opaque anywhere: a GIF or PNG video always
    decodes with an alpha channel, most of them wholly opaque."""
    done = _first_frames_gray(path, 1, "alphaextract", decoder)
    return done is not None and done.returncode == 0 and bool(done.stdout) and min(done.stdout) < 255


def _frames_up_to(path, count):
    """How many frames the video has, counted up to `count` (each decoded, as it is stored)."""
    done = _first_frames_gray(path, count, "scale=1:1")  # one byte a frame
    return count if done is None else len(done.stdout)  # too long: taken for a video, whose reading says why


def _first_frames_gray(path, count, video_filter, decoder=None):
    """ffmpeg's run over the first `count` frames of the first video stream as stored, through
    `video_filter`, into 8-bit gray bytes; None where it takes too long."""
    command = [ffmpeg_exe(), "-nostdin", "-v", "error", *(["-c:v", decoder] if decoder else []), "-i", str(path)]
    command += ["-map", "0:V:0", "-frames:v", str(count), "-fps_mode", "passthrough", "-vf", video_filter]
    command += ["-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"]
    try:
        return subprocess.run(command, capture_output=True, timeout=300)
    except subprocess.TimeoutExpired:
        return None


def _input_section(text):
    """The lines describing the input, without the output's and the progress lines."""
    lines = []
    for line in text.splitlines():
        if line.startswith(("Output #", "Stream mapping:")):
            break
        lines.append(line)
    return "\n".join(lines)


def _video_info(path, dump, header, stderr):
    demuxer = re.search(r"^Input #0, (.+?), from ", dump, re.MULTILINE)
    if demuxer is None:
        if b"moov atom not found" in stderr and _starts_as_mp4(path):  # the index is written when it is closed
            raise VideoError(f"{path}: an unfinished video: its index (moov atom) is missing, as when a recording or download stops early")
        raise VideoError(f"{path}: not a readable video ({_last_line(stderr)})")
    still = VideoError(f"{path}: a still image, not a video (evaluate.py stylizes images)")
    if _IMAGE_DEMUXER.search(demuxer.group(1)):
        # ffmpeg picks its image reader by the name alone: a .jpg may hold no picture at all.
        if header is None:
            raise VideoError(f"{path}: neither a readable video nor a readable image")
        raise still
    # A still GIF would otherwise become a video of its one frame, repeated for its delay.
    if demuxer.group(1) in _ANIMATION_DEMUXERS and header is not None and _frames_up_to(path, 2) < 2:
        raise still
    streams = re.findall(r"^\s*Stream #0:\d+\S*: (\w+): (\w+)(.*)$", dump, re.MULTILINE)
    videos = [rest for kind, _, rest in streams if kind == "Video" and "(attached pic)" not in rest]
    if not videos:
        raise VideoError(f"{path}: has no video stream")
    if header is None:
        raise VideoError(f"{path}: no frame of its video could be decoded ({_last_line(stderr)})")
    width, height, rate, rate_base, aspect, aspect_base = (int(value) for value in header.groups())
    return VideoInfo(
        width=width,
        height=height,
        frame_rate=Fraction(rate, rate_base),
        pixel_aspect=Fraction(aspect, aspect_base) if aspect and aspect_base else Fraction(1),
        duration=_duration(dump),
        audio_codecs=tuple(codec for kind, codec, _ in streams if kind == "Audio"),
        variable_rate=_variable_rate(videos[0]),
        subtitles=sum(kind == "Subtitle" for kind, _, _ in streams),
        hdr=_hdr(videos[0]),
    )


def _hdr(stream_line):
    """The HDR transfer ("HLG" or "PQ") named in a video stream's colour description, as in
    "yuv420p10le(tv, bt2020nc/bt2020/arib-std-b67, progressive)"; None for SDR."""
    match = re.search(r"[(/ ](arib-std-b67|smpte2084)[,/)]", stream_line)
    return _HDR_TRANSFERS[match.group(1)] if match else None


def hdr_note(info):
    """What a run says of HDR video, which FrameReader tone-maps (None for SDR)."""
    if info.hdr:
        return f"HDR video ({info.hdr}): tone-mapped to SDR, which the network paints; the result is SDR (BT.709)"
    return None


def _duration(dump):
    match = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", dump)
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _variable_rate(stream_line):
    """ffmpeg prints the average rate as 'fps' and the nominal one as 'tbr'; they differ when the
    frame durations vary."""
    average = re.search(r"([\d.]+k?) fps", stream_line)
    nominal = re.search(r"([\d.]+k?) tbr", stream_line)
    return bool(average and nominal and average.group(1) != nominal.group(1))


def _starts_as_mp4(path):
    """Whether the file begins with an MP4 or QuickTime box, as a recording does from its first
    write: its type (ftyp) or, in older QuickTime files, its data (mdat) or padding."""
    with open(path, "rb") as file:
        return file.read(8)[4:] in (b"ftyp", b"mdat", b"wide", b"free", b"skip")


def _last_line(stderr):
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else "ffmpeg gave no reason"
