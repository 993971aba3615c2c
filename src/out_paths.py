"""Where an output goes, one rule for images and videos: an --out-path that is an existing folder,
or is written with a trailing separator, receives a file named like the input; an output is
never the input itself, through symbolic or hard links either; and a refused run creates no
folders (the first write does)."""

import os
import time
from pathlib import Path


class OutPathError(Exception):
    """An --out-path that cannot work: the run does not start."""


def output_file(source, out_path, suffix=None):
    """(input file, --out-path) -> the output file (see the module docstring), named with
    `suffix` in place of the input's extension where given; OutPathError when that is the input
    itself."""
    source, target = Path(source), Path(out_path)
    if into_folder(out_path):
        target = target / (source.with_suffix(suffix).name if suffix else source.name)
    check_not_input(target, source)
    return target


def new_file(folder, stem, suffix, now=None):
    """folder/stem_YYYYmmdd_HHMMSS.suffix, for outputs that have no input to be named after (a
    live recording): a new one each run, with _2, _3 ... where a run in the same second took it."""
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(now))
    target, count = Path(folder) / f"{stem}_{stamp}{suffix}", 1
    while target.exists():
        count += 1
        target = Path(folder) / f"{stem}_{stamp}_{count}{suffix}"
    return target


def no_extension(path, what, example):
    """What to tell of an --out-path without an extension, most likely a folder not there yet;
    `what` the extension would choose ("format"), `example` one that would do (".jpg")."""
    return f"{path}: no extension to choose the {what} by: give a file such as {path}{example}, or a folder as {path}/"


def into_folder(out_path):
    """Whether --out-path names a folder: an existing one, or one written with a trailing separator."""
    return Path(out_path).is_dir() or str(out_path).endswith(os.sep)


def check_not_input(target, source):
    if same_file(target, source):
        raise OutPathError(f"--out-path {target} is the input itself ({source}, or a link to it); it is never overwritten")


def same_file(a, b):
    """Whether two paths reach one file: through symbolic links, or hard links (same inode)."""
    try:
        return Path(a).exists() and Path(b).exists() and Path(a).samefile(b)
    except OSError:
        return False


def check_folder(folder):
    """That `folder` exists or can be created, without creating it."""
    folder = Path(folder)
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        if ancestor.is_symlink():
            raise OutPathError(f"cannot create folder {folder}: {ancestor} is a link to nothing")
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutPathError(f"cannot create folder {folder}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutPathError(f"cannot create folder {folder}: {ancestor} is not writable")
