"""Stroke size (--stroke-scale K): how large the strokes come out, and how sharp the result is
against a plain resize of the picture painted at 1/K.

    python -m bench.strokes                       # the shipped styles on examples/content
    python -m bench.strokes --scales 0.5 1 2 4 --styles wave

Stroke size: the wavelength of what the style paints (the result's luminance minus the photo's),
1 / its mean frequency weighted by gradient energy, in pixels: a measure of its texture scale. Sharpness: the luminance gradient energy of the result
relative to the photo's, and the correlation of its gradient magnitude with the photo's (how many
of the photo's edges survive), for src/strokes.py's detail restoration and for a plain bicubic
enlargement of the same painted picture. Writes a table (printed), results.json and strokes.jpg.
"""

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
STYLES = ("wave", "udnie", "the_scream", "the_shipwreck_of_the_minotaur")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--styles", nargs="+", default=list(STYLES), help="models in examples/models/ (default: the four)")
    parser.add_argument("--scales", nargs="+", type=float, default=[0.5, 1, 2, 3], help="stroke scales (default: %(default)s)")
    parser.add_argument("--photos", nargs="+", type=Path, default=sorted((ROOT / "examples/content").glob("*.jpg")))
    parser.add_argument(
        "--width", type=int, default=0, help="photos resized to this width first; 0 keeps them (default: %(default)s)"
    )
    parser.add_argument("--work", type=Path, default=ROOT / "bench/out/strokes", help="report folder (default: %(default)s)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from bench.quality import machine
    from src.cli import import_keras

    import_keras()
    from src import strokes
    from src.checkpoints import load_model
    from src.images import read_image
    from src.stylize import Stylizer

    args.work.mkdir(parents=True, exist_ok=True)
    photos = [_sized(read_image(path).rgb, args.width) for path in args.photos]
    rows, sample = [], {}
    for style in args.styles:
        model = load_model(ROOT / "examples/models" / f"{style}.keras")
        for scale in args.scales:
            stylizer = Stylizer(model, batch_size=1, precision="float32", stroke_scale=scale)
            plain_stylizer = Stylizer(model, batch_size=1, precision="float32")
            figures = {"wavelength": [], "energy": [], "edges": [], "plain_energy": [], "plain_edges": [], "seconds": []}
            for index, photo in enumerate(photos):
                started = time.perf_counter()
                ours = stylizer(photo[None])[0]
                figures["seconds"].append(time.perf_counter() - started)
                small = plain_stylizer(strokes.resample(photo, *strokes.working_size(*photo.shape[:2], scale))[None])[0]
                plain = np.clip(strokes.resample(small, *photo.shape[:2]), 0, 255)
                figures["wavelength"].append(stroke_wavelength(ours, photo))
                for name, picture in (("", ours), ("plain_", plain)):
                    figures[name + "energy"].append(gradient_energy(picture) / gradient_energy(photo))
                    figures[name + "edges"].append(edge_correlation(picture, photo))
                if index == 0:
                    sample[(style, scale)] = (ours, plain)
            row = {"style": style, "scale": scale, **{k: float(np.median(v)) for k, v in figures.items()}}
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    report = {"machine": machine(), "date": datetime.date.today().isoformat(), "width": args.width, "rows": rows}
    report["photos"] = [p.name for p in args.photos]
    (args.work / "results.json").write_text(json.dumps(report, indent=1))
    picture_sheet(photos[0], sample, args.styles[0], args.scales, args.work / "strokes.jpg")
    print(table(report))
    return 0


def _sized(rgb, width):
    """An enlarged photo has no fine detail for the style to add to: keep photos as they are."""
    from src.strokes import resample

    if not width:
        return rgb
    return resample(rgb, round(rgb.shape[0] * width / rgb.shape[1]), width)


def _luma(rgb):
    from src.strokes import luminance

    return luminance(rgb)[..., 0].astype(np.float64)


def stroke_wavelength(stylized, photo):
    """The style's texture scale in pixels: 1 / the mean frequency of what the style paints (the
    luminance of stylized - photo, Hann-windowed), each frequency weighted by its gradient energy
    (power x frequency squared), so that neither the slow colour shifts nor the finest pixel
    noise decide it alone."""
    residual = _luma(stylized) - _luma(photo)
    residual = (residual - residual.mean()) * np.outer(np.hanning(residual.shape[0]), np.hanning(residual.shape[1]))
    power = np.abs(np.fft.fft2(residual)) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(residual.shape[0]), np.fft.fftfreq(residual.shape[1]), indexing="ij")
    frequency = np.hypot(fy, fx)
    weight = power * frequency**2
    return float(1 / (np.sum(weight * frequency) / np.sum(weight)))


def _gradients(rgb):
    y = _luma(rgb)
    return np.diff(y, axis=0)[:, :-1], np.diff(y, axis=1)[:-1, :]


def gradient_energy(rgb):
    gy, gx = _gradients(rgb)
    return float(np.mean(gy**2 + gx**2))


def edge_correlation(picture, photo):
    """Correlation of gradient magnitudes: 1 when every edge of the photo is in the picture."""
    a, b = (np.hypot(*_gradients(image)).ravel() for image in (picture, photo))
    return float(np.corrcoef(a, b)[0, 1])


def picture_sheet(photo, sample, style, scales, path, crop=256):
    """The first photo's centre crop: the photo, then ours and the plain resize at each scale."""
    from src.sheet import contact_sheet

    top, left = (photo.shape[0] - crop) // 2, (photo.shape[1] - crop) // 2
    cut = (slice(top, top + crop), slice(left, left + crop))
    cells = [("photo", photo[cut])]
    for scale in scales:
        ours, plain = sample[(style, scale)]
        cells += [(f"{style} K={scale:g}", ours[cut]), (f"K={scale:g} plain resize", plain[cut])]
    from src.images import write_image

    write_image(path, contact_sheet(cells, columns=1 + 2 * len(scales) if len(scales) <= 2 else 2 * 2 + 1))


def table(report):
    lines = [
        f"Stroke scale, {report['date']}, {report['machine']}; photos {', '.join(report['photos'])} at "
        + (f"{report['width']} px wide" if report["width"] else "their own sizes")
        + "; medians over the photos.",
        "",
        "| style | K | stroke wavelength (px) | gradient energy / photo's: ours (plain resize) "
        "| edge correlation with the photo: ours (plain resize) | s per photo |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        lines.append(
            f"| {row['style']} | {row['scale']:g} | {row['wavelength']:.1f} | {row['energy']:.2f} ({row['plain_energy']:.2f}) "
            f"| {row['edges']:.2f} ({row['plain_edges']:.2f}) | {row['seconds']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
