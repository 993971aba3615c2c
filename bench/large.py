"""Peak memory and time of evaluate.py on very large photos (issue "Reliability", item 1).

    python -m bench.large                      # 12, 50, 150 and 360 megapixels (about 25 minutes on 2 cores)
    python -m bench.large --sizes 12 50        # some of them

Each photo is a JPEG made from examples/content (enlarged), or bench/run.py's of that size where
it made one (bench/out/inputs/12mp, 50mp), stylized by `evaluate.py` as a whole process with its
defaults; its peak resident memory is read with os.wait4 (bench/run.py measure_process). With
--compare FOLDER, each output is compared (PSNR) with FOLDER/<N>mp/photo0.jpg, for example
bench/run.py's outputs of an earlier version, to show that the picture did not change.
"""

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SIZES = {12: (4000, 3000), 50: (8192, 6144), 150: (15000, 10000), 360: (22000, 16364)}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(SIZES), choices=sorted(SIZES), help="(default: %(default)s)")
    parser.add_argument("--out", default=str(ROOT / "bench/out/large"), help="(default: %(default)s)")
    parser.add_argument("--compare", help="a folder of earlier outputs, named like ours, to compare with")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    results = {"date": datetime.date.today().isoformat(), "machine": machine(), "runs": {}}
    for megapixels in args.sizes:
        photo = ROOT / "bench/out/inputs" / f"{megapixels}mp" / "photo0.jpg"
        photo = photo if photo.exists() else make_photo(out / "in" / f"{megapixels}mp", SIZES[megapixels])
        styled = out / "styled" / f"{megapixels}mp" / "photo0.jpg"
        measured = run_evaluate(photo, styled)
        run = {"size": SIZES[megapixels], "seconds": measured["seconds"], "peak_rss": measured["peak_rss"]}
        run["seconds_per_megapixel"] = measured["seconds"] / (SIZES[megapixels][0] * SIZES[megapixels][1] / 1e6)
        earlier = Path(args.compare or "") / f"{megapixels}mp" / "photo0.jpg"
        if args.compare and earlier.exists():
            run["psnr_against_compare"] = psnr_files(styled, earlier)
        results["runs"][megapixels] = run
        print(f"{megapixels} MP: {run}", file=sys.stderr, flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print(table(results))
    return 0


def make_photo(folder, size):
    """A JPEG of `size` (width, height) from examples/content/coffee.jpg, made once."""
    from PIL import Image

    path = folder / "photo0.jpg"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        Image.MAX_IMAGE_PIXELS = None
        Image.open(ROOT / "examples/content/coffee.jpg").convert("RGB").resize(size, Image.BILINEAR).save(path, quality=92)
    return path


def run_evaluate(photo, styled):
    from bench.run import measure_process

    styled.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(ROOT / "evaluate.py"), "--in-path", str(photo), "--out-path", str(styled)]
    measured = measure_process(command)
    if measured["failure"]:
        raise RuntimeError(measured["failure"])
    return measured


def psnr_files(a, b):
    """PSNR in dB of two image files, read in stripes so that two 360-megapixel photos fit."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    first, second = Image.open(a), Image.open(b)
    if first.size != second.size:
        return float("nan")
    width, height = first.size
    total, step = 0.0, max(1, (1 << 24) // width)
    for top in range(0, height, step):
        box = (0, top, width, min(top + step, height))
        x, y = (np.asarray(image.crop(box), np.float64) for image in (first, second))
        total += np.sum((x - y) ** 2)
    error = total / (width * height * 3)
    return float("inf") if error == 0 else float(10 * np.log10(255.0**2 / error))


def machine():
    from bench.quality import machine as describe

    return describe()


def table(results):
    lines = [
        f"`evaluate.py` on very large photos, whole process, {results['date']}, {results['machine']}:",
        "",
        "| photo | time | per megapixel | peak memory | PSNR against the earlier outputs |",
        "|---|---|---|---|---|",
    ]
    for megapixels, run in results["runs"].items():
        width, height = run["size"]
        compare = run.get("psnr_against_compare")
        lines.append(
            f"| {width}x{height} ({megapixels} MP) | {run['seconds']:.0f} s | {run['seconds_per_megapixel']:.2f} s | "
            f"{run['peak_rss'] / 2**30:.2f} GiB | {'' if compare is None else f'{compare:.1f} dB'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
