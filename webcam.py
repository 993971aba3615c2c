"""Stylize a camera live, in a window, with the newest frame always (late frames are dropped).

    python webcam.py                                   # camera 0, the shipped quarter-width styles
    python webcam.py --checkpoint examples/models/udnie_0.25.keras --out-path take.mp4
    python webcam.py --camera clip.mp4 --no-window --seconds 10   # a video file as the camera

Keys in the window: n / p (or the arrows) next / previous style, + / - strength, c colour
preservation, f steadiness against flicker (--stabilize) on / off, m mirror on / off, s snapshot
(a PNG in --snapshot-dir), q or Esc quit. The window and the camera need OpenCV with its GUI
(pip install opencv-python); --no-window runs without a display. The slim students (style.py
--distill-from) are what make this real time on a CPU.
"""

import argparse
import os
import sys
from pathlib import Path

from src import cli
from src.devices import PRECISIONS
from src.live_sources import is_camera
from src.memory import keep_freed_memory
from src.out_paths import into_folder, new_file
from src.stabilize import LIVE_STRENGTH

MODELS = cli.ROOT / "examples" / "models"


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add(
        "--checkpoint",
        action="append",
        type=cli.local_file,
        help="a model to use (any checkpoint evaluate.py reads), or a folder of them; give several to switch "
        "between them with n / p, every style of a multi-style model included (default: the quarter-width "
        "models in examples/models/, *_0.25.keras)",
    )
    add("--camera", default="0", help="camera number, video file or stream URL (default: %(default)s)")
    add(
        "--size",
        type=cli.frame_size,
        metavar="WxH",
        help="stylize frames scaled to fit this size, keeping their shape, e.g. 640x480 (default: the source's)",
    )
    add(
        "--out-path",
        help="record the stylized frames to this video (.mp4, .mkv, .mov, .webm, .gif), or into this folder (a new "
        "take_<date>_<time>.mp4 each run)",
    )
    add("--snapshot-dir", type=Path, default=Path("."), help="folder for the s key's snapshots (default: %(default)s)")
    add("--no-window", action="store_true", help="show nothing (no display needed): record, or measure")
    add("--max-frames", type=cli.positive_int, help="stop after stylizing this many frames")
    add("--seconds", type=cli.positive_float, help="stop after this many seconds")
    add("--strength", type=cli.fraction, default=1.0, help="how much style at the start, 0..1 (default: %(default)s)")
    add("--preserve-color", action="store_true", help="start with the photo's colours kept (the c key toggles it)")
    add(
        "--stabilize",
        type=cli.below_one,
        default=LIVE_STRENGTH,
        help="against flicker, as in transform_video.py: the share of the previous output carried along the "
        "camera's motion, 0 to below 1; 0 starts with it off (the f key toggles it) (default: %(default)s)",
    )
    add(
        "--mirror",
        action=argparse.BooleanOptionalAction,
        help="show the picture mirrored, as video calls show their own camera (the m key toggles it); the "
        "recording and snapshots keep the camera's view (default: on for a camera number, off for a file or "
        "stream)",
    )
    add("--device", type=cli.device, default="auto", help="auto, cpu or gpu (default: %(default)s)")
    add("--precision", choices=PRECISIONS, default="auto", help="number format, as in evaluate.py (default: %(default)s)")
    add(
        "--engine",
        choices=("auto", "tensorflow", "openvino"),
        default="auto",
        help="what runs the network; auto: where OpenVINO is installed, whichever of it and TensorFlow paints "
        "the first frame faster, else TensorFlow (default: %(default)s)",
    )
    return parser


def default_checkpoints():
    return sorted(MODELS.glob("*_0.25.keras")) or [cli.DEFAULT_CHECKPOINT]


def main(argv=None):
    parser = build_parser()
    settings = settings_from_args(parser, parser.parse_args(argv))
    if settings.out_path:  # before anything loads; the frame's size and rate are checked again then
        plan_recording(parser, settings, 640, 480, 30)
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # our messages say what went wrong, not its probes
    try:
        import cv2  # noqa: F401  (OpenCV reads the camera and shows the window)
    except ImportError:
        parser.error("webcam.py needs OpenCV: pip install opencv-python (bash setup.sh installs the headless one)")
    # While frames flow, a Ctrl-C or `kill` ends the loop like q and the recording is kept
    # (src/live.py); before that, or while the recording is being finished, nothing is kept.
    nothing = f"nothing was recorded to {settings.out_path}" if settings.out_path else "nothing was shown"
    from src.video_probe import VideoError

    try:
        return cli.run_interruptibly(lambda: _run(parser, settings), nothing)
    except VideoError as error:  # the recording could not be written: a full disk, say
        return _fail(f"{error}; nothing was recorded")


def settings_from_args(parser, args):
    """LiveSettings from the flags: a usage error for a run that would show nothing; a folder of
    takes becomes this run's new file in it; the mirror defaults to on for a camera number (a
    person facing it) and off for a file or a stream (a scene)."""
    from src.live import LiveSettings
    from src.settings import ModelSettings

    if args.no_window and not (args.out_path or args.max_frames or args.seconds) and is_camera(args.camera):
        parser.error("with --no-window nothing would be seen: give --out-path, --max-frames or --seconds")
    out_path = args.out_path
    if out_path and into_folder(out_path):
        out_path = str(new_file(out_path, "take", ".mp4"))
    model = ModelSettings(
        checkpoints=tuple(args.checkpoint or default_checkpoints()),
        strength=args.strength,
        preserve_color=args.preserve_color,
        device=args.device,
        batch_size=1,  # the newest frame alone
        precision=args.precision,
        engine=args.engine,  # auto races TensorFlow and OpenVINO on the first frame
    )
    return LiveSettings(
        model=model,
        camera=args.camera,
        size=args.size,
        out_path=out_path,
        snapshot_dir=args.snapshot_dir,
        window=not args.no_window,
        max_frames=args.max_frames,
        seconds=args.seconds,
        stabilize=args.stabilize,
        mirror=is_camera(args.camera) if args.mirror is None else args.mirror,
    )


def _run(parser, settings):
    from src.devices import device_scope
    from src.live import HELP, Controls, LiveLoop, Window, engines_to_race
    from src.live_sources import CameraError, NewestFrame, open_source
    from src.stabilize import FrameSteadier

    try:
        source, is_file = open_source(settings.camera, settings.size)
    except CameraError as error:
        parser.error(f"--camera: {error}")
    if source.note:
        log(f"note: {source.note}")
    # Read from now on: a camera or stream's frames that come while the models load are dropped
    # as they come rather than queued and timed late; a file is held at its first frame until
    # the networks are ready.
    frames = NewestFrame(source, paced=is_file, size=settings.size, held=is_file)
    window = steadier = None
    try:
        styles = load_styles(parser, settings.model.checkpoints)
        options = cli.stylizer_options(parser, settings.model)
        keep_freed_memory()  # each frame reuses what the last one freed (src/memory.py)
        first = frames.after(0)
        if first is None:
            return _fail(f"{settings.camera} sent no frames" + (f": {frames.error}" if frames.error else ""))
        height, width = first[2].shape[:2]
        sound = source.info if is_file else None
        with recording(parser, settings, width, height, frames.frame_rate, sound) as recorder:
            if settings.window:
                try:
                    window = Window()
                except CameraError as error:
                    parser.error(str(error))
                log(HELP)
            controls = Controls(
                strength=settings.model.strength,
                preserve_color=settings.model.preserve_color,
                steady=settings.stabilize > 0,
                mirror=settings.mirror,
            )
            steadier = FrameSteadier(settings.stabilize or LIVE_STRENGTH)
            steady = f"steadied against flicker (--stabilize {settings.stabilize:g})"
            log(steady if settings.stabilize else "each frame painted on its own (--stabilize 0)")
            with device_scope(settings.model.device):
                races = engines_to_race(settings.model.engine, options["engine"])
                stylizers = stylizers_for(styles, options, races, first[2])
                names = [name for _, _, name in styles]
                loop = LiveLoop(stylizers, names, controls, window, recorder, settings.snapshot_dir, log, steadier)
                loop.stylize(first[2])  # compiles the network before the clock starts
                frames.start()  # a file plays from its first frame only now
                report = loop.run(frames, settings.max_frames, settings.seconds)
    finally:
        frames.close()
        if steadier is not None:
            steadier.close()
        if window is not None:
            window.close()
    log(report.summary())
    if settings.out_path:
        log(f"recorded {settings.out_path}")
    stopped = frames.ended and not is_file and not controls.quit
    if stopped or frames.error:
        reason = f": {frames.error}" if frames.error else ""
        return _fail(f"camera {settings.camera} stopped sending frames{reason}; what came before it is kept")
    return 0


def load_styles(parser, checkpoints):
    """(model, style weights, name) for every style of each of `checkpoints` (a folder of models:
    each model in it, as evaluate.py --sheet takes them)."""
    from src.sheet import model_paths

    cli.import_keras()
    try:
        paths = model_paths(checkpoints)
    except ValueError as error:
        parser.error(f"--checkpoint: {error}")
    styles = []
    for path in paths:
        model = cli.load_model(parser, path)
        for index, name in enumerate(model.style_names):
            weights = [1.0 if i == index else 0.0 for i in range(model.num_styles)]
            styles.append((model, weights, name if model.num_styles > 1 else Path(path).stem))
    return styles


def stylizers_for(styles, options, engines, frame):
    """One Stylizer per style, on whichever of `engines` paints `frame` fastest (said in the log)."""
    from src.live import on_fastest_engine
    from src.stylize import Stylizer

    def make(style, engine):
        model, weights, _ = style
        return Stylizer(model, weights, **{**options, "engine": engine})

    engine, first, seconds = on_fastest_engine(lambda engine: make(styles[0], engine), engines, frame)
    if seconds:
        others = ", ".join(f"{other} {seconds[other] * 1000:.0f} ms" for other in seconds if other != engine)
        log(f"engine: {engine}, {seconds[engine] * 1000:.0f} ms a frame" + (f" ({others})" if others else ""))
    others = [make(style, engine) for style in styles[1:]]
    for stylizer in others:  # compiled now, rather than as a pause the first time n or p picks it
        stylizer(frame[None])
    return [first, *others]


def recording(parser, settings, width, height, frame_rate, sound=None):
    """A context manager with the VideoWriter of --out-path (or None), made atomically. `sound`:
    the VideoInfo of the video file read as the camera, whose sound (and metadata) the recording
    carries: it has the file's frames one for one, so they stay in step, and the sound stops
    where the recording does."""
    import contextlib

    from src.video import audio_arguments, writing

    if not settings.out_path:
        return contextlib.nullcontext()
    output, info = plan_recording(parser, settings, width, height, frame_rate)
    notes = list(output.notes)  # as transform_video.py says them: an odd size, say
    audio, source = (), None
    if sound is not None:
        source = settings.camera
        audio, audio_note = audio_arguments(source, sound, output.container)
        if audio_note:
            notes.append(audio_note)
    for note in notes:
        log(f"note: {note}")
    return writing(output, info, source, audio, shortest=True)


def plan_recording(parser, settings, width, height, frame_rate):
    """(Output, VideoInfo) of --out-path for frames of that size and rate; a usage error for a
    path that cannot work, and for the file that --camera reads, which is never overwritten."""
    from fractions import Fraction

    from src.out_paths import OutPathError, check_not_input
    from src.video import plan_output
    from src.video_probe import VideoError, VideoInfo

    info = VideoInfo(width, height, Fraction(frame_rate).limit_denominator(1001), Fraction(1), None, (), False, 0)
    try:
        output = plan_output(Path("take.mp4"), settings.out_path, info, live=True)
        check_not_input(output.path, settings.camera)
    except (VideoError, OutPathError) as error:
        message = str(error)
        parser.error(message if message.startswith("--out-path") else f"--out-path: {message}")
    return output, info


def _fail(message):
    log(f"webcam.py: {message}")
    return 1


def log(message):
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    cli.exit_now(main())
