"""Training throughput on a GPU, for the goal of the original's recipe (2 epochs of COCO 2014,
165,566 images at batch 4) in under 20 minutes on one H100, against its 4-6 hours on a Titan X.

    KERAS_BACKEND=jax python -m bench.gpu                      # on a machine with a GPU
    KERAS_BACKEND=jax python -m bench.gpu --size 64 --steps 2  # a smoke run anywhere

The GPU machines have JAX and no TensorFlow, so this runs style.py's own training step
(bench/train_step.py: src/training/objective.py with random VGG19 weights, Adam) on Keras' JAX
backend, with mixed precision by default. It prints images per second for each batch size and
the time the recipe would take at that rate.
"""

import argparse
import os
import sys
import time

# The original's recipe: 2 epochs over COCO 2014's 82,783 training images.
RECIPE_IMAGES = 2 * 82_783


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 16, 32], help="(default: %(default)s)")
    parser.add_argument("--size", type=int, default=256, help="training image side (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per batch size (default: %(default)s)")
    parser.add_argument(
        "--precision",
        choices=["mixed_bfloat16", "mixed_float16", "float32"],
        default="mixed_bfloat16",
        help="Keras dtype policy (default: %(default)s)",
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import jax
    import keras

    from bench.train_step import build_step

    print(
        f"backend {keras.backend.backend()}, devices {jax.devices()}, precision {args.precision}, {args.size}x{args.size}"
    )
    print("| batch | s/step | images/s | 2 epochs of COCO at this rate |")
    print("|---|---|---|---|")
    for batch_size in args.batch_sizes:
        step, batch = build_step(batch_size, args.size, args.precision)
        for _ in range(3):  # compile, then settle
            step(batch)
        start = time.perf_counter()
        for _ in range(args.steps):
            step(batch)  # returns a Python float: every step waits for the device
        seconds = (time.perf_counter() - start) / args.steps
        rate = batch_size / seconds
        print(f"| {batch_size} | {seconds:.4f} | {rate:.1f} | {RECIPE_IMAGES / rate / 60:.1f} min |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
