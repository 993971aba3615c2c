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
from src.out_paths import takes_many
from src.stabilize import DEFAULT_STRENGTH, opencv_available
from src.wording import counted, some_names


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_model_arguments(parser)
    parser.add_argument(
        "--in-path",
        required=True,
        type=cli.local_file,
        help="video (or animated GIF, PNG or WebP) to stylize, a folder of videos (not its subfolders), "
        "or a pattern such as 'clips/*.mov' (quoted)",
    )
    parser.add_argument(
        "--out-path",
        required=True,
        help="output video (its extension picks the container), or a folder (each file keeps its input's name); "
        "a folder for a folder or a pattern",
    )
    quality = parser.add_mutually_exclusive_group()
    quality.add_argument(
        "--crf",
        type=cli.non_negative_int,
        help="encoder quality, lower is better and bigger: 0-51 for H.264, 0-63 for VP9, none for GIF "
        "(default: 18 for H.264, 31 for VP9)",
    )
    quality.add_argument("--bitrate", type=cli.bitrate, help="target video bitrate instead of --crf, with its unit: 2500k or 4M")
    parser.add_argument("--max-frames", type=cli.positive_int, help="stop after this many frames (quick previews)")
    parser.add_argument(
        "--max-size",
        type=cli.frame_size,
        metavar="WxH",
        help="scale the frames down to fit this size, keeping their shape, e.g. 480x480 for a light GIF "
        "(default: the video's own size; never enlarged)",
    )
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
    settings = settings_from_args(cli.parse_paths_and_flags(parser, argv))
    if takes_many(settings.in_path):
        interrupted = "the videos finished so far are complete, no partial file is left"
    else:
        interrupted = f"nothing was written to {settings.out_path}"
    return cli.run_interruptibly(lambda: _run(parser, settings), interrupted)


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
        max_size=args.max_size,
    )


def _run(parser, settings):
    from src.out_paths import OutPathError
    from src.video import check_quality
    from src.video_jobs import notes_before, plan_as_asked, plan_videos
    from src.video_probe import VideoError

    try:
        plan = plan_videos(settings.in_path, settings.out_path)
        if plan.many:  # a quality flag that misfits the outputs' codec: said once, before any work
            for _, target in plan.jobs:
                check_quality(target, settings.crf, settings.bitrate)
        else:  # one video: what cannot work is a usage error, said before anything loads
            source, target = plan.jobs[0]
            info, output = plan_as_asked(source, target, settings)
    except (VideoError, OutPathError) as error:
        parser.error(str(error))
    if settings.stabilize and not opencv_available():
        parser.error(
            "--stabilize needs OpenCV for the optical flow: pip install opencv-python-headless "
            "(bash setup.sh installs it), or --stabilize 0 for frames stylized on their own"
        )
    if settings.legacy_flags:
        _note("--tmp-dir and --no-disk are no longer needed: frames are streamed, never stored")
    if plan.many:
        return _run_many(parser, settings, plan)
    for text in notes_before(info, output):
        _note(text)
    return _run_one(parser, settings, source, output, info)


def _run_one(parser, settings, source, output, info):
    from src.devices import device_scope
    from src.video_jobs import stylize_as_asked, summary
    from src.video_probe import VideoError

    stylizer = _stylizer(parser, settings)
    try:
        with device_scope(settings.model.device):
            result = stylize_as_asked(source, output, info, stylizer, settings, _note)
    except VideoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(summary(result, output.path), file=sys.stderr)
    return 0


def _run_many(parser, settings, plan):
    """A folder's or a pattern's videos, each into the --out-path folder, with one network."""
    from src.devices import device_scope
    from src.images import unsearched_note
    from src.video_jobs import FOLDER_SUFFIXES, stylize_videos

    if plan.skipped:
        skipped = f"{counted(len(plan.skipped), 'file')} in {settings.in_path}"
        _note(f"{skipped} not taken as videos by their extension ({some_names(plan.skipped)})")
    unsearched = unsearched_note(settings.in_path, "videos")
    if unsearched:
        _note(unsearched)
    if not plan.jobs:
        print(f"no videos in {settings.in_path} ({' '.join(sorted(FOLDER_SUFFIXES))})", file=sys.stderr)
        return 1
    stylizer = _stylizer(parser, settings)
    with device_scope(settings.model.device):
        failures = stylize_videos(plan.jobs, stylizer, settings, _note)
    return cli.report_many(len(plan.jobs), "video", plan.jobs[0][1].parent, failures)


def _stylizer(parser, settings):
    keep_freed_memory()  # each frame reuses what the last one freed (src/memory.py)
    return cli.stylizer_for(parser, settings.model)


def _note(text):
    print(f"note: {text}", file=sys.stderr)


if __name__ == "__main__":
    cli.exit_now(main())
