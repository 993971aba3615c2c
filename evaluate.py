"""Stylize an image, or every image in a folder, with a trained style.

    python evaluate.py --checkpoint examples/models/udnie.keras --in-path photo.jpg --out-path out.jpg
    python evaluate.py --checkpoint data/original/wave.ckpt --in-path photos/ --out-path styled/

The output has the input's size and the format of the out path's extension (in a folder, each
file keeps its name). Unreadable files are named and skipped; the exit status is then 1.
"""

import argparse
import sys

from src import cli


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_model_arguments(parser)
    parser.add_argument("--in-path", required=True, help="an image, or a folder of images")
    parser.add_argument(
        "--out-path", required=True, help="output image (its extension sets the format), or a folder"
    )
    parser.add_argument(
        "--allow-different-dimensions",
        action="store_true",
        help="accepted for compatibility with the original: folders of mixed sizes always work",
    )
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    done_so_far = "the outputs written so far are complete, no partial file is left"
    return cli.run_interruptibly(lambda: _run(parser, args), done_so_far)


def _run(parser, args):
    from src.image_jobs import plan_jobs, run_jobs
    from src.out_paths import OutPathError

    try:
        jobs, notes = plan_jobs(args.in_path, args.out_path)
    except OutPathError as error:
        parser.error(str(error))
    if not jobs:
        print(f"no files in {args.in_path}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    stylizer = cli.stylizer_from_args(parser, args)
    from src.devices import device_scope

    with device_scope(args.device):
        failures = run_jobs(jobs, stylizer, args.batch_size)
    done = len(jobs) - len(failures)
    target = jobs[0].target if len(jobs) == 1 else jobs[0].target.parent
    print(f"stylized {done} of {len(jobs)} image{'s' if len(jobs) != 1 else ''} into {target}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} input{'s' if len(failures) != 1 else ''} failed:", file=sys.stderr)
        for source, reason in failures:
            print(f"  {reason}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    cli.exit_now(main())
