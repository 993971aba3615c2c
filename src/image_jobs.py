"""Stylizing image files: which input goes to which output, and a pipeline that decodes ahead,
batches images of the same size, and encodes behind, so the network is rarely idle.

Bad inputs never stop the run: each is reported by name and skipped, and the caller gets the
list of failures to choose its exit status.
"""

import os
import sys
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from src.images import (
    ImageError,
    list_images,
    named_like_an_image,
    output_format,
    peek_size,
    read_image,
    writable_suffix,
    write_image,
)
from src.memory import DoesNotFit
from src.out_paths import (
    OutPathError,
    check_folder,
    check_folder_target,
    check_not_input,
    into_folder,
    is_pattern,
    output_file,
    pattern_files,
)
from src.video_probe import VIDEO_SUFFIXES

# Decoded batches kept ready ahead of the network. Bounded, so memory stays bounded.
PREFETCH_BATCHES = 2


@dataclass
class Job:
    source: Path
    target: Path
    note: str = ""  # said once the source has been read as an image: a text file gets no note


def plan_jobs(in_path, out_path):
    """(--in-path, --out-path) -> jobs. A file goes to a file, or into a folder under its own
    name; a folder, or a pattern such as photos/*.jpg, goes into a folder under the same names.
    Inputs are never overwritten."""
    source = Path(in_path)
    if is_pattern(in_path):
        return _plan_many(pattern_files(str(in_path)), Path(out_path), "a pattern")
    if not source.exists():
        raise OutPathError(f"--in-path {source} does not exist")
    if source.is_dir():
        return _plan_folder(source, Path(out_path))
    if source.suffix.lower() in VIDEO_SUFFIXES:
        raise OutPathError(f"--in-path {source} is a video: transform_video.py stylizes videos")
    suffix = _fallback_suffix(source) if into_folder(out_path) else None  # a named out path is the user's
    target = output_file(source, out_path, suffix)
    note = _fallback_note(source, target) if suffix else ""
    try:
        output_format(target)
    except ImageError as error:
        raise OutPathError(f"--out-path {error}") from None
    check_folder(target.parent)
    return [Job(source, target, note)]


def _plan_folder(source, target):
    if target.is_dir() and target.samefile(source):
        raise OutPathError("--out-path is the input folder: the outputs would overwrite the inputs")
    return _plan_many(list_images(source), target, "a folder")


def _plan_many(paths, target, what):
    """Jobs for `paths` into the folder `target`, each under its own name; `what`: what --in-path
    is, for the messages."""
    check_folder_target(target, what, named_like_an_image, "an image")
    jobs = []
    names = {path.name for path in paths}
    for path in paths:
        output, note = target / path.name, ""
        suffix = _fallback_suffix(path)
        if suffix:
            # Under a name no other input's output takes (x.psd beside x.png becomes x.psd.png).
            name = path.with_suffix(suffix).name
            name = f"{path.name}{suffix}" if name in names else name
            names.add(name)
            output = target / name
            note = _fallback_note(path, output)
        check_not_input(output, path)
        jobs.append(Job(path, output, note))
    return jobs


def _fallback_suffix(path):
    """The extension of path's result where Pillow reads its format but cannot write it (HEIF,
    PSD, ...: src/images.py writable_suffix), else None."""
    suffix = writable_suffix(path)
    return suffix if suffix != path.suffix.lower() else None


def _fallback_note(source, output):
    return f"{source.name}: cannot write that format; writing {output.name}"


def run_jobs(jobs, stylizer, batch_size=4, progress=True, stop=None, note=None):
    """Stylize every job; returns [(source, reason)] for the inputs that failed. stop: an Event
    (app.py's Stop); once set, no further batch starts, and what was stylized is written. note:
    takes what is said of an input that was stylized (an animation's first frame, a format
    written as another); default, a line under the progress bar."""
    from tqdm import tqdm

    failures = []
    bar = tqdm(total=len(jobs), unit="img", desc="stylizing", disable=not progress, file=sys.stderr)
    note = note or (lambda text: bar.write(f"note: {text}", file=sys.stderr))

    def fail(job, reason):
        failures.append((job.source, reason))
        bar.write(f"skipped {reason}", file=sys.stderr)
        bar.update(1)

    # The pool finishes the writes under way, then the bar ends its line: before the message of
    # a Ctrl-C, which otherwise came out in the middle of the bar.
    with bar, ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        sized = []
        for job, size in zip(jobs, pool.map(_size_or_error, jobs)):
            if isinstance(size, ImageError):
                fail(job, str(size))
                continue
            try:  # before any decoding: a photo too large for this machine is named, not an OOM kill
                stylizer.check_fits(*size)
            except DoesNotFit as error:
                fail(job, f"{job.source}: too large for this machine: {error}")
                continue
            sized.append((job, size))
        # The Stylizer knows how many images of a size fit one forward pass.
        batches = _batches_by_size(sized, lambda size: min(batch_size, stylizer.images_per_pass(*size)))

        decoded = [pool.submit(_decode, batch) for batch in batches[:PREFETCH_BATCHES]]
        writes = []
        for index in range(len(batches)):
            if stop is not None and stop.is_set():
                break
            ready = decoded[index].result()
            decoded[index] = None  # release the pixels once used
            if index + PREFETCH_BATCHES < len(batches):
                decoded.append(pool.submit(_decode, batches[index + PREFETCH_BATCHES]))
            good = OrderedDict()
            for job, picture in ready:
                if isinstance(picture, ImageError):
                    fail(job, str(picture))
                else:
                    for text in (job.note, picture.note):
                        if text:
                            note(text)
                    # Grouped again by the decoded size: a damaged header can disagree with it.
                    good.setdefault(picture.size, []).append((job, picture))
            for size, group in good.items():
                stylized = _stylize(stylizer, [picture.rgb for _, picture in group], size, progress)
                for (job, picture), rgb in zip(group, stylized):
                    writes.append((job, pool.submit(write_image, job.target, rgb, picture.alpha, picture.icc_profile)))
            writes = _finish_writes(writes, bar, fail, note, wait=len(writes) > 2 * batch_size)
        _finish_writes(writes, bar, fail, note, wait=True)
    return failures


def _stylize(stylizer, pixels, size, progress):
    """A batch of same-size images through the Stylizer; a photo that is tiled gets a progress
    bar of its own (it can take minutes)."""
    from tqdm import tqdm

    if len(pixels) > 1 or not stylizer.tiles(*size):
        return stylizer(np.stack(pixels))
    megapixels = size[0] * size[1] / 1e6
    label = f"{megapixels:.1f}" if megapixels < 10 else f"{megapixels:.0f}"
    with tqdm(total=100, unit="%", desc=f"{label} MP photo", leave=False, disable=not progress, file=sys.stderr) as bar:
        return stylizer(pixels[0][None], progress=lambda done: bar.update(int(done * 100) - bar.n))


def _size_or_error(job):
    try:
        return peek_size(job.source)
    except ImageError as error:
        return error


def _batches_by_size(sized_jobs, batch_size):
    """Group same-size images (first-seen order), then cut each group into batches of
    batch_size(size) images: photos too big for one forward pass are decoded one at a time, so
    the images decoded ahead stay within memory too."""
    groups = OrderedDict()
    for job, size in sized_jobs:
        groups.setdefault(size, []).append(job)
    batches = []
    for size, group in groups.items():
        count = batch_size(size)
        batches += [group[i : i + count] for i in range(0, len(group), count)]
    return batches


def _decode(batch):
    results = []
    for job in batch:
        try:
            results.append((job, read_image(job.source, keep_8bit=True)))  # float32 per batch, later
        except ImageError as error:
            results.append((job, error))
    return results


def _finish_writes(writes, bar, fail, note, wait):
    """Collect finished writes (all of them when wait); returns those still running."""
    pending = []
    for job, future in writes:
        if not wait and not future.done():
            pending.append((job, future))
            continue
        try:
            warning = future.result()
        except ImageError as error:
            fail(job, str(error))
            continue
        if warning:
            note(warning)
        bar.update(1)
    return pending
