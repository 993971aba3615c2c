"""The memory budget of a forward pass: how many whole images of a size one pass may take, and
when and in which tiles an image runs instead (src/tiling.py), from the memory the machine has
free, and whether a photo fits at all (a container's limit included). The one place these
figures live; `--tile-size` is checked here too. And how the C allocator keeps the memory a
stylizing loop frees (`keep_freed_memory`).
"""

import ctypes
import math
import os
import sys
from typing import NamedTuple

# Tiles smaller than this are mostly halo (the 9x9 convolutions read 4 pixels around each tile).
MIN_TILE_SIZE = 32
# Peak memory of one forward pass per image pixel, above the process's own, for the original's
# width, rounded up from the measured bfloat16 and float32 figures (float32 activations of 32
# channels at full resolution, several alive at once; bench/README.md)...
BYTES_PER_PIXEL = 600
# ... of which this much does not shrink with a slimmer network (the 3-channel images in and out
# and their float copies); the rest scales with its width (`bytes_per_pixel`).
FIXED_BYTES_PER_PIXEL = 72
# --tile-size 0 lets one forward pass use this share of the available memory, up to a cap.
MEMORY_SHARE = 0.25
# Whole images are fastest (src/tiling.py: tiles repeat the front and back layers), so images
# run whole up to this cap (3.5 megapixels at the original's width, 10.5 at a quarter)...
MAX_WHOLE_BYTES = 2 << 30
# ... and bigger ones in tiles whose passes take up to this, beside the tiler's whole-image
# buffers, so that a 12-megapixel photo stays within 3 GB whatever the machine has free
# (bench/run.py measures evaluate.py's peak).
MAX_TILE_BYTES = 512 << 20


# The tiler's whole-image buffers (src/tiling.py) per image pixel, float32: the residual stream
# and its two scratch copies (128 channels at 1/16 of the pixels, 32 bytes each) and the
# 3-channel output. Up to MAX_BUFFER_BYTES they are arrays in memory; beyond it, files
# (src/disk_array.py), so that memory does not grow with the photo.
BUFFER_BYTES_PER_PIXEL = 3 * 32 + 12
MAX_BUFFER_BYTES = 2 << 30
# What a tiled photo needs in memory besides its 8-bit input and output (3 bytes a pixel each):
# Pillow's copies while decoding or encoding (4 bytes a pixel each, up to two at a time) and the
# working set (TensorFlow, the model, tiles of up to MAX_TILE_BYTES).
CODEC_BYTES_PER_PIXEL = 8
WORKING_SET_BYTES = 3 << 29  # 1.5 GiB

# glibc's mallopt parameters (malloc.h), and the largest block it will serve from its heaps
# rather than map on its own (half of its 64 MiB heaps).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
LARGEST_HEAP_BLOCK = 32 << 20


class DoesNotFit(Exception):
    """A photo too large for this machine's memory or disk; the message says what it needs."""


def buffers_on_disk(height, width):
    """Whether a tiled height x width image keeps its whole-image buffers in files."""
    return height * width * BUFFER_BYTES_PER_PIXEL > MAX_BUFFER_BYTES


def check_fits(height, width, networks=1, folder=None):
    """DoesNotFit unless a tiled height x width image (`networks` models mixed) can be stylized:
    its 8-bit input and output and the working set in the available memory, its buffers on disk
    in `folder` (src/disk_array.py scratch_folder) when they go there."""
    import shutil

    from src import cgroups
    from src.disk_array import scratch_folder

    pixels = height * width
    megapixels = f"{width}x{height} ({pixels / 1e6:.0f} megapixels)"
    needed = pixels * (6 + CODEC_BYTES_PER_PIXEL) + WORKING_SET_BYTES
    # Here, unlike in the budgets above, a container's limit counts: where the machine has
    # memory to spare and the container does not, the kernel kills the process without a word.
    # (Budgets from the container's memory tiled photos that ran whole before, slower and
    # larger for the TensorFlow they load: bench/README.md.)
    machine, group = available_memory(), cgroups.available()  # group: 0 where the container's memory is all used
    available = machine if group is None else min(machine, group)
    if needed > available:
        raise DoesNotFit(f"{megapixels} needs about {needed / 2**30:.1f} GiB of memory; {available / 2**30:.1f} GiB is available")
    if buffers_on_disk(height, width):
        folder = folder or scratch_folder()
        disk = pixels * (BUFFER_BYTES_PER_PIXEL + 12 * (networks - 1))
        free = shutil.disk_usage(folder).free
        if disk > free:
            raise DoesNotFit(
                f"{megapixels} needs about {disk / 2**30:.1f} GiB of temporary disk space in {folder} "
                f"(FST_TMPDIR chooses the folder); {free / 2**30:.1f} GiB is free"
            )


def check_tile_size(tile_size):
    """0 (choose from free memory) or at least MIN_TILE_SIZE; ValueError otherwise."""
    tile_size = int(tile_size)
    if tile_size != 0 and tile_size < MIN_TILE_SIZE:
        raise ValueError(f"tile size must be 0 (automatic) or at least {MIN_TILE_SIZE}, got {tile_size}")
    return tile_size


class Plan(NamedTuple):
    batch: int  # images per forward pass
    tile: int | None  # tile side, or None for whole images
    whole_bytes: int  # the memory a whole-image pass may take


def bytes_per_pixel(network_width=1.0):
    """Peak bytes per image pixel of one forward pass of a TransformNet of this width (a
    fraction of the original's channels): its full-resolution layers hold most of it, so a
    quarter-width student runs whole on photos about three times as large, and a wider network
    is tiled sooner."""
    return math.ceil(FIXED_BYTES_PER_PIXEL + (BYTES_PER_PIXEL - FIXED_BYTES_PER_PIXEL) * network_width)


def plan(height, width, batch_size, tile_size=0, per_pixel=BYTES_PER_PIXEL):
    """How to run height x width images: whole, as many per pass as the budget holds (up to
    batch_size), or one at a time in tiles of tile_size (0: a side chosen from free memory).
    per_pixel: the network's `bytes_per_pixel`; tile_size N > 0 runs images up to N x N whole
    whatever it is."""
    available = available_memory()  # read once, so that the figures below agree
    side = tile_size or auto_tile_size(available, per_pixel)
    whole_bytes = whole_pass_bytes(tile_size, available, per_pixel)
    image_bytes = height * width * per_pixel
    if image_bytes > whole_bytes:
        return Plan(1, side, whole_bytes)
    return Plan(max(1, min(batch_size, whole_bytes // image_bytes)), None, whole_bytes)


def whole_pass_bytes(tile_size=0, available=None, per_pixel=BYTES_PER_PIXEL):
    """The memory one whole-image pass may take: a tile's worth for a given tile size, else
    MEMORY_SHARE of the available memory, capped at MAX_WHOLE_BYTES."""
    if tile_size:
        return tile_size**2 * per_pixel
    available = available_memory() if available is None else available
    return max(_budget(MAX_WHOLE_BYTES, available), auto_tile_size(available, per_pixel) ** 2 * per_pixel)


def auto_tile_size(available=None, per_pixel=BYTES_PER_PIXEL):
    """The side of tiles whose passes fit MEMORY_SHARE of the available memory (capped)."""
    available = available_memory() if available is None else available
    side = int(math.sqrt(_budget(MAX_TILE_BYTES, available) / per_pixel)) // 64 * 64
    return max(side, 4 * MIN_TILE_SIZE)


def _budget(cap, available):
    return min(int(MEMORY_SHARE * available), cap)  # whole bytes: batch counts are divided from it


def available_memory():
    """Bytes the system can give without swapping: MemAvailable on Linux, free pages elsewhere."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def keep_freed_memory():
    """Let glibc keep the blocks a stylizing loop frees, up to 32 MiB each, for the next frame.

    Every frame allocates and frees the same few megabytes (the frame, its float copies, the
    network's activations). glibc's thresholds adapt to the blocks it sees, yet with the mix a
    frame makes it still hands some back to the kernel, and the next frame pays for fresh zeroed
    pages: about 1,500 page faults a frame at 640x480 in webcam.py, up to a tenth of its frame
    rate (bench/README.md). Fixed thresholds keep them: the largest block glibc serves from its
    heaps, and twice that for the free memory it keeps, the pair its own adaptation would end at.
    The scripts that stylize call it when they start; returns whether it applied (glibc only).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # musl's mallopt exists but does nothing, and says so by returning 0.
    return mallopt(M_MMAP_THRESHOLD, LARGEST_HEAP_BLOCK) == 1 and mallopt(M_TRIM_THRESHOLD, 2 * LARGEST_HEAP_BLOCK) == 1
