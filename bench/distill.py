"""Slim students for real time: distills each shipped style at the given widths through
`style.py --distill-from` on BSDS500's train+val photos, then measures every student beside its
teacher: multiply-adds, seconds per 1024x680 photo, frames per second at 640x480 and 320x240
(the network alone, and webcam.py end to end from a 60 frames/s clip as the camera), PSNR against
the teacher and style distance under the VGG16 judge on held-out photos (BSDS500 test).

    python -m bench.distill                                   # train what is missing, then measure
    python -m bench.distill --styles wave --widths 0.25 --epochs 20 --ship

--ship copies each student to examples/models/<style>_<width>.keras. Writes into --work a
markdown table (also printed), results.json and distilled.jpg (photo, teacher, students).
Development data (../shared, never shipped, never a test): the photos and the VGG16 judge.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from bench.quality import SHARED, machine, test_photos, training_folder
from bench.workers import network_gflop, psnr
from src.pixels import to_uint8

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "examples" / "models"
STYLES = ("wave", "udnie", "the_scream", "the_shipwreck_of_the_minotaur")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--styles", nargs="+", default=list(STYLES), help="teachers in examples/models/ (default: all four)")
    add("--widths", nargs="+", type=float, default=[0.25, 0.5], help="student widths, trained in this order (default: %(default)s)")
    add("--epochs", type=int, default=20, help="style.py --epochs over BSDS500 train+val (default: %(default)s)")
    add(
        "--final-epochs",
        type=int,
        default=4,
        help="of those, the last ones at a fifth of the learning rate (a resumed run; default: %(default)s)",
    )
    add("--learning-rate", type=float, default=1e-2, help="of the first stage (default: %(default)s)")
    add(
        "--texture-weight",
        type=float,
        default=0.0,
        help="then refine each student (style.py --start-from) with this --style-weight against the teacher's "
        "Gram matrices at relu1_2, relu2_2, relu3_3 of the VGG16 of --vgg16, at a tenth of the last rate "
        "(0: no such stage; default: %(default)s)",
    )
    add("--texture-epochs", type=int, default=2, help="epochs of that stage (default: %(default)s)")
    add("--photos", type=Path, default=SHARED / "photos/bsds500", help="BSDS500: train/ val/ test/")
    add("--vgg16", type=Path, default=SHARED / "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    add("--count", type=int, default=20, help="held-out photos for PSNR and style distance (default: %(default)s)")
    add("--work", type=Path, default=ROOT / "bench/out/distill", help="runs and report (default: %(default)s)")
    add("--ship", action="store_true", help="copy the students into examples/models/")
    add("--no-train", action="store_true", help="measure the students already in --work")
    add("--no-measure", action="store_true", help="train only")
    add("--no-speed", action="store_true", help="measure fidelity only (PSNR, style distance), not speed")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args.work.mkdir(parents=True, exist_ok=True)
    # Width-major, so that the real-time (narrowest) students of every style come first.
    runs = {(style, width): args.work / f"{style}_{width:g}" for width in args.widths for style in args.styles}
    refined = {key: directory.with_name(directory.name + "_texture") for key, directory in runs.items()}
    students = refined if args.texture_weight else runs
    # Training seconds per student, kept beside the runs so that a stopped bench resumes where it was.
    timings = args.work / "training_seconds.json"
    seconds = json.loads(timings.read_text()) if timings.exists() else {}
    if not args.no_train:
        folder = training_folder(args.photos, args.work / "train")
        for (style, width), directory in runs.items():
            teacher = MODELS / f"{style}.keras"
            rate = args.learning_rate
            stages = ((args.epochs - args.final_epochs, rate), (args.epochs, rate / 5))
            spent = [distill(teacher, ["--width", f"{width:g}"], directory, folder, e, r) for e, r in stages]
            if args.texture_weight:
                texture = [
                    "--start-from", str(directory / "model.keras"), "--vgg-path", str(args.vgg16), "--content-weight", "0",
                    "--style-weight", f"{args.texture_weight:g}", "--style-layers", "relu1_2", "relu2_2", "relu3_3",
                ]  # fmt: skip
                spent.append(distill(teacher, texture, refined[style, width], folder, args.texture_epochs, rate / 50))
            seconds[f"{style}_{width:g}"] = seconds.get(f"{style}_{width:g}", 0.0) + sum(spent)
            timings.write_text(json.dumps(seconds, indent=1))
            if args.ship:
                ship(students[style, width], style, width)
    elif args.ship:
        for (style, width), directory in students.items():
            ship(directory, style, width)
    if args.no_measure:
        return 0
    report = {"machine": machine(), "date": datetime.date.today().isoformat(), "epochs": args.epochs}
    report.update(final_epochs=args.final_epochs, learning_rate=args.learning_rate)
    report.update(texture_weight=args.texture_weight, texture_epochs=args.texture_epochs if args.texture_weight else 0)
    report["training_seconds"] = seconds
    photos = test_photos(args.photos / "test", args.count)
    report["rows"], pictures = measure(args, students, photos)
    report["webcam_clip"] = "60 frames/s pan over examples/content/coffee.jpg, 10 s"
    (args.work / "results.json").write_text(json.dumps(report, indent=1))
    side_by_side(photos[:2], pictures, args.work / "distilled.jpg")
    print(table(report))
    return 0


def ship(directory, style, width):
    """The student's final checkpoint -> examples/models/<style>_<width>.keras (atomic)."""
    target = MODELS / f"{style}_{width:g}.keras"
    shutil.copyfile(directory / "model.keras", target.with_suffix(".tmp"))
    os.replace(target.with_suffix(".tmp"), target)


def distill(teacher, student, directory, folder, epochs, learning_rate):
    """style.py --distill-from with the `student` flags into `directory` (resumed when there) ->
    this run's training seconds."""
    command = [
        sys.executable, str(ROOT / "style.py"), "--distill-from", str(teacher), *student,
        "--train-path", str(folder), "--checkpoint-dir", str(directory), "--epochs", str(epochs),
        "--checkpoint-iterations", "500", "--seed", "1", "--learning-rate", f"{learning_rate:g}",
    ]  # fmt: skip
    print("$", " ".join(command), file=sys.stderr, flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"style.py failed: {done.stderr[-800:]}")
    match = re.search(r"(\d+) iterations in ([\d.]+) s", done.stderr)
    return float(match.group(2)) if match else 0.0


def measure(args, students, photos):
    """One row per teacher and per student, and {name: two pictures} for the sheet."""
    from src.checkpoints import load_model
    from src.images import read_image
    from src.stylize import Stylizer
    from src.training.metrics import Judge
    from src.training.vgg import load_vgg_weights

    vgg = load_vgg_weights(args.vgg16)
    sizes = () if args.no_speed else ((640, 480), (320, 240))
    clips = {size: webcam_clip(args.work / f"pan_{size[0]}x{size[1]}.mp4", size) for size in sizes}
    rows, pictures = [], {}
    for style in args.styles:
        judge = Judge(vgg, read_image(ROOT / "examples/style" / f"{style}.jpg").rgb)
        teacher_path = MODELS / f"{style}.keras"
        entries = [(f"{style}", teacher_path, None)]
        entries += [(f"{style}_{w:g}", d, w) for (s, w), d in students.items() if s == style]
        reference = None
        for name, path, width in entries:
            model = load_model(path)
            stylizer = Stylizer(model, batch_size=1)
            painted = [stylizer(photo[None])[0] for photo in photos]
            if reference is None:  # the teacher's, first
                reference = painted
            row = {"name": name, "width": width or 1.0, "gmac_per_megapixel": network_gflop(1000, 1000, model) / 2}
            row["psnr"] = float(np.mean([psnr(to_uint8(a), to_uint8(b)) for a, b in zip(reference, painted)]))
            row["style"] = float(np.mean([judge.score(p[None], q[None])["style"][0] for p, q in zip(photos, painted)]))
            rows.append(row)
            pictures[name] = painted[:2]
        paths = [path for _, path, _ in entries]
        for row, path, figures in zip(rows[-len(entries) :], paths, speeds(paths, sizes)):
            row.update(figures)
            row.update({f"webcam_{w}x{h}": webcam(path, clip) for (w, h), clip in clips.items()})
            print(row, file=sys.stderr, flush=True)
    return rows, pictures


def speeds(paths, sizes):
    """Each model through the Stylizer alone: seconds per 1024x680 photo and frames/s at each of
    `sizes` (bench/workers.py speeds), in a process of its own that has run nothing before, as a
    camera or a video runs: one that had painted the test photos ran the slim networks up to 30%
    slower at times (bench/README.md). No sizes (--no-speed): no figures."""
    from bench.run import measure_process, worker_command, worker_result

    if not sizes:
        return [{} for _ in paths]
    command = worker_command("speeds", models=[str(path) for path in paths], sizes=[list(size) for size in sizes])
    measured = measure_process(command)
    if measured["failure"]:
        raise RuntimeError(measured["failure"])
    return worker_result(measured)["figures"]


def webcam_clip(path, size, seconds=10, rate=60):
    """A pan over examples/content/coffee.jpg at `size`, `rate` frames/s, as H.264."""
    from bench.camera import Pose, render
    from src.images import read_image, resize
    from src.video_probe import ffmpeg_exe

    if path.exists():
        return path
    width, height = size
    photo = read_image(ROOT / "examples/content/coffee.jpg").rgb
    scale = max((height + 80) / photo.shape[0], (width + 160) / photo.shape[1])
    large = resize(photo, round(photo.shape[0] * scale), round(photo.shape[1] * scale)).astype(np.float32)
    cy, cx, count = (large.shape[0] - 1) / 2, (large.shape[1] - 1) / 2, seconds * rate
    command = [ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}"]
    command += ["-r", str(rate), "-i", "pipe:0", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", str(path)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE)
    for t in range(count):
        process.stdin.write(render(large, Pose(cx - 70 + 140 * t / count, cy), (height, width)).tobytes())
    process.stdin.close()
    if process.wait() != 0:
        raise RuntimeError(f"ffmpeg could not write {path}")
    return path


def webcam(checkpoint, clip, *flags):
    """webcam.py --no-window on `clip` as the camera -> (frames/s, median latency ms). Each frame
    painted on its own (`--stabilize 0`, as before webcam.py steadied its frames) unless `flags`
    say otherwise."""
    command = [sys.executable, str(ROOT / "webcam.py"), "--checkpoint", str(checkpoint), "--camera", str(clip)]
    flags = flags or ("--stabilize", "0")
    done = subprocess.run([*command, "--no-window", *flags], cwd=ROOT, capture_output=True, text=True)
    match = re.search(r"([\d.]+) frames/s, latency median (\d+) ms", done.stderr)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"webcam.py failed: {done.stderr[-800:]}")
    return [float(match.group(1)), int(match.group(2))]


def side_by_side(photos, pictures, path, cell=220):
    """Rows: photo x style; columns: photo, teacher, students."""
    from PIL import Image, ImageDraw

    styles = [name for name in pictures if not re.search(r"_[\d.]+$", name)]
    columns = 1 + max(sum(1 for n in pictures if n == s or n.startswith(f"{s}_") and n[len(s) + 1 :][0].isdigit()) for s in styles)
    rows = [(photo, style, index) for style in styles for index, photo in enumerate(photos)]
    canvas = Image.new("RGB", (cell * columns, cell * len(rows) * 2 // 3 + 20), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (photo, style, index) in enumerate(rows):
        names = [style] + sorted((n for n in pictures if n.startswith(f"{style}_") and n[len(style) + 1 :][0].isdigit()), reverse=True)
        cells = [("photo", photo)] + [(n, pictures[n][index]) for n in names]
        top = 20 + r * cell * 2 // 3
        for c, (label, picture) in enumerate(cells):
            image = Image.fromarray(to_uint8(picture))
            image.thumbnail((cell - 4, cell * 2 // 3 - 18))
            canvas.paste(image, (c * cell + 2, top + 14))
            draw.text((c * cell + 4, top), label if c else "", fill="black")
    draw.text((4, 4), "photo | teacher | width 0.5 | width 0.25", fill="black")
    canvas.save(path, quality=90)


def table(report):
    lines = [
        f"Distilled students, {report['date']}, {report['machine']}; {report['epochs']} epochs of BSDS500 train+val "
        f"(300 photos, batch 4), the last {report['final_epochs']} at a fifth of the learning rate.",
        "PSNR against the teacher and style distance (VGG16 judge) on held-out BSDS500 test photos; speed: the "
        "network through the Stylizer, and webcam.py end to end with a 60 frames/s clip as the camera.",
        "",
        "| model | GMAC / MP | s per 1024x680 | frames/s 640x480 | frames/s 320x240 | webcam.py 640x480 (latency) "
        "| webcam.py 320x240 (latency) | PSNR to teacher | style distance | distill time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        cost = report["training_seconds"].get(row["name"])
        speed = "| | | | | "  # --no-speed
        if "photo_seconds" in row:
            large, small = row["webcam_640x480"], row["webcam_320x240"]
            speed = (
                f"| {row['photo_seconds']:.3f} | {row['fps_640x480']:.1f} | {row['fps_320x240']:.1f} "
                f"| {large[0]:.1f} ({large[1]} ms) | {small[0]:.1f} ({small[1]} ms) "
            )
        lines.append(
            f"| {row['name']} | {row['gmac_per_megapixel']:.1f} {speed}"
            f"| {'teacher' if row['width'] == 1 else '%.1f dB' % row['psnr']} | {row['style']:.3f} "
            f"| {f'{cost / 60:.0f} min' if cost else ''} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
