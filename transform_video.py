"""Stylize a video with a trained style, keeping its size, frame rate, length and sound.

    python transform_video.py --checkpoint examples/models/wave.keras --in-path clip.mp4 --out-path styled.mp4
    python transform_video.py --in-path clip.mov --out-path preview.webm --max-frames 100 --crf 36

The out path's extension picks the container: .mp4, .m4v, .mov, .mkv (H.264), .webm (VP9) or
.gif (256 colours a frame, no sound; it loops).
The sound is copied unchanged where the container can hold it. Frames are streamed: memory
stays flat and nothing is written to a temporary frame folder. --stabilize carries part of each
output along the input's motion into the next frame, so still and slowly moving scenes do not
flicker (src/stabilize.py); --stabilize 0 stylizes every frame on its own, as the original did.
"""

import argparse
import sys

from src import cli
from src.memory import keep_freed_memory
from src.stabilize import DEFAULT_STRENGTH, opencv_available
from src.wording import counted


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_model_arguments(parser)
    parser.add_argument("--in-path", required=True, help="video to stylize")
    parser.add_argument(
        "--out-path",
        required=True,
        help="output video (its extension picks the container), or a folder (the file keeps the input's name)",
    )
    quality = parser.add_mutually_exclusive_group()
    quality.add_argument(
        "--crf",
        type=cli.non_negative_int,
        help="encoder quality, lower is better and bigger: 0-51 for H.264, 0-63 for VP9, none for GIF "
        "(default: 18 for H.264, 31 for VP9)",
    )
    quality.add_argument("--bitrate", type=cli.bitrate, help="target video bitrate instead of --crf, e.g. 4M")
    parser.add_argument("--max-frames", type=cli.positive_int, help="stop after this many frames (quick previews)")
    parser.add_argument(
        "--stabilize",
        type=cli.below_one,
        default=DEFAULT_STRENGTH,
        help="against flicker: the share of the previous output carried along the motion where the "
        "optical flow is reliable, 0 to below 1; 0 stylizes each frame on its own (default: %(default)s)",
    )
    parser.add_argument(
        "--tmp-dir",
        help="accepted for compatibility with the original; no longer needed: frames are streamed, "
        "never written to a temporary folder",
    )
    parser.add_argument(
        "--no-disk",
        action="store_true",
        help="accepted for compatibility with the original; no longer needed: frames are always streamed",
    )
    return parser


def main(argv=None):
    parser = build_parser()
    settings = settings_from_args(parser.parse_args(argv))
    return cli.run_interruptibly(lambda: _run(parser, settings), f"nothing was written to {settings.out_path}")


def settings_from_args(args):
    from src.settings import VideoSettings

    return VideoSettings(
        in_path=args.in_path,
        out_path=args.out_path,
        model=cli.model_settings(args),
        crf=args.crf,
        bitrate=args.bitrate,
        max_frames=args.max_frames,
        stabilize=args.stabilize,
        legacy_flags=bool(args.tmp_dir or args.no_disk),
    )


def _run(parser, settings):
    from src.out_paths import OutPathError
    from src.video import VideoError, plan_output, probe

    try:
        info = probe(settings.in_path)
        output = plan_output(settings.in_path, settings.out_path, info, settings.crf, settings.bitrate)
    except (VideoError, OutPathError) as error:
        parser.error(str(error))
    if settings.stabilize and not opencv_available():
        parser.error(
            "--stabilize needs OpenCV for the optical flow: pip install opencv-python-headless "
            "(bash setup.sh installs it), or --stabilize 0 for frames stylized on their own"
        )
    for text in _notes(settings, info) + list(output.notes):
        _note(text)
    keep_freed_memory()  # each frame reuses what the last one freed (src/memory.py)
    stylizer = cli.stylizer_for(parser, settings.model)
    from src.devices import device_scope
    from src.video_jobs import stylize_video

    model = settings.model
    try:
        with device_scope(model.device):
            result = stylize_video(
                settings.in_path,
                output,
                info,
                stylizer,
                model.batch_size,
                settings.max_frames,
                note=_note,
                stabilize=settings.stabilize,
            )
    except VideoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    rate = result.frames / result.seconds if result.seconds else 0.0
    print(f"stylized {counted(result.frames, 'frame')} into {output.path} ({rate:.1f} frames/s)", file=sys.stderr)
    return 0


def _note(text):
    print(f"note: {text}", file=sys.stderr)


def _notes(settings, info):
    notes = []
    if settings.legacy_flags:
        notes.append("--tmp-dir and --no-disk are no longer needed: frames are streamed, never stored")
    if info.variable_rate:
        notes.append(
            f"the input's frame rate varies; ffmpeg repeats or drops frames to a constant "
            f"{float(info.frame_rate):.3f} fps so that picture and sound stay in sync"
        )
    if info.subtitles:
        notes.append("subtitle tracks are not carried over")
    return notes


if __name__ == "__main__":
    cli.exit_now(main())
