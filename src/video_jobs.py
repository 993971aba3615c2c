"""Stylizing a video file: frames are decoded, stylized in batches and encoded as a stream.

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

import numpy as np

from src.pixels import to_uint8
from src.video import FrameReader, audio_arguments, writing

# Batches waiting on each side of the network.
QUEUE_BATCHES = 2
_END = object()


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
