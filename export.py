"""Convert a checkpoint into a self-contained model file.

    python export.py --checkpoint data/original/la_muse.ckpt --format keras --out-path la_muse.keras

keras: the project's own format, which evaluate.py and transform_video.py load on any Keras
backend, TensorFlow or JAX, without the original's TF1 reader.
"""

import argparse
import sys
from pathlib import Path

from src import cli

FORMATS = ("keras",)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkpoint", required=True, help="any checkpoint evaluate.py accepts (.keras, a style.py directory, TF1 .ckpt)"
    )
    parser.add_argument("--format", choices=FORMATS, default="keras", help="output format (default: %(default)s)")
    parser.add_argument("--out-path", required=True, help="file to write")
    parser.add_argument("--name", help="style name stored in the model (default: the checkpoint's name)")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    out_path = Path(args.out_path)
    if args.format == "keras" and out_path.suffix != ".keras":
        parser.error(f"--out-path for --format keras must end in .keras, got {out_path}")
    model = cli.load_model(parser, args.checkpoint)
    if args.name:
        model.style_names = [args.name] if model.num_styles == 1 else model.style_names
    from src.checkpoints import save_model

    try:
        save_model(model, out_path)
    except OSError as error:
        parser.error(f"cannot write --out-path {out_path}: {error.strerror or error}")
    print(f"wrote {out_path} ({', '.join(model.style_names)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
