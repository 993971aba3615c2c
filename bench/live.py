"""webcam.py --stabilize: how much it steadies the live students, what it costs their style, and
what it costs in frames per second.

    python -m bench.live                                   # the quarter-width students
    python -m bench.live --models wave_0.25 --strengths 0.3 0.5 --no-speed

Steadiness: the camera clips of bench/temporal.py (bench/camera.py: a still camera with sensor
noise, a pan, a zoom, a rotation; exact motion) at 640x480, each frame painted on its own and
through src/stabilize.py's FrameSteadier one frame at a time, as webcam.py runs it (the motion
measured on the frame shrunk to LIVE_FLOW_SIDE). Warping error x 1000 (Lai et al. 2018) and, in
brackets, the VGG16 style distance of every fourth frame (src/training/metrics.py, the judge from
../shared), so that a strength that blurs the strokes away shows. Speed: webcam.py --no-window
with bench/distill.py's 10 s, 60 frames/s pans as the camera, at 640x480 and 320x240,
`--stabilize 0` and each strength taking turns, medians.

Prints a markdown table (machine, date) and writes bench/out/live/results.json.
"""

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
MODELS = ROOT / "examples" / "models"
SIZES = ((640, 480), (320, 240))


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_models = ["wave_0.25", "udnie_0.25", "the_scream_0.25", "the_shipwreck_of_the_minotaur_0.25"]
    parser.add_argument("--models", nargs="+", default=default_models, help="in examples/models (default: %(default)s)")
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.3, 0.5], help="(default: %(default)s)")
    parser.add_argument("--frames", type=int, default=24, help="frames per camera clip (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="webcam.py runs per setting (default: %(default)s)")
    parser.add_argument("--no-speed", action="store_true", help="steadiness and style only")
    parser.add_argument("--vgg16", default=str(SHARED / "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"))
    parser.add_argument("--out", default=str(ROOT / "bench/out/live"), help="(default: %(default)s)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from bench.temporal import clip_error, machine, measure

    clips = camera_clips(args.frames)
    results = {}
    for name in args.models:  # a student's style image is its teacher's: wave_0.25 -> wave
        results[name] = measure(MODELS / f"{name}.keras", name.rsplit("_", 1)[0], clips, args, steadied)
    report = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "strengths": args.strengths,
        "floor": {clip.name: clip_error(clip, clip.frames) for clip in clips},
        "results": results,
    }
    if not args.no_speed:
        report["speed"] = speeds([MODELS / f"{name}.keras" for name in args.models], out, args)
    (out / "results.json").write_text(json.dumps(report, indent=1))
    print(table(report))
    return 0


def camera_clips(count, size=(480, 640)):
    """bench/temporal.py's four camera clips over examples/content/coffee.jpg, enlarged so that
    a 640x480 frame moves over it."""
    from bench import temporal
    from src.images import read_image, resize

    photo = read_image(ROOT / "examples/content/coffee.jpg").rgb
    scale = max((size[0] + 80) / photo.shape[0], (size[1] + 80) / photo.shape[1], 1.0)
    large = resize(photo, round(photo.shape[0] * scale), round(photo.shape[1] * scale))
    return temporal.camera_clips(large, size, count)


def steadied(frames, stylized, strength):
    """What webcam.py shows: FrameSteadier, one frame at a time."""
    from src.pixels import to_uint8
    from src.stabilize import FrameSteadier

    steadier = FrameSteadier(strength)
    try:
        painted = iter(stylized)
        return [to_uint8(steadier(frame, lambda _: next(painted).astype(np.float32))) for frame in frames]
    finally:
        steadier.close()


def speeds(checkpoints, out, args):
    """{model: {size: {setting: [median frames/s, median latency ms]}}}: webcam.py, the settings
    taking turns round by round, so that a slow phase of the machine falls on all of them."""
    from bench.distill import webcam, webcam_clip

    clips = {size: webcam_clip(out / f"pan_{size[0]}x{size[1]}.mp4", size) for size in SIZES}
    settings = [0.0, *args.strengths]
    figures = {}
    for checkpoint in checkpoints:
        runs = {f"{w}x{h}": {f"{s:g}": [] for s in settings} for w, h in SIZES}
        for _ in range(args.rounds):
            for (w, h), clip in clips.items():
                for strength in settings:
                    result = webcam(checkpoint, clip, "--stabilize", str(strength))
                    runs[f"{w}x{h}"][f"{strength:g}"].append(result)
                    print(f"{checkpoint.stem} {w}x{h} --stabilize {strength:g}: {result}", file=sys.stderr, flush=True)
        figures[checkpoint.stem] = {
            size: {s: [float(np.median([r[0] for r in rs])), float(np.median([r[1] for r in rs]))] for s, rs in by.items()}
            for size, by in runs.items()
        }
    return figures


def table(report):
    from bench.temporal import error_rows

    lines = [
        f"webcam.py --stabilize, {report['date']}, {report['machine']}.",
        "Warping error x 1000 (0..1 pixels; lower is steadier) and, in brackets, the VGG16 style distance.",
        "",
        *error_rows(report, "clip (640x480)"),
    ]
    if "speed" in report:
        settings = ["0", *(f"{s:g}" for s in report["strengths"])]
        lines += ["", "webcam.py frames/s (median latency, ms), --stabilize:", ""]
        lines.append("| model | size | " + " | ".join(settings) + " |")
        lines.append("|---|---|" + "---|" * len(settings))
        for model, sizes in report["speed"].items():
            for size, by in sizes.items():
                cells = [f"{by[s][0]:.1f} ({by[s][1]:.0f})" for s in settings]
                lines.append(f"| {model} | {size} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
