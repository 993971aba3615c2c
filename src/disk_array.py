"""Whole-image buffers that live in a file instead of memory, for photos too large to hold the
tiler's intermediate layers (src/tiling.py) in memory.

A DiskArray is a float32 array (1, H, W, C) in an unnamed temporary file (deleted by the system
however the process ends, kill -9 included), read and written a range of rows at a time through
a short-lived memory map: only the rows in use are ever mapped, so the process's memory does not
grow with the photo. What was written sits in the page cache, which the system reclaims as it
needs (it is not the process's memory). The file's space is reserved when it is created, so a full
disk is an OSError then, never a crash (SIGBUS) halfway through.
"""

import os
import tempfile

import numpy as np


def scratch_folder():
    """Where the files go: FST_TMPDIR, else the system's temporary folder (TMPDIR)."""
    return os.environ.get("FST_TMPDIR") or tempfile.gettempdir()


class DiskArray:
    """Supports what the tiler does with its buffers: a[:, rows], a[:, rows, cols] (slices) to
    read (a copy) and to assign; shape, dtype, nbytes."""

    dtype = np.dtype(np.float32)

    def __init__(self, shape, folder=None):
        if len(shape) != 4 or shape[0] != 1:
            raise ValueError(f"a DiskArray holds one image (1, H, W, C), got {shape}")
        self.shape = tuple(int(n) for n in shape)
        self.nbytes = int(np.prod(self.shape)) * self.dtype.itemsize
        self._row_bytes = self.shape[2] * self.shape[3] * self.dtype.itemsize
        self._file = tempfile.TemporaryFile(dir=folder or scratch_folder(), prefix=".fst-buffer-")
        try:
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(self._file.fileno(), 0, max(self.nbytes, 1))
            else:
                self._file.truncate(self.nbytes)
        except OSError:
            self._file.close()
            raise

    def close(self):
        self._file.close()  # the file's space goes back to the disk now, not when collected

    def _rows(self, key):
        """(slice of rows, the rest of the index) from a[:, rows] or a[:, rows, cols]."""
        if not isinstance(key, tuple) or len(key) not in (2, 3) or key[0] != slice(None):
            raise IndexError(f"a DiskArray takes [:, rows] or [:, rows, cols], got {key!r}")
        start, stop, step = key[1].indices(self.shape[1])
        if step != 1:
            raise IndexError("a DiskArray reads contiguous rows")
        return start, max(start, stop), (slice(None), slice(None)) + tuple(key[2:])

    def _map(self, start, stop):
        return np.memmap(
            self._file, self.dtype, "r+", offset=start * self._row_bytes, shape=(1, stop - start, *self.shape[2:])
        )

    def __getitem__(self, key):
        start, stop, rest = self._rows(key)
        if stop == start:
            return np.empty((1, 0, *self.shape[2:]), self.dtype)[rest]
        view = self._map(start, stop)
        try:
            return np.array(view[rest])
        finally:
            del view  # unmapped: the rows leave the process's memory

    def __setitem__(self, key, value):
        start, stop, rest = self._rows(key)
        if stop == start:
            return
        view = self._map(start, stop)
        try:
            view[rest] = value
        finally:
            del view


def release(array):
    """Close a DiskArray (an ndarray needs nothing): the tiler and its callers hand buffers of
    either kind about."""
    if isinstance(array, DiskArray):
        array.close()
