"""Does style.py make art? Trains it with real VGG16 weights on real photos, then judges the
result on held-out photos beside the original's published model of the same painting and the
photo itself (src/training/metrics.py: content and style distance under a fixed VGG16 at layers that are
not the training layers).

    python -m bench.quality                       # wave, 27 epochs of BSDS500 train+val (2,025 iterations)
    python -m bench.quality --epochs 3 7 --flags "--style-weight 300" --work bench/out/quality/w300

Training goes through `style.py` itself, in stages: after each `--epochs` value the run's
model.keras is kept as a snapshot (training resumes from the checkpoint for the next stage, so a
stopped benchmark continues where it was). Prints a markdown table with the machine and date,
and writes into --work: contact_sheet.jpg (photos x models), losses.png (the loss curves from the
run's TensorBoard logs), results.json, and with --slow a Gatys optimisation of one photo.

Development data (../shared, never shipped, never a test): VGG16's ImageNet weights and the
BSDS500 photos (train + val to train on, test to judge on).
"""

import argparse
import datetime
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
MODEL_FILE = "model.keras"


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--style", type=Path, default=ROOT / "examples/style/wave.jpg", help="style image (default: %(default)s)")
    add(
        "--published",
        type=Path,
        default=SHARED / "original-checkpoints/wave.ckpt",
        help="the original's published model of the same painting (default: %(default)s)",
    )
    add("--vgg16", type=Path, default=SHARED / "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    add("--vgg-path", type=Path, help="the loss network style.py trains with (default: --vgg16)")
    add("--photos", type=Path, default=SHARED / "photos/bsds500", help="BSDS500: train/ val/ test/ (default: %(default)s)")
    add("--count", type=int, default=20, help="held-out test photos to judge on (default: %(default)s)")
    add("--epochs", type=int, nargs="*", default=[27], help="training stages, in epochs of --photos train+val")
    add("--flags", default="", help="more style.py flags, e.g. '--style-weight 300' (default: none)")
    add("--precision", default="auto", help="style.py --precision (default: %(default)s)")
    add("--work", type=Path, default=ROOT / "bench/out/quality/wave", help="run and report folder (default: %(default)s)")
    add("--models", nargs="*", default=[], help="more models to judge, NAME=CHECKPOINT")
    add("--slow", type=int, default=0, help="also run --slow (Gatys) for this many iterations on one photo")
    add("--blends", action="store_true", help="also judge the last model with --strength 0.25 0.5 0.75 and --preserve-color")
    add(
        "--mix",
        nargs=3,
        metavar=("CHECKPOINT", "STYLE1", "STYLE2"),
        help="only judge a two-style network's --style-weights 1-t t against both paintings",
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.mix:
        print(mix_table(args, *map(Path, args.mix)))
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    run_dir, snapshots = args.work / "run", args.work / "snapshots"
    train_folder = training_folder(args.photos, args.work / "train")
    train_stages(args, run_dir, snapshots, train_folder)
    models = {"photo (no style)": None, "published (original)": args.published}
    models.update({f"ours, {path.stem} iterations": path for path in sorted(snapshots.glob("*.keras"), key=_iterations)})
    models.update(dict(item.split("=", 1) for item in args.models))
    if args.blends and len(models) > 2:
        final = list(models.values())[-1]
        for strength in (0.25, 0.5, 0.75):
            models[f"last, --strength {strength}"] = (final, {"strength": strength})
        models["last, --preserve-color"] = (final, {"preserve_color": True})
    photos = test_photos(args.photos / "test", args.count)
    results = judge(args, models, photos)
    slow = run_slow(args, photos[0]) if args.slow else None
    sheet(photos[:4], results, args.work / "contact_sheet.jpg")
    loss_curves(run_dir / "logs", args.work / "losses.png")
    report = {"machine": machine(), "date": datetime.date.today().isoformat(), "style": str(args.style)}
    seconds = training_seconds(run_dir / "logs") if (run_dir / "logs").exists() else {}
    stages = {name.split(", ")[1].split()[0] for name in results if name.startswith("ours")}
    report.update(flags=args.flags, precision=args.precision, slow=slow)
    report["training_seconds"] = {it: round(seconds.get(int(it), 0.0), 1) for it in stages}
    report["results"] = {name: {k: v for k, v in r.items() if k != "pictures"} for name, r in results.items()}
    (args.work / "results.json").write_text(json.dumps(report, indent=1))
    print(table(report))
    return 0


def _iterations(path):
    return int(path.stem)


def training_folder(photos, folder):
    """A folder of links to BSDS500's train and val photos (style.py reads one folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        for photo in sorted((photos / split).glob("*.jpg")):
            link = folder / f"{split}_{photo.name}"
            if not link.exists():
                link.symlink_to(photo.resolve())
    return folder


def train_stages(args, run_dir, snapshots, train_folder):
    """style.py for each stage; run_dir/model.keras copied to snapshots/<iterations>.keras after each."""
    snapshots.mkdir(parents=True, exist_ok=True)
    for epochs in args.epochs:
        command = [
            sys.executable, str(ROOT / "style.py"), "--style", str(args.style), "--checkpoint-dir", str(run_dir),
            "--train-path", str(train_folder), "--vgg-path", str(args.vgg_path or args.vgg16),
            "--epochs", str(epochs), "--checkpoint-iterations", "500", "--precision", args.precision, "--seed", "1",
            *shlex.split(args.flags),
        ]  # fmt: skip
        print("$", shlex.join(command), file=sys.stderr, flush=True)
        subprocess.run(command, check=True, cwd=ROOT)
        iterations = epochs * (len(list(train_folder.iterdir())) // batch_size(args.flags))
        shutil.copyfile(run_dir / MODEL_FILE, snapshots / f"{iterations}.keras")


def training_seconds(logs):
    """{iteration: seconds of training up to it}, from the wall times of the run's TensorBoard
    scalars: the sum of the gaps between consecutive steps, so that pauses between resumed
    runs (gaps over 5 minutes, or a step counted again) do not count."""
    from tensorflow.python.summary.summary_iterator import summary_iterator

    times = {}
    for path in sorted(Path(logs).glob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime_ns):
        for event in summary_iterator(str(path)):
            if event.summary.value and not event.summary.value[0].tag.startswith("preview"):
                times[event.step] = event.wall_time
    seconds, total, previous = {}, 0.0, None
    for step in sorted(times):
        if previous is not None and 0 < times[step] - times[previous] < 300:
            total += (times[step] - times[previous]) * (step - previous)
        seconds[step], previous = total, step
    return seconds


def batch_size(flags):
    words = shlex.split(flags)
    return int(words[words.index("--batch-size") + 1]) if "--batch-size" in words else 4


def test_photos(folder, count):
    from src.images import read_image

    paths = sorted(folder.glob("*.jpg"))[:count]
    return [read_image(path).rgb for path in paths]


def judge(args, models, photos):
    """{name: checkpoint, (checkpoint, Stylizer options) or None} -> {name: {"content", "style"
    (mean, and per photo), "pictures"}}."""
    from src.checkpoints import load_model
    from src.images import read_image
    from src.training.metrics import Judge
    from src.stylize import Stylizer
    from src.training.vgg import load_vgg_weights

    judge = Judge(load_vgg_weights(args.vgg16), read_image(args.style).rgb)
    results = {}
    for name, checkpoint in models.items():
        checkpoint, options = checkpoint if isinstance(checkpoint, tuple) else (checkpoint, {})
        stylize = Stylizer(load_model(checkpoint), precision="float32", batch_size=1, **options) if checkpoint else None
        pictures = [stylize(photo[None])[0] if stylize else photo for photo in photos]
        scores = [judge.score(photo[None], picture[None]) for photo, picture in zip(photos, pictures)]
        content = [float(s["content"][0]) for s in scores]
        style = [float(s["style"][0]) for s in scores]
        results[name] = {
            "content": float(np.mean(content)),
            "style": float(np.mean(style)),
            "content_per_photo": content,
            "style_per_photo": style,
            "pictures": pictures[:4],
        }
        print(f"{name}: content {np.mean(content):.4f}, style {np.mean(style):.4f}", file=sys.stderr, flush=True)
    return results


def mix_table(args, checkpoint, first, second):
    """Style distance to each painting as --style-weights goes from the first style to the second."""
    from src.checkpoints import load_model
    from src.images import read_image
    from src.training.metrics import Judge
    from src.stylize import Stylizer
    from src.training.vgg import load_vgg_weights

    vgg, model = load_vgg_weights(args.vgg16), load_model(checkpoint)
    judges = [Judge(vgg, read_image(path).rgb) for path in (first, second)]
    photos = test_photos(args.photos / "test", args.count)
    lines = [
        f"Style mixing of {checkpoint} ({', '.join(model.style_names)}), {datetime.date.today()}, {machine()}; "
        f"{len(photos)} held-out photos, judge as in the quality table.",
        "",
        f"| --style-weights | style distance to {first.stem} | style distance to {second.stem} | content distance |",
        "|---|---|---|---|",
    ]
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        stylize = Stylizer(model, style_weights=[1 - t, t], precision="float32", batch_size=1)
        pictures = [stylize(photo[None]) for photo in photos]
        scores = [[judge.score(photo[None], picture) for judge in judges] for photo, picture in zip(photos, pictures)]
        to_first, to_second = (np.mean([s[i]["style"][0] for s in scores]) for i in (0, 1))
        content = np.mean([s[0]["content"][0] for s in scores])
        lines.append(f"| {1 - t:g} {t:g} | {to_first:.3f} | {to_second:.3f} | {content:.3f} |")
    return "\n".join(lines)


def run_slow(args, photo):
    """--slow on one test photo (256 px on its long side) with the same VGG16: the loss alone."""
    from src.images import resize
    from src.images import read_image, write_image
    from src.training.metrics import Judge
    from src.training.vgg import load_vgg_weights

    height, width = photo.shape[:2]
    scale = 256 / max(height, width)
    small = resize(photo, round(height * scale), round(width * scale))
    folder = args.work / "slow"
    folder.mkdir(exist_ok=True)
    write_image(folder / "photo.png", small)
    command = [
        sys.executable, str(ROOT / "style.py"), "--slow", "--style", str(args.style), "--test", str(folder / "photo.png"),
        "--test-dir", str(folder), "--vgg-path", str(args.vgg_path or args.vgg16), "--epochs", str(args.slow),
        "--checkpoint-iterations", str(args.slow), "--seed", "1", *shlex.split(args.flags),
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    picture = read_image(folder / f"slow_{args.slow}.png").rgb
    scores = Judge(load_vgg_weights(args.vgg16), read_image(args.style).rgb).score(small[None], picture[None])
    return {"iterations": args.slow, "seconds": round(seconds, 1), **{k: float(v[0]) for k, v in scores.items()}}


def sheet(photos, results, path, cell=240):
    """Rows: photos; columns: the models (the first column is the photo itself)."""
    from PIL import Image, ImageDraw

    from src.pixels import to_uint8

    names = list(results)
    canvas = Image.new("RGB", (cell * len(names), 24 + cell * len(photos) * 2 // 3), "white")
    draw = ImageDraw.Draw(canvas)
    for column, name in enumerate(names):
        draw.text((column * cell + 4, 6), name, fill="black")
        for row, picture in enumerate(results[name]["pictures"]):
            image = Image.fromarray(to_uint8(picture))
            image.thumbnail((cell - 4, cell * 2 // 3 - 4))
            canvas.paste(image, (column * cell + 2, 24 + row * cell * 2 // 3 + 2))
    canvas.save(path, quality=90)


def loss_curves(logs, path, size=(720, 360)):
    """The run's content, style and tv terms against the iteration, log scale, from TensorBoard."""
    from PIL import Image, ImageDraw

    series = read_scalars(logs)
    if not series:
        return
    canvas = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(canvas)
    colours = {"loss/content": "blue", "loss/style": "red", "loss/tv": "green", "loss/total": "black"}
    steps = [step for values in series.values() for step in values]
    last = max(steps) or 1
    for row, (tag, values) in enumerate(sorted(series.items())):
        points = sorted((s, v) for s, v in values.items() if v > 0)
        logs_ = np.log10([v for _, v in points])
        low, high = logs_.min(), max(logs_.max(), logs_.min() + 1e-6)
        xy = [
            (40 + (s / last) * (size[0] - 60), 20 + (1 - (y - low) / (high - low)) * (size[1] - 50))
            for (s, _), y in zip(points, logs_)
        ]
        draw.line(xy, fill=colours.get(tag, "gray"), width=1)
        draw.text((44 + 150 * row, size[1] - 20), f"{tag} {10**low:.3g}..{10**high:.3g}", fill=colours.get(tag, "gray"))
    draw.text((40, 4), f"losses per iteration (each scaled to its own log range), 0..{last}", fill="black")
    canvas.save(path)


def read_scalars(logs):
    """{tag: {step: value}} from every event file of the folder (the last value of a step wins)."""
    from tensorflow.python.summary.summary_iterator import summary_iterator

    series = {}
    for path in sorted(Path(logs).glob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime_ns):
        for event in summary_iterator(str(path)):
            for value in event.summary.value:
                series.setdefault(value.tag, {})[event.step] = value.simple_value
    return {tag: values for tag, values in series.items() if not tag.startswith("preview")}


def machine():
    from bench.run import cpu_class
    from bench.workers import cpu_name
    from src.devices import cpu_flags

    return f"{cpu_name()}, {os.cpu_count()} cores, CPU class {cpu_class(cpu_flags())}"


def table(report):
    lines = [
        f"Quality of {Path(report['style']).name}, {report['date']}, {report['machine']}; "
        f"style.py flags: {report['flags'] or '(defaults)'}, --precision {report['precision']}.",
        "Judge: VGG16 (ImageNet), style = relative Gram distance at relu1_2, relu2_2, relu3_3, relu4_3, relu5_3; "
        "content = relative feature distance at relu3_3; mean over the held-out photos.",
        "",
        "| model | style distance | content distance | training time |",
        "|---|---|---|---|",
    ]
    for name, result in report["results"].items():
        iterations = name.split(", ")[1].split()[0] if name.startswith("ours") else None
        cost = report["training_seconds"].get(iterations)
        lines.append(
            f"| {name} | {result['style']:.3f} | {result['content']:.3f} | {f'{cost / 60:.0f} min' if cost else ''} |"
        )
    if report["slow"]:
        slow = report["slow"]
        lines.append(
            f"\n--slow (Gatys) on one photo, {slow['iterations']} iterations, {slow['seconds']:.0f} s: "
            f"style {slow['style']:.3f}, content {slow['content']:.3f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
