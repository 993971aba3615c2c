"""Stylizing video files: which input goes to which output (one video, or a folder's or a
pattern's into a folder), and each video's frames decoded, stylized in batches and encoded as a
stream.

Three stages overlap: a thread feeds the decoder's batches into a short queue, the caller's
thread runs the network, and another thread hands stylized batches to the encoder through a
second short queue. The queues are bounded, so memory stays flat whatever the video's length.
With --stabilize (src/stabilize.py) the decoding thread also measures the input's motion and
the encoding thread blends each frame with the previous output, so both overlap the network.
"""

import queue
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from src.out_paths import OutPathError, check_folder_target, check_not_input, is_pattern, pattern_files
from src.pixels import to_uint8
from src.video import CONTAINERS, FrameReader, audio_arguments, plan_output, writing
from src.video_probe import VIDEO_SUFFIXES, VideoError, fit_within, probe
from src.wording import counted

# Batches waiting on each side of the network.
QUEUE_BATCHES = 2
_END = object()
# What a folder's videos are known by (a pattern takes whatever it matches): a folder of clips
# often holds subtitles, thumbnails and a camera's notes beside them. GIFs too, as animations.
FOLDER_SUFFIXES = VIDEO_SUFFIXES | {".gif"}


@dataclass(frozen=True)
class VideoPlan:
    """Which videos go where: `jobs` [(input, output path)], the output a file or, for one
    video, whatever --out-path says (src/video.py plan_output); `many` for a folder or a
    pattern; `skipped`: a folder's files that are not videos by their extension."""

    jobs: tuple
    many: bool = False
    skipped: tuple = ()


def plan_videos(in_path, out_path):
    """(--in-path, --out-path) -> VideoPlan; OutPathError for paths that cannot work. A folder's
    or a pattern's videos go into the folder --out-path under their own names (.mp4 where their
    container is not one we write: clip.avi -> clip.mp4, or clip.avi.mp4 beside a clip.mp4)."""
    source, target = Path(in_path), Path(out_path)
    if is_pattern(in_path):
        return VideoPlan(_into_folder(pattern_files(str(in_path)), target, "a pattern"), many=True)
    if not source.is_dir():
        return VideoPlan(((source, out_path),))  # checked by probe and plan_output
    if target.is_dir() and target.samefile(source):
        raise OutPathError("--out-path is the input folder: the outputs would overwrite the inputs")
    files = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
    videos = [p for p in files if p.suffix.lower() in FOLDER_SUFFIXES]
    skipped = tuple(p for p in files if p.suffix.lower() not in FOLDER_SUFFIXES)
    return VideoPlan(_into_folder(videos, target, "a folder"), many=True, skipped=skipped)


def _into_folder(paths, target, what):
    check_folder_target(target, what, lambda path: path.suffix.lower() in FOLDER_SUFFIXES | set(CONTAINERS), "a video")
    names, jobs = {path.name for path in paths}, []
    for path in paths:
        name = path.name
        if path.suffix.lower() not in CONTAINERS:
            name = path.with_suffix(".mp4").name
            name = f"{path.name}.mp4" if name in names else name
            names.add(name)
        check_not_input(target / name, path)
        jobs.append((path, target / name))
    return tuple(jobs)


def stylize_videos(jobs, stylize, settings, note):
    """Each (input, output file) of a folder or a pattern in turn, through the one `stylize`
    (settings: src/settings.py VideoSettings): a video that cannot be read or written is said
    and skipped -> [(input, reason)] of those that failed."""
    failures = []
    for number, (source, target) in enumerate(jobs, 1):
        print(f"{number} of {counted(len(jobs), 'video')}: {source.name}", file=sys.stderr)
        try:
            info, output = plan_as_asked(source, target, settings)
            for text in notes_before(info, output):
                note(text)
            result = stylize_as_asked(source, output, info, stylize, settings, note)
        except (VideoError, OutPathError) as error:
            reason = str(error) if str(source) in str(error) else f"{source}: {error}"
            print(f"  failed: {reason}", file=sys.stderr)
            failures.append((source, reason))
            continue
        print(f"  {summary(result, output.path)}", file=sys.stderr)
    return failures


def stylize_as_asked(source, output, info, stylize, settings, note):
    """stylize_video with what VideoSettings (src/settings.py) ask: the batch size, the frames,
    the steadying."""
    batch_size, frames = settings.model.batch_size, settings.max_frames
    return stylize_video(source, output, info, stylize, batch_size, frames, note=note, stabilize=settings.stabilize)


def plan_as_asked(source, target, settings):
    """(VideoInfo of `source`, planned Output into `target`) as VideoSettings (src/settings.py)
    ask: the frames scaled to fit their max_size where it is smaller, their quality."""
    info = fit_within(probe(source), settings.max_size)
    return info, plan_output(source, target, info, settings.crf, settings.bitrate)


def notes_before(info, output):
    """What a run says of an input (its VideoInfo) and of its planned Output before stylizing it."""
    notes = []
    if info.variable_rate and not output.merges_repeats:  # a GIF keeps each frame's own time
        notes.append(
            f"the input's frame rate varies; ffmpeg repeats or drops frames to a constant "
            f"{float(info.frame_rate):.3f} fps so that picture and sound stay in sync"
        )
    if info.subtitles:
        notes.append("subtitle tracks are not carried over")
    if info.scaled:
        notes.append(f"frames scaled to {info.width}x{info.height}")
    return notes + list(output.notes)


def summary(result, path):
    rate = result.frames / result.seconds if result.seconds else 0.0
    return f"stylized {counted(result.frames, 'frame')} into {path} ({rate:.1f} frames/s)"


@dataclass
class Result:
    frames: int
    seconds: float


def stylize_video(
    source, output, info, stylize, batch_size=4, max_frames=None, progress=True, note=None, stabilize=0.0
):
    """Stylize `source` (its VideoInfo `info`) into `output` (a planned src.video.Output) with
    `stylize`: float32 (B, H, W, 3) 0..255 -> same (src.stylize.Stylizer); `stabilize`: the
    share of the previous output carried along the motion (0: every frame on its own). Raises
    VideoError; on any error or interrupt nothing is left at output.path."""
    from tqdm import tqdm

    audio, audio_note = audio_arguments(source, info, output.container)
    if audio_note and note:
        note(audio_note)
    duration = max_frames / info.frame_rate if max_frames else None
    total = info.frame_estimate
    total = min(total, max_frames) if total and max_frames else total or max_frames
    start = time.perf_counter()
    reader = FrameReader(source, info, max_frames, alpha=output.alpha)
    with reader, writing(output, info, source, audio, duration) as writer:
        with tqdm(total=total, unit="frame", desc="stylizing", disable=not progress, file=sys.stderr) as bar:
            frames = _run(reader, writer, stylize, batch_size, bar, stabilize)
            bar.total = frames  # the estimate came from the container's duration
            bar.refresh()
    return Result(frames, time.perf_counter() - start)


def _run(reader, writer, stylize, batch_size, bar, stabilize=0.0):
    stop = threading.Event()
    decoded, stylized = queue.Queue(QUEUE_BATCHES), queue.Queue(QUEUE_BATCHES)
    errors = []
    track, blend = _stabilizer(stabilize)
    threads = [
        threading.Thread(target=_decode, args=(reader, batch_size, decoded, stop, errors, track), daemon=True),
        threading.Thread(target=_encode, args=(writer, stylized, stop, errors, blend), daemon=True),
    ]
    for thread in threads:
        thread.start()
    frames = 0
    try:
        while (item := _get(decoded, stop)) is not _END:
            batch, motions, alpha = item
            _put(stylized, (stylize(batch.astype(np.float32)), motions, alpha), stop)
            frames += len(batch)
            bar.update(len(batch))
        _put(stylized, _END, stop)
        threads[1].join()
    except BaseException:
        writer.abort()  # unblocks the encoding thread if it is still writing
        raise
    finally:
        stop.set()
        reader.close()  # unblocks the decoding thread if it is still reading
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return frames


def _stabilizer(strength):
    """(motion tracker or None, blender or None) for --stabilize `strength`."""
    if not strength:
        return None, None
    from src.stabilize import Blender, MotionTracker

    return MotionTracker(strength), Blender()


def _decode(reader, batch_size, decoded, stop, errors, track=None):
    try:
        for batch in reader.batches(batch_size):
            # A transparent video's alpha goes around the network, as an image's does (src/images.py).
            batch, alpha = (batch[..., :3], batch[..., 3:]) if batch.shape[-1] == 4 else (batch, None)
            if not _put(decoded, (batch, track(batch) if track else None, alpha), stop):
                return
    except Exception as error:  # handed to the caller's thread, which raises it
        errors.append(error)
        stop.set()
        return
    _put(decoded, _END, stop)


def _encode(writer, stylized, stop, errors, blend=None):
    try:
        while (item := _get(stylized, stop)) is not _END:
            frames, motions, alpha = item
            frames = to_uint8(blend(frames, motions) if blend else frames)
            writer.write(frames if alpha is None else np.concatenate([frames, alpha], axis=-1))
    except Exception as error:  # handed to the caller's thread, which raises it
        errors.append(error)
        stop.set()


def _put(channel, item, stop):
    """Put unless the run stops first; True when put."""
    while not stop.is_set():
        try:
            channel.put(item, timeout=0.1)
            return True
        except queue.Full:
            pass
    return False


def _get(channel, stop):
    """The next item, or _END once the run stops."""
    while not stop.is_set():
        try:
            return channel.get(timeout=0.1)
        except queue.Empty:
            pass
    return _END
