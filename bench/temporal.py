"""How much stylized video flickers, and how much --stabilize (and a temporal-loss model) helps.

    python -m bench.temporal                          # the shipped models on clips of examples/content
    python -m bench.temporal --temporal-model T.keras --baseline-model B.keras   # style.py with and without --temporal-weight

Warping error (Lai et al. 2018; src/temporal.py): the mean squared difference, on a 0..1 scale,
between each output frame and the previous one warped onto it by the *input's* motion, over the
pixels the previous frame sees. Camera clips (bench/camera.py: a still camera with sensor noise,
a pan, a zoom, a rotation over a photo) have exact motion; the real clip (examples/video) is
measured with OpenCV's Farneback flow and its forward-backward check (the stabilizer itself
uses DIS, so one estimator's mistakes do not flatter the other). The input's own warping
error is the floor. Beside it, the style distance (src/training/metrics.py, VGG16 judge from
../shared) of every fourth frame, so that a method that blurs the style away cannot win; and
transform_video.py's own frames per second with and without --stabilize.

Bad cases: a scene cut, a fade to black, black first frames: the first frame after the cut must
equal the per-frame output (no ghost), and nothing may crash.

Prints a markdown table (machine, date) and writes bench/out/temporal/ (results.json, the
side-by-side still).
"""

import argparse
import datetime
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
MODELS = ROOT / "examples" / "models"
STYLES = {"wave": "wave", "wave_vgg16": "wave", "udnie": "udnie", "the_scream": "the_scream"}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["wave", "udnie"], help="shipped models (default: %(default)s)")
    parser.add_argument("--temporal-model", help="a model trained with --temporal-weight, judged beside the others")
    parser.add_argument("--baseline-model", help="the same training without --temporal-weight, for comparison")
    parser.add_argument("--temporal-style", default="wave", help="their style image's name (default: %(default)s)")
    parser.add_argument("--photo", default=str(ROOT / "examples/content/coffee.jpg"), help="(default: %(default)s)")
    parser.add_argument("--second-photo", default=str(ROOT / "examples/content/rocket.jpg"), help="after the cut")
    parser.add_argument("--size", type=int, nargs=2, default=(256, 448), metavar=("H", "W"), help="(default: %(default)s)")
    parser.add_argument("--frames", type=int, default=24, help="frames per camera clip (default: %(default)s)")
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.4, 0.6, 0.8], help="(default: %(default)s)")
    parser.add_argument("--video", default=str(ROOT / "examples/video/rocket.mp4"), help="(default: %(default)s)")
    parser.add_argument("--vgg16", default=str(SHARED / "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"))
    parser.add_argument("--out", default=str(ROOT / "bench/out/temporal"), help="(default: %(default)s)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from src.images import read_image

    photo = read_image(args.photo).rgb
    clips = camera_clips(photo, tuple(args.size), args.frames) + [real_clip(args.video, args.frames * 2)]
    models = {name: (MODELS / f"{name}.keras", STYLES[name]) for name in args.models}
    for name, path in (("trained, no temporal loss", args.baseline_model), ("trained, temporal loss", args.temporal_model)):
        if path:
            models[name] = (Path(path), args.temporal_style)
    report = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "strengths": args.strengths,
        "floor": {clip.name: clip_error(clip, clip.frames) for clip in clips},
        "results": {},
    }
    for name, (checkpoint, style) in models.items():
        report["results"][name] = measure(checkpoint, style, clips, args)
    report["bad_cases"] = bad_cases(photo, read_image(args.second_photo).rgb, tuple(args.size), models, args)
    report["speed"] = speed(speed_clip(photo, out / "pan_640x360.mp4"), MODELS / f"{args.models[0]}.keras", out)
    still(clips[0], models[args.models[0]][0], args.strengths, out / "still.jpg")
    (out / "results.json").write_text(json.dumps(report, indent=1))
    print(table(report))
    return 0


def camera_clips(photo, size, count):
    from bench.camera import standard_clips

    return standard_clips(photo.astype(np.float32), size, count)


def real_clip(path, count):
    """The first `count` frames of a video, with Farneback flow and its forward-backward mask."""
    import cv2

    from bench.camera import Clip
    from src.temporal import consistent
    from src.video import FrameReader
    from src.video_probe import probe

    with FrameReader(path, probe(path), max_frames=count) as reader:
        frames = [frame for batch in reader.batches(8) for frame in batch]
    gray = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
    flows, masks = [], []
    for previous, current in zip(gray, gray[1:]):
        backward = cv2.calcOpticalFlowFarneback(current, previous, None, 0.5, 4, 21, 5, 7, 1.5, 0)
        forward = cv2.calcOpticalFlowFarneback(previous, current, None, 0.5, 4, 21, 5, 7, 1.5, 0)
        flows.append(backward)
        masks.append(consistent(backward, forward))
    return Clip(f"real: {Path(path).name}", frames, flows, masks)


def clip_error(clip, frames):
    from src.temporal import clip_warping_error

    return clip_warping_error(frames, clip.flows, clip.masks)


def stabilized(frames, stylized, strength):
    """What transform_video.py --stabilize writes: MotionTracker on the input, Blender after the
    network (src/stabilize.py), frame by frame in batches of 4 as the video path feeds them."""
    from src.pixels import to_uint8
    from src.stabilize import Blender, MotionTracker

    tracker, blender, outputs = MotionTracker(strength), Blender(), []
    for start in range(0, len(frames), 4):
        batch = np.stack(frames[start : start + 4])
        outputs.extend(to_uint8(blender(np.stack(stylized[start : start + 4]), tracker(batch))))
    return outputs


def stylize_frames(stylizer, frames):
    from src.pixels import to_uint8

    return [frame for start in range(0, len(frames), 4) for frame in to_uint8(stylizer(np.stack(frames[start : start + 4])))]


def measure(checkpoint, style, clips, args, steady=None):
    """{clip: {method: {"error", "style"}}} for one model. steady(frames, stylized, strength) ->
    the steadied frames (default: `stabilized`, transform_video.py's)."""
    from src.checkpoints import load_model
    from src.images import read_image
    from src.stylize import Stylizer
    from src.training.metrics import Judge
    from src.training.vgg import load_vgg_weights

    stylizer = Stylizer(load_model(checkpoint))
    judge = Judge(load_vgg_weights(args.vgg16), read_image(ROOT / f"examples/style/{style}.jpg").rgb)
    results = {}
    for clip in clips:
        per_frame = stylize_frames(stylizer, clip.frames)
        methods = {"per-frame": per_frame}
        methods.update({f"stabilize {s:g}": (steady or stabilized)(clip.frames, per_frame, s) for s in args.strengths})
        results[clip.name] = {}
        for method, outputs in methods.items():
            sampled = slice(1, None, 4)
            scores = judge.score(np.stack(clip.frames[sampled]).astype(np.float32), np.stack(outputs[sampled]).astype(np.float32))
            results[clip.name][method] = {"error": clip_error(clip, outputs), "style": float(np.mean(scores["style"]))}
            print(f"{checkpoint.stem} {clip.name} {method}: {results[clip.name][method]}", file=sys.stderr, flush=True)
    return results


def bad_cases(photo, second, size, models, args):
    """A cut between two pans, a fade to black, and black first frames, through the stabilizer at
    the strongest strength: the frame after the cut against per-frame (PSNR), and the warping
    error of each around its event."""
    from bench.camera import Pose, camera_clip
    from bench.workers import psnr
    from src.checkpoints import load_model
    from src.stylize import Stylizer

    count = 12
    first = camera_clip("a", photo.astype(np.float32), [Pose(300 + t, 200) for t in range(count)], size).frames
    cy, cx = (second.shape[0] - 1) / 2, (second.shape[1] - 1) / 2
    after = camera_clip("b", second.astype(np.float32), [Pose(cx + t, cy) for t in range(count)], size).frames
    fade = [np.round(frame * (1 - t / count)).astype(np.uint8) for t, frame in enumerate(first)]
    black = [np.zeros_like(first[0])] * 6 + first
    stylizer = Stylizer(load_model(models[args.models[0]][0]))
    strength = max(args.strengths)
    cases = {}
    for name, frames, event in (("scene cut", first + after, count), ("fade to black", fade, None), ("black first frames", black, 6)):
        per_frame = stylize_frames(stylizer, frames)
        steady = stabilized(frames, per_frame, strength)
        case = {"frames": len(steady)}
        if event is not None:
            case["psnr_after_event"] = psnr(steady[event], per_frame[event])
        case["mean_abs_difference_to_per_frame"] = float(np.mean(np.abs(np.stack(steady, dtype=np.float32) - np.stack(per_frame))))
        cases[name] = case
        print(f"{name}: {case}", file=sys.stderr, flush=True)
    return cases


def speed_clip(photo, path, count=72):
    """A 640x360 pan over the photo (enlarged to cover it), 25 frames/s, encoded as H.264."""
    from bench.camera import Pose, render
    from src.images import resize
    from src.video_probe import ffmpeg_exe

    scale = max(400 / photo.shape[0], 720 / photo.shape[1])
    large = resize(photo, round(photo.shape[0] * scale), round(photo.shape[1] * scale)).astype(np.float32)
    cy, cx = (large.shape[0] - 1) / 2, (large.shape[1] - 1) / 2
    frames = [render(large, Pose(cx - 30 + 60 * t / count, cy), (360, 640)) for t in range(count)]
    command = [ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "640x360", "-r", "25"]
    command += ["-i", "pipe:0", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", str(path)]
    subprocess.run(command, input=np.stack(frames).tobytes(), check=True)
    return path


def speed(video, checkpoint, out):
    """transform_video.py's own frames per second (start-up excluded) with and without
    --stabilize, the median of 3 runs each, on `video`."""
    from src.stabilize import DEFAULT_STRENGTH

    figures = {}
    for strength in (0.0, DEFAULT_STRENGTH):
        rates = []
        for _ in range(3):
            command = [sys.executable, str(ROOT / "transform_video.py"), "--checkpoint", str(checkpoint)]
            command += ["--in-path", str(video), "--out-path", str(out / "speed.mp4"), "--stabilize", str(strength)]
            done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            match = re.search(r"\(([\d.]+) frames/s\)", done.stderr)
            if done.returncode != 0 or match is None:
                raise RuntimeError(f"transform_video.py failed: {done.stderr[-500:]}")
            rates.append(float(match.group(1)))
        figures[f"stabilize {strength:g}"] = float(np.median(rates))
    from src.video_probe import probe

    info = probe(video)
    figures["video"] = f"{Path(video).name}, {info.width}x{info.height}"
    return figures


def still(clip, checkpoint, strengths, path):
    """A side-by-side still: one frame of the noisy still-camera clip per-frame and stabilized, and
    under each its flicker (the difference to the previous output, amplified 4x)."""
    from PIL import Image

    from src.checkpoints import load_model
    from src.images import write_image
    from src.stylize import Stylizer

    per_frame = stylize_frames(Stylizer(load_model(checkpoint)), clip.frames)
    steady = stabilized(clip.frames, per_frame, strengths[len(strengths) // 2])
    index = len(clip.frames) // 2
    rows = []
    for outputs in (per_frame, steady):
        change = np.abs(outputs[index].astype(np.float32) - outputs[index - 1]) * 4
        rows.append(np.concatenate([outputs[index], np.clip(change, 0, 255).astype(np.uint8)], axis=0))
    picture = np.concatenate([rows[0], np.full((rows[0].shape[0], 8, 3), 255, np.uint8), rows[1]], axis=1)
    write_image(path, np.asarray(Image.fromarray(picture)))


def machine():
    from bench.quality import machine as describe

    return describe()


def table(report):
    lines = [
        f"Temporal stability, {report['date']}, {report['machine']}.",
        "Warping error x 1000 (Lai et al. 2018, 0..1 pixels; lower is steadier) and, in brackets, the VGG16 "
        "style distance of every fourth frame.",
        "",
        *error_rows(report),
        "",
    ]
    for name, case in report["bad_cases"].items():
        lines.append(f"- {name}: " + ", ".join(f"{key} {value:.2f}" if isinstance(value, float) else f"{key} {value}" for key, value in case.items()))
    speed = report["speed"]
    lines.append(f"- transform_video.py frames/s on {speed.pop('video')}: " + ", ".join(f"{k} {v:.2f}" for k, v in speed.items()))
    return "\n".join(lines)


def error_rows(report, clip_header="clip"):
    """The markdown table of report["results"]: a row per model and clip, a column per method."""
    strengths = [f"stabilize {s:g}" for s in report["strengths"]]
    lines = [
        f"| model | {clip_header} | input (floor) | per-frame | " + " | ".join(strengths) + " |",
        "|---|---|---|---|" + "---|" * len(strengths),
    ]
    for model, clips in report["results"].items():
        for clip, methods in clips.items():
            cells = [f"{methods[m]['error'] * 1000:.2f} ({methods[m]['style']:.3f})" for m in ["per-frame", *strengths]]
            lines.append(f"| {model} | {clip} | {report['floor'][clip] * 1000:.2f} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    sys.exit(main())
