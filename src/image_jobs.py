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

from src.images import ImageError, list_images, output_format, peek_size, read_image, write_image

# Decoded batches kept ready ahead of the network. Bounded, so memory stays bounded.
PREFETCH_BATCHES = 2


class UsageError(Exception):
    """Paths that cannot work at all (the run does not start)."""


@dataclass
class Job:
    source: Path
    target: Path


def plan_jobs(in_path, out_path):
    """(--in-path, --out-path) -> (jobs, notes). A file goes to a file, or into a folder under its
    own name; a folder goes into a folder under the same names. Inputs are never overwritten."""
    source, target = Path(in_path), Path(out_path)
    if not source.exists():
        raise UsageError(f"--in-path {source} does not exist")
    if source.is_dir():
        return _plan_folder(source, target)
    if target.is_dir() or str(out_path).endswith(os.sep):
        target = target / source.name
    try:
        output_format(target)
    except ImageError as error:
        raise UsageError(f"--out-path {error}") from None
    if _same_file(target, source):
        raise UsageError(f"--out-path {target} is the input itself (or a link to it); it is never overwritten")
    _check_folder(target.parent)
    return [Job(source, target)], []


def _plan_folder(source, target):
    if target.exists() and not target.is_dir():
        raise UsageError(f"--in-path is a folder, so --out-path must be a folder, but {target} is a file")
    if target.exists() and target.samefile(source):
        raise UsageError("--out-path is the input folder: the outputs would overwrite the inputs")
    _check_folder(target)
    jobs, notes = [], []
    paths = list_images(source)
    names = {path.name for path in paths}
    for path in paths:
        output = target / path.name
        try:
            output_format(output)
        except ImageError:
            # Formats Pillow reads but cannot write (PSD, ...) come out as PNG, under a name no
            # other input's output takes (x.psd beside x.png becomes x.psd.png).
            name = path.with_suffix(".png").name
            name = f"{path.name}.png" if name in names else name
            names.add(name)
            output = target / name
            notes.append(f"{path.name}: cannot write that format; writing {output.name}")
        if _same_file(output, path):
            raise UsageError(f"--out-path {output} is the input {path} (through a link); inputs are never overwritten")
        jobs.append(Job(path, output))
    return jobs, notes


def _same_file(a, b):
    """Whether two paths reach one file: through symbolic links, or hard links (same inode)."""
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def _check_folder(folder):
    """That `folder` exists or can be created, without creating it: a refused run leaves no new
    folders behind (the first write creates them, src/images.py)."""
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        if ancestor.is_symlink():
            raise UsageError(f"cannot create folder {folder}: {ancestor} is a link to nothing")
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"cannot create folder {folder}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"cannot create folder {folder}: {ancestor} is not writable")


def run_jobs(jobs, stylizer, batch_size=4, progress=True):
    """Stylize every job; returns [(source, reason)] for the inputs that failed."""
    from tqdm import tqdm

    failures = []
    bar = tqdm(total=len(jobs), unit="img", desc="stylizing", disable=not progress, file=sys.stderr)

    def fail(job, reason):
        failures.append((job.source, reason))
        bar.write(f"skipped {reason}", file=sys.stderr)
        bar.update(1)

    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        sized = []
        for job, size in zip(jobs, pool.map(_size_or_error, jobs)):
            if isinstance(size, ImageError):
                fail(job, str(size))
            else:
                sized.append((job, size))
        # The Stylizer knows how many images of a size fit one forward pass.
        batches = _batches_by_size(sized, lambda size: min(batch_size, stylizer.images_per_pass(*size)))

        decoded = [pool.submit(_decode, batch) for batch in batches[:PREFETCH_BATCHES]]
        writes = []
        for index in range(len(batches)):
            ready = decoded[index].result()
            decoded[index] = None  # release the pixels once used
            if index + PREFETCH_BATCHES < len(batches):
                decoded.append(pool.submit(_decode, batches[index + PREFETCH_BATCHES]))
            good = OrderedDict()
            for job, picture in ready:
                if isinstance(picture, ImageError):
                    fail(job, str(picture))
                else:
                    if picture.note:
                        bar.write(f"note: {picture.note}", file=sys.stderr)
                    # Grouped again by the decoded size: a damaged header can disagree with it.
                    good.setdefault(picture.size, []).append((job, picture))
            for group in good.values():
                stylized = stylizer(np.stack([picture.rgb for _, picture in group]))
                for (job, picture), rgb in zip(group, stylized):
                    writes.append((job, pool.submit(write_image, job.target, rgb, picture.alpha, picture.icc_profile)))
            writes = _finish_writes(writes, bar, fail, wait=len(writes) > 2 * batch_size)
        _finish_writes(writes, bar, fail, wait=True)
    bar.close()
    return failures


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
            results.append((job, read_image(job.source)))
        except ImageError as error:
            results.append((job, error))
    return results


def _finish_writes(writes, bar, fail, wait):
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
            bar.write(f"note: {warning}", file=sys.stderr)
        bar.update(1)
    return pending
