"""Where an output goes, one rule for images and videos: an --out-path that is an existing folder,
or is written with a trailing separator, receives a file named like the input; an output is
never the input itself, through symbolic or hard links either; and a refused run creates no
folders (the first write does). Also which files an --in-path pattern selects, and that several
inputs go into a folder."""

import glob
import os
import time
from pathlib import Path

# Wildcards in an --in-path that does not exist make it a pattern (glob.glob's).
PATTERN_CHARACTERS = "*?["


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
    """Whether --out-path names a folder: an existing one, or one written with a trailing separator
    (on Windows either: results/ as well as results\\)."""
    separators = tuple(sep for sep in (os.sep, os.altsep) if sep)
    return Path(out_path).is_dir() or str(out_path).endswith(separators)


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
        doing = f"cannot write into {folder}" if ancestor == folder else f"cannot create folder {folder}"
        raise OutPathError(f"{doing}: {ancestor} {'is on a read-only file system' if _read_only(ancestor) else 'is not writable'}")


def _read_only(folder):
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs on Windows
        return False


def is_pattern(in_path):
    """Whether --in-path is a pattern (photos/*.jpg): no such path, and wildcards in it."""
    return not Path(in_path).exists() and any(character in str(in_path) for character in PATTERN_CHARACTERS)


def takes_many(in_path):
    """Whether --in-path names several inputs, which go into a folder: a folder, or a pattern."""
    return Path(in_path).is_dir() or is_pattern(in_path)


def pattern_files(pattern):
    """The files a pattern matches, sorted: the shells of Windows pass one on as it is, as every
    shell passes a quoted one, so `--in-path "photos/*.jpg"` selects rather than fails.
    OutPathError where it matches nothing, or two files of one name, whose results would take
    one name (photos/*/a.jpg: 2024/a.jpg and 2025/a.jpg)."""
    paths = sorted(Path(path) for path in glob.glob(pattern) if Path(path).is_file())
    if not paths:
        raise OutPathError(f"--in-path {pattern} matches no file")
    seen = {}
    for path in paths:
        if path.name in seen:
            raise OutPathError(f"--in-path {pattern} matches {seen[path.name]} and {path}, whose results would take one name")
        seen[path.name] = path
    return paths


def check_folder_target(target, what, named_like_one, kind):
    """--out-path for several inputs (`what` --in-path is: "a folder", "a pattern") must be a
    folder, existing or to be made: OutPathError for a file, or for a name that
    `named_like_one` takes for one output of `kind` ("an image")."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise OutPathError(f"--in-path is {what}, so --out-path must be a folder, but {target} is a file")
    if not target.exists() and named_like_one(target):
        # A folder named like one output is a slip more often than a wish.
        raise OutPathError(
            f"--in-path is {what}, so --out-path must be a folder, but {target} is named like {kind}; "
            f"give a folder such as {target.with_suffix('')}/"
        )
    check_folder(target)
