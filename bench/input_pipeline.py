"""Does decoding keep up with training? Decode rate of the training input pipeline
(src/training/dataset.py) against the time of one training step.

    python -m bench.input_pipeline                 # decode rate, 1/2/4 threads
    python -m bench.input_pipeline --step          # ... and the time of a training step
    python -m bench.input_pipeline --folder data/train2014 --step

Without --folder it writes COCO-like JPEGs (640 x 480, quality 90) into a temporary folder. The
step uses VGG19 at its real width with random weights (the real files are not needed to time
it), at --image-size and --batch-size. Decoding keeps up when the batches per second of the
decoding threads exceed the steps per second.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from src.training.dataset import TrainingImages


def synthetic_folder(folder, count):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:480, 0:640]
    for i in range(count):
        # Smooth shapes plus noise: compresses like a photo, not like static.
        base = np.sin(x / rng.uniform(20, 80) + i)[..., None] * rng.uniform(40, 120, 3) + 128
        noise = rng.normal(0, 12, (480, 640, 3))
        Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(folder / f"{i:05d}.jpg", quality=90)


def decode_rate(folder, size, batch_size, workers, batches):
    images = TrainingImages(folder, size, batch_size, seed=0, workers=workers)
    batches = min(batches, images.iterations_per_epoch)
    images.batch(0, batches)  # start the pool
    began = time.perf_counter()
    for iteration in range(1, batches):
        images.batch(iteration, batches)
    seconds = time.perf_counter() - began
    images.close()
    return (batches - 1) / seconds


def step_time(size, batch_size, steps=5):
    """Seconds per style.py training step (bench/train_step.py), after one to compile."""
    from bench.train_step import build_step
    from src import cli

    cli.import_keras()
    step, batch = build_step(batch_size, size)
    step(batch)
    began = time.perf_counter()
    for _ in range(steps):
        step(batch)
    return (time.perf_counter() - began) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, help="training images (default: synthetic JPEGs)")
    parser.add_argument("--images", type=int, default=96, help="synthetic images to write (default: %(default)s)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="threads (default: %(default)s)")
    parser.add_argument("--image-size", type=int, default=256, help="(default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=4, help="(default: %(default)s)")
    parser.add_argument("--step", action="store_true", help="also time a training step")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.folder
        if folder is None:
            folder = Path(temporary)
            synthetic_folder(folder, args.images)
        for workers in args.workers:
            batches = args.images // args.batch_size
            rate = decode_rate(folder, args.image_size, args.batch_size, workers, batches)
            print(f"decoding, {workers} thread(s): {rate:.1f} batches/s ({rate * args.batch_size:.0f} images/s)")
    if args.step:
        seconds = step_time(args.image_size, args.batch_size)
        shape = f"batch {args.batch_size} at {args.image_size}px"
        print(f"training step, {shape}: {seconds:.3f} s ({1 / seconds:.1f} steps/s)")


if __name__ == "__main__":
    main()
