"""Frames of allocations through the C library's malloc, as a stylizing loop makes them; prints
the page faults of the last ten frames (tests/test_memory.py).

    python -m tests.in_subprocess.freed_memory keep|plain
"""

import ctypes
import resource
import sys

from src.memory import keep_freed_memory

if sys.argv[1] == "keep" and not keep_freed_memory():
    sys.exit("keep_freed_memory did not apply")
libc = ctypes.CDLL(None)
libc.malloc.argtypes, libc.malloc.restype = [ctypes.c_size_t], ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
# Pages of 4 KiB whatever the machine's transparent huge pages setting ("always" would back a
# fresh block with 2 MiB pages, a few faults where there are hundreds): PR_SET_THP_DISABLE.
if libc.prctl(41, 1, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_THP_DISABLE) failed")
# A frame's blocks: a few megabytes each, every page written, all freed at the frame's end.
SIZES = (3 << 20, 9 << 20, 5 << 20)


def frame():
    blocks = [libc.malloc(size) for size in SIZES]
    for block, size in zip(blocks, SIZES):
        ctypes.memset(block, 1, size)
    for block in blocks:
        libc.free(block)


frame()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    frame()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
