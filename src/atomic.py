"""Atomic writes: whatever is written appears at its final path complete, or not at all.

Every output of the project (images, videos, model files, training checkpoints, exports) is
written under a temporary name beside its destination, flushed to disk, and renamed over it: a
crash, a full disk or Ctrl-C leaves the previous file or nothing, never half a file.
"""

import contextlib
import hashlib
import os
import re
import shutil
from pathlib import Path

# A file name's limit on Linux, macOS and Windows file systems (bytes, in UTF-8).
NAME_MAX = 255
# Our temporaries' names: .NAME.PID.tmp, with the writer's suffix (.keras) where it insists.
_TEMPORARY = re.compile(r"\..+\.(\d+)\.tmp(?:\.[A-Za-z0-9]+)?")


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path beside `path` to write a file or a directory to; once the block
    ends without error it replaces `path`, otherwise it is removed. `suffix` keeps an extension
    that a writer insists on (Keras wants '.keras')."""
    path = Path(path)
    _clean_folder_once(path.parent)
    temporary = path.with_name(f".{_stem(path.name, suffix)}.{os.getpid()}.tmp{suffix}")
    try:
        yield temporary
        _fsync(temporary)
        _replace(temporary, path)
        _fsync_directory(path.parent)
    finally:
        _remove(temporary)


def remove_leftovers(path, suffix=""):
    """Delete what killed writers of `path` left (their temporaries, never a finished file).
    Only for a caller that knows no other writer is running (training holds a lock)."""
    for leftover in _temporaries(Path(path), suffix):
        _remove(leftover)


def remove_stale(path, suffix=""):
    """Delete the temporaries of `path` whose writing process is gone (killed with kill -9, or
    a power cut); another live process's temporary is left alone."""
    for leftover in _temporaries(Path(path), suffix):
        match = _TEMPORARY.fullmatch(leftover.name)
        if match and not _alive(int(match.group(1))):
            _remove(leftover)


# Folders whose dead writers' temporaries this process has removed: listing a folder on every
# write would make writing N files into one folder cost N listings of it.
_cleaned_folders = set()


def _clean_folder_once(folder):
    """Remove the temporaries (of any name) that dead processes left in `folder`, the first time
    this process writes there."""
    key = os.path.abspath(folder)
    if key in _cleaned_folders:
        return
    _cleaned_folders.add(key)
    try:
        leftovers = list(Path(folder).glob(".*.tmp*"))
    except OSError:
        return
    for leftover in leftovers:
        match = _TEMPORARY.fullmatch(leftover.name)
        if match and not _alive(int(match.group(1))):
            _remove(leftover)


def _temporaries(path, suffix):
    try:
        return list(path.parent.glob(f".{glob_escape(_stem(path.name, suffix))}.*.tmp{suffix}"))
    except OSError:  # the folder is not there yet, or not readable
        return []


def glob_escape(text):
    return re.sub(r"([*?\[])", r"[\1]", text)


def _stem(name, suffix):
    """The name part of a temporary: the name itself, or where `.name.PID.tmp` would pass the
    file system's limit, a cut name with a hash of the whole one (distinct names stay distinct)."""
    room = NAME_MAX - len(f"..{2**22}.tmp{suffix}".encode())
    raw = os.fsencode(name)  # the name's bytes on disk, which need not be UTF-8 (an old archive's)
    if len(raw) <= room:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:12]
    cut = raw[: room - len(digest) - 1].decode(errors="ignore")
    return f"{cut}~{digest}"


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


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
