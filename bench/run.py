"""Speed and memory of Fast Style Transfer against the original's design, on this machine, in one
run: prints a table (medians of several runs) and writes it with the raw figures to bench/out/.

    python bench/run.py            # about 25 minutes on 2 cores; take it on a quiet machine
    python bench/run.py --quick    # a smoke run of every measurement, about 3 minutes

Every figure is set beside the reference: the same network built as a TF1 graph with
tf.compat.v1 (placeholders, one session, no XLA; bench/tf1_reference.py), run the original's
way, in the same run. Each measurement runs in a process of its own (bench/workers.py), so its
peak memory (peak resident set size) is its own; the evaluate.py and transform_video.py rows time
the whole process, start-up included. Inputs are made from examples/content.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
MODEL = "wave"
SECTIONS = ("stylize", "evaluate", "video", "training", "fidelity", "tiling", "large")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="one repeat of everything and no large photos: a smoke run"
    )
    parser.add_argument("--no-large", action="store_true", help="skip the 12- and 50-megapixel memory runs")
    parser.add_argument("--out", default=str(OUT), help="folder for inputs and results (default: %(default)s)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SECTIONS,
        help="measure only these parts again, keeping the last run's other figures (results.json)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="print the table of the last run's results.json again, measuring nothing",
    )
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.only or args.report_only) and not (Path(args.out) / "results.json").exists():
        # The table needs every part: --only re-measures some parts of an earlier full run.
        parser.error(f"no earlier run in {args.out} (results.json): run bench/run.py without --only or --report-only first")
    bench = Bench(Path(args.out), quick=args.quick, large=not (args.quick or args.no_large), only=args.only)
    if args.report_only:
        bench.report_again()
    else:
        bench.run()
    return 0


class Bench:
    def __init__(self, out, quick, large, only=None):
        self.out, self.quick, self.large = out, quick, large
        self.sections = set(only or SECTIONS)
        self.repeats = 1 if quick else 5
        self.process_repeats = 1 if quick else 3
        self.results = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "quick": quick}

    def report_again(self):
        """Print the table of the last run's results.json again (after editing report())."""
        self.results = json.loads((self.out / "results.json").read_text())
        print(report(self.results))

    def run(self):
        self.out.mkdir(parents=True, exist_ok=True)
        if self.sections != set(SECTIONS):  # --only: main() checked that an earlier run is there
            kept = json.loads((self.out / "results.json").read_text())
            self.results = {**kept, "remeasured": sorted(self.sections), "remeasured_at": self.results["started"]}
        self.results["load_before"] = os.getloadavg()
        # OpenVINO's converted models go to a cache of this run's, empty at the start, so that
        # the first evaluate.py run is a user's first run (src/engines.py).
        shutil.rmtree(self.out / "cache", ignore_errors=True)
        os.environ["FST_CACHE_DIR"] = str(self.out / "cache")
        sizes = {"photos": (1024, 680, 6), "large": (2000, 1500, 1)}
        if self.large:
            sizes.update({"12mp": (4000, 3000, 1), "50mp": (8192, 6144, 1)})
        frames = 8 if self.quick else 48
        self.inputs = self.worker(
            "prepare", out=str(self.out / "inputs"), photo_sizes=sizes, frames=frames, models=[MODEL]
        )
        self.results["machine"] = self.worker("machine")
        part = self.sections.__contains__
        if part("stylize"):
            self.stylization()
        if part("evaluate"):
            self.evaluate_folder()
        if part("video"):
            self.video(frames)
        if part("training"):
            self.training()
        if part("fidelity"):
            self.results["fidelity"] = self.worker("fidelity", folder=self.inputs["photos"], count=1 if self.quick else 3)
        if part("tiling"):
            self.results["tiling"] = self.worker(
                "tiling",
                photo=str(Path(self.inputs["large"]) / "photo0.jpg"),
                tile_sizes=[0, 512] if self.quick else [0, 896, 512],
            )
        if self.large and part("large"):
            self.large_photos()
        (self.out / "results.json").write_text(json.dumps(self.results, indent=1))
        text = report(self.results)
        print(text)
        (self.out / "results.md").write_text(text)

    def engines(self):
        """Our rows: "ours" (--engine auto), then each other installed engine on its own."""
        machine = self.results["machine"]
        others = [e for e in machine.get("engines", ["tensorflow"]) if e != machine["engine_auto"]]
        return ["ours", *(f"ours_{engine}" for engine in others)]

    def stylization(self):
        for batch in (1, 4):
            for impl in (*self.engines(), "reference"):
                self.results[f"stylize_b{batch}_{impl}"] = self.worker(
                    "stylize", impl=impl, folder=self.inputs["photos"], batch=batch, repeats=self.repeats
                )

    def evaluate_folder(self):
        checkpoint = ROOT / "examples" / "models" / f"{MODEL}.keras"
        photos = self.inputs["photos"]
        ours = [sys.executable, "evaluate.py", "--checkpoint", str(checkpoint), "--in-path", photos, "--out-path"]
        reference = [sys.executable, "-m", "bench.workers", "reference_evaluate"]
        runs = {impl: [] for impl in (*self.engines(), "reference")}
        # The first run converts the model into the empty cache (OpenVINO); the timed runs
        # after it are every later run of a user's.
        first = self.process([*ours, str(self.out / "styled" / "ours")])
        self.results["evaluate_ours_first_run"] = summarize([first])
        for i in range(self.process_repeats):
            for impl in self.engines():
                engine = [] if impl == "ours" else ["--engine", impl.removeprefix("ours_")]
                runs[impl].append(self.process([*ours, str(self.out / "styled" / impl), *engine]))
            arguments = {
                "in_dir": photos,
                "out_dir": str(self.out / "styled" / "reference"),
                "weights": self.inputs[f"weights_{MODEL}"],
            }
            runs["reference"].append(self.process([*reference, json.dumps(arguments)]))
        for impl, measured in runs.items():
            self.results[f"evaluate_{impl}"] = summarize(measured)

    def video(self, frames):
        for impl in (*self.engines(), "reference"):
            self.results[f"video_{impl}"] = self.worker(
                "video",
                impl=impl,
                folder=self.inputs["frames"],
                frames=frames,
                batch=4,
                repeats=max(1, self.repeats // 2),
            )
        # transform_video.py as a whole process, start-up included, against the original's flow
        # (bench.workers.reference_transform_video), medians of the repeats.
        checkpoint = ROOT / "examples" / "models" / f"{MODEL}.keras"
        clip = self.inputs["video"]
        command = [sys.executable, "transform_video.py", "--checkpoint", str(checkpoint), "--in-path", clip]
        reference = {"video": clip, "out_path": str(self.out / "styled" / "clip_reference.mp4")}
        reference["weights"] = self.inputs[f"weights_{MODEL}"]
        commands = {
            "transform_video_ours": [*command, "--out-path", str(self.out / "styled" / "clip.mp4")],
            "transform_video_ours_per_frame": [*command, "--out-path", str(self.out / "styled" / "clip.mp4"), "--stabilize", "0"],
            "transform_video_reference": [sys.executable, "-m", "bench.workers", "reference_transform_video", json.dumps(reference)],
        }
        for impl in self.engines()[1:]:
            engine = impl.removeprefix("ours_")
            commands[f"transform_video_{impl}"] = [*commands["transform_video_ours"], "--engine", engine]
        runs = {key: [] for key in commands}
        for _ in range(self.process_repeats):
            for key, argv in commands.items():
                runs[key].append(self.process(argv, check=False))
        for key, measured in runs.items():
            failed = [run["failure"] for run in measured if run["failure"]]
            self.results[key] = {"failure": failed[0]} if failed else summarize(measured)
            if not failed:
                self.results[key]["fps"] = frames / self.results[key]["seconds"]

    def training(self):
        repeats = self.repeats
        runs = [("ours", "float32"), ("ours", "mixed_bfloat16"), ("reference", "float32")]
        if self.results["machine"]["training_precision_auto"] == "float32":
            # Without bfloat16 instructions it is emulated, many times slower, and style.py's
            # --precision auto never picks it (src/devices.py).
            runs.remove(("ours", "mixed_bfloat16"))
        for impl, precision in runs:
            key = f"train_{impl}" + ("" if impl == "reference" else f"_{precision}")
            self.results[key] = self.worker("train", impl=impl, repeats=repeats, precision=precision)

    def large_photos(self):
        checkpoint = ROOT / "examples" / "models" / f"{MODEL}.keras"
        for name in ("12mp", "50mp"):
            command = [sys.executable, "evaluate.py", "--checkpoint", str(checkpoint), "--in-path", self.inputs[name]]
            self.results[f"evaluate_{name}_ours"] = self.process(
                [*command, "--out-path", str(self.out / "styled" / name)]
            )
        arguments = {
            "in_dir": self.inputs["12mp"],
            "out_dir": str(self.out / "styled" / "12mp_reference"),
            "weights": self.inputs[f"weights_{MODEL}"],
        }
        self.results["evaluate_12mp_reference"] = self.process(worker_command("reference_evaluate", **arguments))

    def worker(self, name, **arguments):
        measured = self.process(worker_command(name, **arguments))
        result = worker_result(measured)
        result["peak_rss"] = measured["peak_rss"]
        return result

    def process(self, command, check=True):
        """Run a command from the repository root -> wall seconds, peak RSS (bytes), stdout,
        and its error when it failed; a failure ends the benchmark when `check`."""
        print(
            f"bench: {' '.join(c if len(c) < 60 else c[:57] + '...' for c in command[1:])}", file=sys.stderr, flush=True
        )
        measured = measure_process(command)
        if measured["failure"] and check:
            sys.exit(f"bench: {measured['failure']}")
        return measured


def worker_command(name, **arguments):
    """The command that runs bench/workers.py's `name` with these keyword arguments."""
    return [sys.executable, "-m", "bench.workers", name, json.dumps(arguments)]


def worker_result(measured):
    """A worker's measure_process -> the dict its `RESULT {json}` line carries (bench/workers.py)."""
    return json.loads(measured["stdout"].split("RESULT ", 1)[1])


def measure_process(command):
    """Run a command from the repository root -> {"seconds" (wall), "peak_rss" (bytes, its own),
    "stdout", "failure" (None, or what it printed when it failed)}."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr, text=True)
        # os.wait4 rather than wait(): it returns this child's own resource usage.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read(), stderr.read()
    failure = None if child.returncode == 0 else f"{' '.join(command)} failed ({child.returncode}):\n{errors[-3000:]}"
    return {"seconds": seconds, "peak_rss": usage.ru_maxrss * 1024, "stdout": output, "failure": failure}


def summarize(runs):
    seconds = sorted(run["seconds"] for run in runs)
    return {"seconds": seconds[len(seconds) // 2], "runs": seconds, "peak_rss": max(run["peak_rss"] for run in runs)}


# --- the report -------------------------------------------------------------------------------


def cpu_class(flags):
    """The class a speed figure holds for: what the arithmetic units can do."""
    for flag, name in (("amx_bf16", "AMX"), ("avx512_bf16", "AVX512-BF16, no AMX"), ("avx512f", "AVX-512 without bfloat16")):
        if flag in flags:
            return name
    return "AVX2"


def report(results):
    machine = results["machine"]
    lines = [
        f"# Fast Style Transfer benchmark, {results['started']}"
        + (" (--quick: smoke run, not for quoting)" if results["quick"] else ""),
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB; "
        f"flags {' '.join(machine['flags'])}; Python {machine['python']}, TensorFlow {machine['tensorflow']}, "
        f"Keras {machine['keras']}, NumPy {machine['numpy']}. Load average over the minute before the run: "
        f"{results['load_before'][0]:.2f} (above ~0.5 something else was running: rerun on a quiet machine).",
        f"Measured matmul peak (4096x4096, TensorFlow/oneDNN): float32 {machine['matmul_gflops']['float32']:.0f} GFLOP/s, "
        f"bfloat16 {machine['matmul_gflops']['bfloat16']:.0f} GFLOP/s. The network costs "
        f"{machine['network_gflop_1024x680']:.0f} GFLOP (convolutions) at 1024x680. CPU class: {cpu_class(machine['flags'])}; "
        f"our precision: {machine['precision_auto']}, engine: {machine.get('engine_auto', 'tensorflow')}.",
        "",
        "| measurement | ours | reference (TF1 graph) | ours vs reference | peak memory ours | peak memory reference |",
        "|---|---|---|---|---|---|",
    ]

    def row(label, ours, reference, unit, higher_is_better=False, digits=2):
        o, r = ours["value"], reference["value"]
        ratio = (o / r) if higher_is_better else (r / o)
        lines.append(
            f"| {label} | {o:.{digits}f} {unit} | {r:.{digits}f} {unit} | **{ratio:.2f}x** {'faster' if ratio >= 1 else 'slower'} "
            f"| {gb(ours['peak_rss'])} | {gb(reference['peak_rss'])} |"
        )

    def seconds(key):
        return {"value": results[key]["seconds"], "peak_rss": results[key]["peak_rss"]}

    row("stylize one 1024x680 photo (batch 1)", seconds("stylize_b1_ours"), seconds("stylize_b1_reference"), "s")
    row("stylize four 1024x680 photos (batch 4)", seconds("stylize_b4_ours"), seconds("stylize_b4_reference"), "s")
    engines = {"tensorflow": "TensorFlow", "openvino": "OpenVINO"}
    for batch in (1, 4):
        for engine, name in engines.items():
            if f"stylize_b{batch}_ours_{engine}" in results:
                row(
                    f"... batch {batch} on the {name} engine (--engine {engine})",
                    seconds(f"stylize_b{batch}_ours_{engine}"),
                    seconds(f"stylize_b{batch}_reference"),
                    "s",
                )
    row(
        "`evaluate.py` on a folder of six 1024x680 JPEGs, whole process",
        seconds("evaluate_ours"),
        seconds("evaluate_reference"),
        "s",
    )
    for engine in engines:
        if f"evaluate_ours_{engine}" in results:
            row(f"... with --engine {engine}", seconds(f"evaluate_ours_{engine}"), seconds("evaluate_reference"), "s")
    if "evaluate_ours_first_run" in results:
        row(
            "... its first run (an empty cache: OpenVINO converts the model)",
            seconds("evaluate_ours_first_run"),
            seconds("evaluate_reference"),
            "s",
        )
    fps = {
        impl: {"value": results[f"video_{impl}"]["fps"], "peak_rss": results[f"video_{impl}"]["peak_rss"]}
        for impl in ("ours", *(f"ours_{engine}" for engine in engines), "reference")
        if f"video_{impl}" in results
    }
    row("video frames 640x360, batch 4", fps["ours"], fps["reference"], "frames/s", higher_is_better=True, digits=1)
    for engine, name in engines.items():
        if f"ours_{engine}" in fps:
            row(f"... on the {name} engine", fps[f"ours_{engine}"], fps["reference"], "frames/s", True, digits=1)
    for precision in ("float32", "mixed_bfloat16"):
        if f"train_ours_{precision}" not in results:
            lines.append(f"| training iteration, {precision} | not measured: no bfloat16 instructions on this CPU | | | | |")
            continue
        row(
            f"training iteration, batch 4 of 256x256, {precision}",
            seconds(f"train_ours_{precision}"),
            seconds("train_reference"),
            "s",
        )
    lines.append("")
    if results.get("transform_video_ours", {}).get("failure"):
        lines.append(
            f"`transform_video.py` failed, so it is not timed: {results['transform_video_ours']['failure'].splitlines()[-1]}"
        )
    elif "transform_video_ours" in results:
        video = results["transform_video_ours"]
        frames = round(video["fps"] * video["seconds"])
        lines.append(f"`transform_video.py` on a {frames}-frame 640x360 clip, whole process (start-up included):")
        lines.append("")
        reference = results.get("transform_video_reference")
        for key, label in (
            ("transform_video_ours", "default (--stabilize on)"),
            ("transform_video_ours_per_frame", "`--stabilize 0` (frames on their own, as the original)"),
            ("transform_video_ours_tensorflow", "default with `--engine tensorflow`"),
            ("transform_video_ours_openvino", "default with `--engine openvino`"),
        ):
            measured = results.get(key)
            if not measured or measured.get("failure"):
                continue
            against = ""
            if reference and not reference.get("failure"):
                against = f", **{measured['fps'] / reference['fps']:.2f}x** the reference's frames/s"
            lines.append(
                f"- {label}: {measured['seconds']:.1f} s, {measured['fps']:.1f} frames/s{against}, peak {gb(measured['peak_rss'])}"
            )
        if reference and not reference.get("failure"):
            lines.append(
                f"- reference (the original's transform_video.py flow, TF1 graph, batches of 4, libx264 medium): "
                f"{reference['seconds']:.1f} s, {reference['fps']:.1f} frames/s, peak {gb(reference['peak_rss'])}"
            )
        lines.append("")
    ours_loss, reference_loss = results["train_ours_float32"]["first_loss"], results["train_reference"]["first_loss"]
    lines.append(
        f"Training step: the first loss from the same weights is {ours_loss:.6g} (ours) and {reference_loss:.6g} "
        f"(reference), {abs(ours_loss - reference_loss) / reference_loss:.1e} apart. Ours is style.py's step: "
        "src/training/objective.py's StyleObjective run by Keras's train function (bench/train_step.py)."
    )
    lines += ["", "Output against the reference's, PSNR in dB on 8-bit pixels (min over the photos):", ""]
    lines.append("| model | ours (default precision) | ours (float32) |")
    lines.append("|---|---|---|")
    for model, row_ in results["fidelity"]["models"].items():
        lines.append(f"| {model} | {min(row_['auto']):.1f} | {min(row_['float32']):.1f} |")
    tiles = results["tiling"]
    height, width = tiles["shape"]
    lines += ["", f"Tiling a {width}x{height} photo (whole image: {tiles['whole_seconds']:.2f} s):", ""]
    for tiled in tiles["tiled"]:
        label = f"tiles of {tiled['tile']}" if tiled["tile"] else "whole"
        label += " (--tile-size 0, automatic)" if tiled["auto"] else ""
        lines.append(
            f"- {label}: {tiled['seconds']:.2f} s, PSNR {tiled['psnr']:.1f} dB against the untiled image (max difference {tiled['max_abs']:.2f})"
        )
    lines.append(
        f"- float32, tiles of 512: PSNR {tiles['float32_512']['psnr']:.1f} dB (max difference {tiles['float32_512']['max_abs']:.4f}): "
        "tiles equal the whole image up to the statistics' summation order"
    )
    lines.append(
        f"- tiles of 512 stylized independently (statistics per tile): PSNR {tiles['independent_tiles_512']:.1f} dB"
    )
    lines.append(f"- statistics from a 4x downscaled copy: PSNR {tiles['downscaled_statistics_4x']:.1f} dB")
    if "evaluate_12mp_ours" in results:
        lines += ["", "Large photos, `evaluate.py` whole process (default --tile-size 0):", ""]
        for name, label in (("12mp", "4000x3000 (12 MP)"), ("50mp", "8192x6144 (50 MP)")):
            measured = results[f"evaluate_{name}_ours"]
            lines.append(f"- {label}: {measured['seconds']:.1f} s, peak {gb(measured['peak_rss'])}")
        reference = results["evaluate_12mp_reference"]
        lines.append(f"- 4000x3000 (12 MP), reference: {reference['seconds']:.1f} s, peak {gb(reference['peak_rss'])}")
    return "\n".join(lines) + "\n"


def gb(size):
    return f"{size / 2**30:.2f} GiB"


if __name__ == "__main__":
    sys.exit(main())
