"""How much of each teacher's picture is bound to the pixel grid, and how much of that its students
reproduce.

    python -m bench.grid                               # the four styles, 10 BSDS500 test photos
    python -m bench.grid --styles wave --count 4

The transform network downsamples twice by 2 and upsamples twice by 2, so it is the same
function of the photo only under moves by multiples of 4 pixels: moved by 1 or 2, a style can
paint its strokes elsewhere. For each photo, the network paints it at the 16 offsets (0..3
pixels down, 0..3 across); every picture is moved back onto the photo's grid and rounded to 8
bits. Reported, as PSNR in dB over the photos (mean), a border of --margin pixels left out:

- `move 1`, `move 2`, `move 4`: the teacher's picture at offset (0, 0) against the one at
  (0, 1), (0, 2) (columns) and the photo moved by 4 columns. The offsets are cut to one size:
  the "same" padding of a strided layer depends on whether a side is odd or even, so pictures of
  different sizes would move the grid by themselves;
- `grid-free`: the teacher's picture against the mean of its 16 (the part of it that a network
  painting every offset alike could never reproduce);
- per student: against the teacher's picture, against the teacher's grid-free mean, and its own
  16-offset mean against the teacher's (how well it paints what is not grid-bound).

Float32 throughout. Writes a table (printed) and results.json into --work. Development data
(../shared, never shipped, never a test): the photos.
"""

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

from bench.quality import SHARED, machine, test_photos
from bench.workers import psnr
from src.pixels import to_uint8

ROOT = Path(__file__).resolve().parent.parent
STYLES = ("wave", "udnie", "the_scream", "the_shipwreck_of_the_minotaur")
STRIDE = 4  # two stride-2 convolutions (src/transform.py)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--styles", nargs="+", default=list(STYLES), help="teachers in examples/models/ (default: all four)")
    add("--widths", nargs="+", type=float, default=[0.25, 0.5], help="their students' widths (default: %(default)s)")
    add("--photos", type=Path, default=SHARED / "photos/bsds500/test", help="held-out photos (default: %(default)s)")
    add("--count", type=int, default=10, help="photos used (default: %(default)s)")
    add("--margin", type=int, default=32, help="border left out of every comparison, pixels (default: %(default)s)")
    add("--work", type=Path, default=ROOT / "bench/out/grid", help="report folder (default: %(default)s)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not args.photos.is_dir():
        print(f"error: no photos at {args.photos} (the development data of ../shared)", file=sys.stderr)
        return 2
    from src.cli import import_keras

    import_keras()
    from src.checkpoints import load_model
    from src.stylize import Stylizer

    photos = test_photos(args.photos, args.count)
    rows = []
    for style in args.styles:
        names = [style] + [f"{style}_{width:g}" for width in args.widths]
        networks = {
            name: Stylizer(load_model(ROOT / "examples/models" / f"{name}.keras"), batch_size=1, precision="float32")
            for name in names
        }
        figures = {}
        for photo in photos:
            for key, value in compare(networks, style, photo.astype(np.float32), args.margin).items():
                figures.setdefault(key, []).append(value)
        row = {"style": style, **{key: float(np.mean(values)) for key, values in figures.items()}}
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
    report = {"machine": machine(), "date": datetime.date.today().isoformat(), "photos": len(photos), "rows": rows}
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "results.json").write_text(json.dumps(report, indent=1))
    print(table(report, args.widths))
    return 0


def offset_pictures(stylizer, photo):
    """The network's pictures of `photo` cut at the 16 offsets, each moved back onto the photo's grid:
    (H, W, 3) -> {(dy, dx): (H - 2*STRIDE, W - 2*STRIDE, 3)}, all covering the photo's pixels
    STRIDE .. H - STRIDE - 1 down and alike across."""
    height, width = photo.shape[0] - STRIDE, photo.shape[1] - STRIDE
    pictures = {}
    for dy in range(STRIDE):
        for dx in range(STRIDE):
            # its [i, j] is the photo's [i + dy, j + dx]
            painted = stylizer(photo[None, dy : dy + height, dx : dx + width])[0]
            pictures[dy, dx] = painted[STRIDE - dy : height - dy, STRIDE - dx : width - dx]
    return pictures


def compare(networks, teacher, photo, margin):
    """The figures of the module docstring for one photo."""
    inner = lambda picture: to_uint8(picture)[margin:-margin, margin:-margin]
    offsets = {name: offset_pictures(stylizer, photo) for name, stylizer in networks.items()}
    painted = offsets[teacher][0, 0]
    mean = lambda pictures: np.mean(list(pictures.values()), axis=0)
    grid_free = mean(offsets[teacher])
    moved = networks[teacher](photo[None, :, STRIDE:])[0]  # its column j is the photo's j + STRIDE
    figures = {
        "move 1": psnr(inner(painted), inner(offsets[teacher][0, 1])),
        "move 2": psnr(inner(painted), inner(offsets[teacher][0, 2])),
        "move 4": psnr(inner(painted), inner(moved[STRIDE:-STRIDE, : painted.shape[1]])),
        "grid-free": psnr(inner(painted), inner(grid_free)),
    }
    for name, pictures in offsets.items():
        if name != teacher:
            figures[f"{name} to teacher"] = psnr(inner(pictures[0, 0]), inner(painted))
            figures[f"{name} to grid-free"] = psnr(inner(pictures[0, 0]), inner(grid_free))
            figures[f"{name} grid-free to grid-free"] = psnr(inner(mean(pictures)), inner(grid_free))
    return figures


def table(report, widths):
    kinds = ("to teacher", "to grid-free", "grid-free to grid-free")
    head = ["style", "move 1", "move 2", "move 4", "grid-free"]
    head += [f"{width:g} {kind}" for width in widths for kind in kinds]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in report["rows"]:
        keys = ["move 1", "move 2", "move 4", "grid-free"]
        keys += [f"{row['style']}_{width:g} {kind}" for width in widths for kind in kinds]
        lines.append("| " + " | ".join([row["style"]] + [f"{row[key]:.1f}" for key in keys]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
