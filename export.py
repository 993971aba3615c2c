"""Export a model for other runtimes, or convert a checkpoint into the project's own format.

    python export.py --checkpoint examples/models/udnie.keras --format tflite --out-path udnie.tflite
    python export.py --checkpoint data/original/la_muse.ckpt --format keras --out-path la_muse.keras

keras: the project's own format, which evaluate.py and transform_video.py load on any Keras
backend without the original's TF1 reader. savedmodel, tflite, onnx: the model for TensorFlow
Serving, mobile (TFLite) or ONNX Runtime. They take `images`, float32 RGB 0..255 of shape
[1, H, W, 3] (any H and W, unless --size fixes them), plus `style_weights` [1, S] for a
multi-style network, and return `stylized`, float32 RGB 0..255 of the same size.
"""

import argparse
import sys

from src import cli
from src.export import FORMATS

EXTENSIONS = {"keras": ".keras", "tflite": ".tflite", "onnx": ".onnx"}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkpoint", required=True, help="any checkpoint evaluate.py accepts (.keras, a style.py directory, TF1 .ckpt)"
    )
    parser.add_argument("--format", choices=FORMATS, default="keras", help="output format (default: %(default)s)")
    parser.add_argument("--out-path", required=True, help="file to write (a directory for savedmodel)")
    parser.add_argument(
        "--size",
        nargs=2,
        type=cli.positive_int,
        metavar=("H", "W"),
        help="fix the input size, for runtimes that need a static shape (default: any size)",
    )
    parser.add_argument("--name", help="style name stored in a single-style .keras model (default: the checkpoint's name)")
    return parser


def main(argv=None):
    parser = build_parser()
    settings = settings_from_args(parser, parser.parse_args(argv))
    return cli.run_interruptibly(lambda: _run(parser, settings), f"nothing was written to {settings.out_path}")


def settings_from_args(parser, args):
    """ExportSettings from the flags; a usage error for flags that do not go together."""
    from src.settings import ExportSettings

    extension = EXTENSIONS.get(args.format)
    if extension and not args.out_path.endswith(extension):
        parser.error(f"--out-path for --format {args.format} must end in {extension}, got {args.out_path}")
    if args.size and args.format == "keras":
        parser.error("--size applies to savedmodel, tflite and onnx; a .keras model takes any size")
    if args.name and args.format != "keras":
        parser.error("--name is stored in .keras models only (--format keras)")
    size = tuple(args.size) if args.size else None
    return ExportSettings(args.checkpoint, args.out_path, format=args.format, size=size, name=args.name)


def _run(parser, settings):
    model = cli.load_model(parser, settings.checkpoint)
    check_not_the_checkpoint(parser, settings)
    if settings.name:
        if model.num_styles != 1:
            parser.error(f"--name names the style of a single-style model; this one has {model.num_styles}")
        model.style_names = [settings.name]
    from src.export import ExportError, export

    try:
        export(model, settings.format, settings.out_path, size=settings.size)
    except ExportError as error:
        print(f"export.py: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        parser.error(f"cannot write --out-path {settings.out_path}: {error.strerror or error}")
    print(f"wrote {settings.out_path} ({settings.format}: {', '.join(model.style_names)})", file=sys.stderr)
    return 0


def check_not_the_checkpoint(parser, settings):
    """The export never replaces the model it reads, however the paths are spelled or linked."""
    from pathlib import Path

    from src.checkpoints import locate

    source, target = Path(locate(settings.checkpoint)[1]), Path(settings.out_path)
    inputs = [source] if source.is_file() else list(source.parent.glob(f"{source.name}.*"))
    if target.exists() and any(target.samefile(path) for path in inputs if path.exists()):
        parser.error(f"--out-path {target} is the --checkpoint itself (or a link to it); it is never overwritten")


if __name__ == "__main__":
    sys.exit(main())
