"""Atomic writes: whatever is written appears at its final path complete, or not at all.

Every output of the project (images, videos, model files, training checkpoints, exports) is
written under a temporary name beside its destination, flushed to disk, and renamed over it: a
crash, a full disk or Ctrl-C leaves the previous file or nothing, never half a file.
"""

import contextlib
import os
import shutil
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path beside `path` to write a file or a directory to; once the block
    ends without error it replaces `path`, otherwise it is removed. `suffix` keeps an extension
    that a writer insists on (Keras wants '.keras')."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp{suffix}")
    try:
        yield temporary
        _fsync(temporary)
        _replace(temporary, path)
        _fsync_directory(path.parent)
    finally:
        _remove(temporary)


def remove_leftovers(path, suffix=""):
    """Delete what killed writers of `path` left (their temporaries, never a finished file)."""
    path = Path(path)
    for leftover in path.parent.glob(f".{path.name}.*.tmp{suffix}"):
        _remove(leftover)


def _fsync(path):
    if path.is_dir():
        for child in path.rglob("*"):
            if child.is_file():
                _fsync(child)
        return
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_directory(directory):
    """A rename survives a power cut only once its directory is synced too."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms that cannot open directories
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _replace(temporary, path):
    if not (temporary.is_dir() and path.is_dir()):
        os.replace(temporary, path)
        return
    # A directory cannot be renamed over a non-empty one: move the old one aside first. The
    # destination is missing for an instant but never holds a mix of old and new files.
    old = path.with_name(f".{path.name}.{os.getpid()}.old")
    os.replace(path, old)
    os.replace(temporary, path)
    shutil.rmtree(old, ignore_errors=True)


def _remove(path):
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
