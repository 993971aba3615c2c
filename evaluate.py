"""Stylize an image, or every image in a folder, with a trained style.

    python evaluate.py --checkpoint examples/models/udnie.keras --in-path photo.jpg --out-path out.jpg
    python evaluate.py --checkpoint data/original/wave.ckpt --in-path photos/ --out-path styled/
    python evaluate.py --sheet --in-path photo.jpg --out-path sheet.jpg   # every shipped style, labelled

The output has the input's size and the format of the out path's extension (in a folder, each
file keeps its name). Unreadable files are named and skipped; the exit status is then 1.
"""

import argparse
import sys

from src import cli
from src.memory import keep_freed_memory


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_model_arguments(parser)
    parser.add_argument(
        "--in-path",
        required=True,
        type=cli.local_file,
        help="an image, a folder of images, or a pattern in quotes such as 'photos/*.jpg'",
    )
    parser.add_argument(
        "--out-path", required=True, help="output image (its extension sets the format), or a folder"
    )
    parser.add_argument(
        "--sheet",
        action="store_true",
        help="a contact sheet instead: the photo of --in-path in every --checkpoint's style (a folder of "
        "models gives all of them; default: every model in examples/models), labelled, in one image",
    )
    parser.add_argument(
        "--sheet-size",
        type=cli.positive_int,
        default=512,
        help="with --sheet: the longer side of each picture, in pixels (default: %(default)s)",
    )
    parser.add_argument(
        "--sheet-columns", type=cli.positive_int, help="with --sheet: pictures per row (default: about square)"
    )
    parser.add_argument(
        "--allow-different-dimensions",
        action="store_true",
        help="accepted for compatibility with the original: folders of mixed sizes always work",
    )
    return parser


def main(argv=None):
    parser = build_parser()
    settings = settings_from_args(cli.parse_paths_and_flags(parser, argv))
    done_so_far = "the outputs written so far are complete, no partial file is left"
    return cli.run_interruptibly(lambda: _run(parser, settings), done_so_far)


def settings_from_args(args):
    from src.settings import ImageSettings

    return ImageSettings(
        in_path=args.in_path,
        out_path=args.out_path,
        model=cli.model_settings(args),
        sheet=args.sheet,
        sheet_size=args.sheet_size,
        sheet_columns=args.sheet_columns,
    )


def _run(parser, settings):
    if settings.sheet:
        return _sheet(parser, settings)
    from src.image_jobs import plan_jobs, run_jobs
    from src.images import unsearched_note
    from src.out_paths import OutPathError, takes_many

    try:
        jobs = plan_jobs(settings.in_path, settings.out_path)
    except OutPathError as error:
        parser.error(str(error))
    unsearched = unsearched_note(settings.in_path, "images")
    if unsearched:
        print(f"note: {unsearched}", file=sys.stderr)
    if not jobs:
        print(f"no files in {settings.in_path}", file=sys.stderr)
        return 1
    keep_freed_memory()  # each photo reuses what the last one freed (src/memory.py)
    stylizer = cli.stylizer_for(parser, settings.model)
    from src.devices import device_scope

    with device_scope(settings.model.device):
        failures = run_jobs(jobs, stylizer, settings.model.batch_size)
    target = jobs[0].target.parent if takes_many(settings.in_path) else jobs[0].target
    return cli.report_many(len(jobs), "image", target, failures)


def _sheet(parser, settings):
    """--sheet: the photo in every style, each through its own Stylizer, in one labelled grid."""
    from pathlib import Path

    cli.import_keras()  # before src.checkpoints: TensorFlow's start-up chatter kept quiet

    from src.images import ImageError, output_format, read_image, write_image
    from src.out_paths import OutPathError, check_folder, check_not_input, output_file
    from src.sheet import contact_sheet, fit_within, model_paths, sheet_cells, styles_of

    if settings.model.style_weights:
        parser.error("--sheet shows each style on its own: --style-weights does not apply")
    source = Path(settings.in_path)
    if not source.is_file():
        parser.error(f"--sheet takes one photo as --in-path, not {'a folder' if source.is_dir() else 'a missing file'}: {source}")
    try:
        # Into a folder, the sheet is named after the photo: photo_sheet.jpg.
        target = output_file(source.with_name(f"{source.stem}_sheet.jpg"), settings.out_path)
        check_not_input(target, source)
        output_format(target)
        check_folder(target.parent)
        paths = model_paths(settings.model.checkpoints or [cli.ROOT / "examples" / "models"])
        photo = fit_within(read_image(source).rgb, settings.sheet_size)
    except (ImageError, OutPathError, ValueError) as error:
        parser.error(str(error))
    options = cli.stylizer_options(parser, settings.model)
    styles = []
    for path in paths:
        model = cli.load_model(parser, path)
        styles += [(label, model, weights) for label, weights in styles_of(path, model)]
    cells = sheet_cells(photo, styles, options, progress=True)
    write_image(target, contact_sheet(cells, settings.sheet_columns))
    print(f"contact sheet of {len(cells) - 1} styles: {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    cli.exit_now(main())
