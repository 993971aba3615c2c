"""Training images: every file of a folder (COCO 2014 train by default), in an order that the
seed fixes per epoch, resized to a square as the original did, decoded by a pool of threads
ahead of the training step.

- Resizing: the original's scipy.misc.imresize(img, (256, 256, 3)), i.e. a plain bilinear resize
  of the whole 8-bit image to the square, aspect ratio not kept. Grayscale and other modes
  become RGB (src/images.py). A JPEG at least twice the square's side both ways (a phone's
  photo; not COCO's 640x480) is decoded at a half to an eighth of its size first, which gives
  the same square to within a level or so, in a twentieth of the time (bench/README.md).
- Batch i of an epoch holds files i*B ... i*B+B-1 of the epoch's order; as in the original, an
  epoch has (number of files) // B batches. An unreadable file is skipped and remembered, and
  its place is taken by the next readable file of the order, so every batch is full.
- A batch depends only on the seed, the iteration and the folder's sorted file list: a resumed
  run needs nothing but the iteration count to continue with the same images, and a batch can
  be asked for twice (Keras does, under tf.distribute) and comes out the same.
- `wait_seconds` counts the time the consumer waited for a decoded batch: near zero means the
  decoding keeps up with the training step.
"""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from src.images import ImageError, list_images, read_image, resize

# Batches being decoded ahead of the one asked for. Bounded, so memory stays bounded.
PREFETCH_BATCHES = 8


def readable_images(folder, needed):
    """How many of the folder's first files (sorted) are readable images, counting up to `needed`."""
    found = 0
    for path in list_images(folder):
        try:
            read_image(path, keep_8bit=True, at_least=64)  # whether it decodes, not its pixels: a small draft
        except ImageError:
            continue
        found += 1
        if found == needed:
            break
    return found


class TrainingImages:
    def __init__(self, folder, size, batch_size, seed, workers=None):
        self.folder, self.files = folder, list_images(folder)
        self.size, self.batch_size, self.seed = int(size), int(batch_size), int(seed)
        self.iterations_per_epoch = len(self.files) // self.batch_size
        self.skipped = {}  # path -> reason, each unreadable file once
        self.wait_seconds = 0.0
        self._pool = ThreadPoolExecutor(workers or max(2, min(8, os.cpu_count() or 2)), thread_name_prefix="decode")
        self._pending = {}  # iteration -> Future of its batch
        self._lock = threading.Lock()

    def order(self, epoch):
        """The epoch's file order: a permutation fixed by (seed, epoch)."""
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.files))

    def batch(self, iteration, stop):
        """The images (B, size, size, 3) float32 of step `iteration` (0-based, counted over all
        epochs); the following ones, up to `stop`, start decoding."""
        with self._lock:
            future = self._pending.pop(iteration, None) or self._pool.submit(self.load, iteration)
            for stale in [i for i in self._pending if not iteration < i <= iteration + PREFETCH_BATCHES]:
                self._pending.pop(stale).cancel()
            for ahead in range(iteration + 1, min(iteration + 1 + PREFETCH_BATCHES, stop)):
                if ahead not in self._pending:
                    self._pending[ahead] = self._pool.submit(self.load, ahead)
        started = time.perf_counter()
        images = future.result()
        self.wait_seconds += time.perf_counter() - started
        return images

    def load(self, iteration):
        """Decode step `iteration`'s batch now (see the module docstring)."""
        epoch, index = divmod(iteration, self.iterations_per_epoch)
        order = self.order(epoch)
        first = index * self.batch_size
        candidates = np.concatenate([order[first:], order[:first]])  # the batch's files, then the next ones
        images = []
        for file_index in candidates:
            path = self.files[file_index]
            if path in self.skipped:
                continue
            try:
                images.append(resize(read_image(path, keep_8bit=True, at_least=self.size).rgb, self.size, self.size))
            except ImageError as error:
                self.skipped[path] = str(error)
                continue
            if len(images) == self.batch_size:
                return np.stack(images)
        raise ImageError(f"{self.folder} no longer holds {self.batch_size} readable images")

    def close(self):
        with self._lock:
            for future in self._pending.values():
                future.cancel()
            self._pending.clear()
        self._pool.shutdown(wait=True)
