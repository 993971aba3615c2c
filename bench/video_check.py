"""Issue 4's "done when", measured: a clip with sound, and one 4x longer, through transform_video.py
with a real model; prints frames, durations and sound in and out, frames per second, and the
peak memory of each run (flat memory: the long run must not need more than the short one).

    python -m bench.video_check                      # 3 s and 12 s, 338x190 at 30 fps, wave.keras
    python -m bench.video_check --seconds 2 --rate 25 --size 640x360 --checkpoint examples/models/udnie.keras

Clips and outputs go to bench/out/video/.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from src.cli import DEFAULT_CHECKPOINT
from tests.clips import audio_facts, make_clip, video_facts

# Runs the script in a child process that reports its own peak memory (ru_maxrss is a high-water
# mark, so each run needs a fresh process). ffmpeg runs in processes of its own, not counted here.
RUN = """
import json, resource, sys, transform_video
code = transform_video.main(sys.argv[1:])
print(json.dumps({"code": code, "python_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="model (default: %(default)s)")
    parser.add_argument("--size", default="338x190", help="clip size (default: %(default)s)")
    parser.add_argument("--rate", default="30", help="clip frame rate, e.g. 30000/1001 (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=3, help="short clip length (default: %(default)s)")
    parser.add_argument("--factor", type=int, default=4, help="long clip = factor x short (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="--device for transform_video.py (default: %(default)s)")
    parser.add_argument("--out-dir", default="bench/out/video", help="where clips go (default: %(default)s)")
    return parser


def check(clip, out, args):
    command = [sys.executable, "-c", RUN, "--checkpoint", args.checkpoint, "--device", args.device]
    start = time.perf_counter()
    done = subprocess.run([*command, "--in-path", str(clip), "--out-path", str(out)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"transform_video.py failed on {clip}:\n{done.stderr}")
    run = json.loads(done.stdout.strip().splitlines()[-1])
    before, after = video_facts(clip), video_facts(out)
    sound_in, sound_out = audio_facts(clip), audio_facts(out)
    summary = next(line for line in done.stderr.splitlines() if line.startswith("stylized"))
    print(f"{clip.name} -> {out.name}: {summary}; whole run {seconds:.1f} s")
    print(f"  size      {before['width']}x{before['height']} -> {after['width']}x{after['height']}")
    print(f"  frames    {before['frames']} -> {after['frames']}")
    print(f"  rate      {before['rate']:.4f} -> {after['rate']:.4f} fps")
    print(f"  duration  {before['duration']:.4f} -> {after['duration']:.4f} s (video stream)")
    if sound_in:
        same = "identical" if sound_in["packets"] == sound_out["packets"] else "DIFFERENT"
        print(
            f"  sound     {sound_in['codec']} {sound_in['sample_rate']} Hz {sound_in['samples']} samples -> "
            f"{sound_out['codec']} {sound_out['sample_rate']} Hz {sound_out['samples']} samples; "
            f"{len(sound_out['packets'])} packets, {same}"
        )
    print(f"  peak RSS  {run['python_mib']:.0f} MiB (the Python process)")
    return run


def main(argv=None):
    args = build_parser().parse_args(argv)
    folder = Path(args.out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    peaks = []
    # Clips as cameras make them: 4:2:0, which needs even sides.
    chroma = "yuv420p" if all(int(side) % 2 == 0 for side in args.size.split("x")) else "yuv444p"
    for name, seconds in (("short", args.seconds), ("long", args.seconds * args.factor)):
        clip = folder / f"{name}.mp4"
        make_clip(clip, size=args.size, rate=args.rate, seconds=seconds, video=("-c:v", "libx264", "-pix_fmt", chroma))
        peaks.append(check(clip, folder / f"{name}_styled.mp4", args)["python_mib"])
    print(f"peak RSS growth for {args.factor}x the frames: {peaks[1] - peaks[0]:+.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
