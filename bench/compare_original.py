"""Does evaluate.py reproduce the original's stylization? For each TF1 checkpoint given, run
`python evaluate.py` on the example photos and compare its PNGs with the original's network run
the original's way (bench/tf1_reference.py: a tf.compat.v1 graph, one session, batch 1).

    python -m bench.compare_original ../shared/data/original-checkpoints/*.ckpt
    python -m bench.compare_original --precision auto ../shared/data/original-checkpoints/*.ckpt

Prints, per checkpoint and photo: the input size, the size the original would have written, the
largest difference in 8-bit levels, the share of pixels that differ at all, and the PSNR.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from bench.workers import psnr

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="the original's TF1 checkpoints")
    parser.add_argument("--photos", default=str(ROOT / "examples" / "content"), help="folder of photos (default: %(default)s)")
    parser.add_argument(
        "--precision",
        choices=("float32", "auto"),
        default="float32",
        help="evaluate.py's --precision: float32 (the original's) or auto (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    from src.cli import import_keras

    import_keras()  # TensorFlow's start-up chatter kept off the table
    from bench.tf1_reference import stylize as reference
    from src.checkpoints import read_original

    print(f"{'checkpoint':<12} {'photo':<14} {'input':>9} {'original':>9} {'max diff':>8} {'differ':>7} {'PSNR dB':>8}")
    with tempfile.TemporaryDirectory() as work:
        inputs = Path(work) / "in"
        inputs.mkdir()
        # Lossless copies, so that both sides read exactly the same pixels.
        photos = {}
        for photo in sorted(Path(args.photos).iterdir()):
            pixels = np.asarray(Image.open(photo).convert("RGB"))
            Image.fromarray(pixels).save(inputs / f"{photo.stem}.png")
            photos[f"{photo.stem}.png"] = pixels.astype(np.float32)
        for checkpoint in args.checkpoints:
            out = Path(work) / Path(checkpoint).stem
            subprocess.run(
                [sys.executable, str(ROOT / "evaluate.py"), "--checkpoint", checkpoint, "--precision", args.precision]
                + ["--in-path", inputs, "--out-path", out],
                check=True, capture_output=True,
            )
            arrays = read_original(checkpoint)
            for name, image in photos.items():
                ours = np.asarray(Image.open(out / name)).astype(np.int16)
                theirs = reference(arrays, image[None])[0]
                h, w = image.shape[:2]
                expected = np.clip(np.rint(theirs[:h, :w]), 0, 255).astype(np.int16)
                diff = np.abs(ours - expected)
                print(
                    f"{Path(checkpoint).stem:<12} {name:<14} {w:>4}x{h:<4} {theirs.shape[1]:>4}x{theirs.shape[0]:<4}"
                    f" {diff.max():>8} {np.mean(diff > 0):>7.2%} {psnr(ours, expected):>8.1f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
