"""What the command-line scripts share: argument types, the model arguments of evaluate.py and
transform_video.py, a quiet backend import, and turning user mistakes into messages.

Nothing heavy is imported at module level, so `--help` stays instant.
"""

import argparse
import contextlib
import os
import re
import shlex
import signal
import sys
import threading
from pathlib import Path

from src.devices import PRECISIONS, nvidia_driver_present

ROOT = Path(__file__).resolve().parent.parent
# The embedded default: a model shipped in examples/, so the main job needs no download.
DEFAULT_CHECKPOINT = ROOT / "examples" / "models" / "wave.keras"


def _number(kind, accept, requirement):
    """An argparse type: text -> `kind` (int or float) for which accept(value) holds, else an
    error saying `requirement` (NaN and infinity never pass)."""

    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {'whole number' if kind is int else 'number'}: {text!r}") from None
        if not (accept(value) and abs(value) != float("inf")):
            raise argparse.ArgumentTypeError(f"{requirement}, got {text}")
        return value

    return convert


positive_int = _number(int, lambda value: value >= 1, "must be at least 1")
non_negative_int = _number(int, lambda value: value >= 0, "must be 0 or more")
positive_float = _number(float, lambda value: value > 0, "must be a positive number")
non_negative_float = _number(float, lambda value: value >= 0, "must be a number 0 or more")
fraction = _number(float, lambda value: 0 <= value <= 1, "must be between 0 and 1")
below_one = _number(float, lambda value: 0 <= value < 1, "must be at least 0 and below 1")
port = _number(int, lambda value: 1 <= value <= 65535, "must be a port number from 1 to 65535")
_BYTES = {"b": 1, "kb": 2**10, "mb": 2**20, "gb": 2**30, "tb": 2**40}


def file_size(text):
    """A size such as 500mb or 2gb (the units of Gradio's max_file_size, in powers of 1024) -> bytes."""
    match = re.fullmatch(r"(\d+)\s*([kmgt]?b)", text.strip().lower())
    if not match or int(match[1]) == 0:
        raise argparse.ArgumentTypeError(f"not a size like 500mb or 2gb: {text!r}")
    return int(match[1]) * _BYTES[match[2]]


def bitrate(text):
    """An encoder bitrate such as 2500k or 4M. The unit is required: ffmpeg reads a bare 4000 as
    4000 bits a second, a picture of blocks, where 4000k was meant."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)[kKmM]", text.strip())
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"not a bitrate like 2500k or 4M: {text!r}")
    return text.strip()


def frame_size(text):
    """WIDTHxHEIGHT, e.g. 640x480 -> (640, 480), each at least 16."""
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) >= 16 and int(height) >= 16):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT of at least 16x16, e.g. 640x480, got {text!r}")
    return int(width), int(height)


def local_file(text):
    """A file or folder on this computer, as given: a web address is refused by name (as a path it
    would only be missing, and shown as https:/... once pathlib has read it)."""
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", str(text)):
        raise argparse.ArgumentTypeError(f"{text} is a web address: download it, then give the file")
    return text


def local_path(text):
    """local_file as a Path."""
    return Path(local_file(text))


def device(text):
    from src.devices import parse_device

    try:
        parse_device(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def tile_size(text):
    from src.memory import check_tile_size

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    try:
        return check_tile_size(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_model_arguments(parser):
    """--checkpoint, --device, --batch-size (the original's flags for applying a model), and
    --style-weights, --preserve-color, --strength, --stroke-scale, --tile-size, --precision, --engine."""
    parser.add_argument(
        "--checkpoint",
        action="append",
        type=local_file,
        help="model to apply: a .keras file, a style.py checkpoint directory, or one of the original's "
        "TF1 checkpoints (.ckpt file, V2 prefix or its directory); give it more than once to mix "
        "several single-style models (default: the Great Wave model shipped in examples/models/wave.keras)",
    )
    parser.add_argument(
        "--style-weights",
        nargs="+",
        type=non_negative_float,
        metavar="W",
        help="mixing ratios, normalised to sum 1: one per style of a multi-style model (default: the first "
        "style alone; 1 0 is exactly the first style), or one per --checkpoint (default: equal parts)",
    )
    parser.add_argument(
        "--preserve-color",
        action="store_true",
        help="keep the photo's colours and take only the luminance from the style (Gatys et al. 2016)",
    )
    parser.add_argument(
        "--strength",
        type=fraction,
        default=1.0,
        help="how much style: 0 gives the photo back, 1 the full style, values between blend (default: %(default)s)",
    )
    parser.add_argument(
        "--stroke-scale",
        type=positive_float,
        default=1.0,
        metavar="K",
        help="stroke size: K times larger strokes (the network paints the photo at 1/K of its size; the result "
        "keeps the photo's size and fine detail); below 1, finer strokes (default: %(default)s)",
    )
    parser.add_argument(
        "--device",
        type=device,
        default="auto",
        help="where to run: auto, cpu, gpu, or the original's /cpu:0, /gpu:N (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=4,
        help="images per forward pass, fewer where the memory budget (see --tile-size) would not hold them "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--tile-size",
        type=tile_size,
        default=0,
        help="stylize images of more than N x N pixels in N x N tiles that share whole-image statistics: "
        "the same picture in bounded memory; 0 chooses N from free memory (default: %(default)s)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="number format of the convolutions: auto is bfloat16 on CPUs with bfloat16 instructions (AMX or "
        "AVX512-BF16: faster there, and visually the same as float32), else float32 (default: %(default)s)",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "tensorflow", "openvino"),
        default="auto",
        help="what runs whole images: auto is OpenVINO on the CPU where it is installed (bash setup.sh "
        "--openvino), else TensorFlow; tiles always run on TensorFlow (default: %(default)s)",
    )


def parse_paths_and_flags(parser, argv=None):
    """parser.parse_args, where paths given without their flags (`evaluate.py in.jpg out.jpg`,
    as other tools take them) get the command that was meant, rather than argparse's word that
    --in-path and --out-path are required."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    loose = [a for a in argv[:2] if not a.startswith("-")]
    if len(loose) == 2 and argv[:2] == loose and "--in-path" not in argv and "--out-path" not in argv:
        meant = shlex.join(["--in-path", loose[0], "--out-path", loose[1], *argv[2:]])
        parser.error(f"paths take their flags: {parser.prog} {meant}")
    return parser.parse_args(argv)


def import_keras():
    """Import Keras and its backend with TensorFlow's C++ start-up chatter (oneDNN notices and the
    like, printed before any Python logging can be set) kept off the terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _stderr_silenced():
        import keras
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf  # loads its C++ runtime while stderr is quiet

            if not nvidia_driver_present():
                # TensorFlow's CUDA build logs "failed call to cuInit" as an error on every run of
                # a machine without an NVIDIA driver. Probe the GPUs now, quietly; where a driver
                # exists its messages (missing CUDA libraries, say) still reach the user.
                tf.config.list_physical_devices("GPU")
    return keras


@contextlib.contextmanager
def _stderr_silenced():
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def signals_as_interrupt():
    """A `kill` cleans up like a Ctrl-C: the KeyboardInterrupt unwinds through every atomic
    write (src/atomic.py), so no partial output is left behind. Both go through _raise_interrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers
        return
    previous = {number: signal.signal(number, _raise_interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)


def _raise_interrupt(signum, frame):
    # An exception raised inside JAX's garbage-collection callback is printed and dropped
    # ("Exception ignored in: _xla_gc_callback", jax-ml/jax#18246): a Ctrl-C that lands there
    # would be lost. It is sent again a moment later instead, once Python is back in our code.
    while frame is not None:
        if frame.f_code.co_name == "_xla_gc_callback":
            threading.Timer(0.05, os.kill, (os.getpid(), signum)).start()
            return
        frame = frame.f_back
    raise KeyboardInterrupt


def run_interruptibly(run, interrupted):
    """run() -> its exit status; a Ctrl-C or `kill` instead prints "interrupted; <interrupted>" and
    gives 130 (128 + SIGINT, as a shell reports it), with no traceback."""
    try:
        with signals_as_interrupt():
            return run()
    except KeyboardInterrupt:
        print(f"interrupted; {interrupted}", file=sys.stderr)
        return 130


def report_many(total, kind, target, failures):
    """A run over several inputs ends by saying how many of the `total` (of `kind`: "image")
    went into `target`, and each failure's reason [(input, reason)] -> its exit status: 1 where
    any failed."""
    from src.wording import counted

    print(f"stylized {total - len(failures)} of {counted(total, kind)} into {target}", file=sys.stderr)
    if failures:
        print(f"{counted(len(failures), 'input')} failed:", file=sys.stderr)
        for _, reason in failures:
            print(f"  {reason}", file=sys.stderr)
    return 1 if failures else 0


def exit_now(status):
    """End a finished script without Python's teardown, whose TensorFlow part is a noticeable share
    of a short run (bench/README.md). Only
    for a script's last line, once every output is complete (written, synced, renamed) and every
    worker thread joined; errors raised before it still exit the usual way."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def load_model(parser, path, flag="--checkpoint"):
    """Load a checkpoint, or exit through the parser with what is wrong with it."""
    import_keras()
    from src.checkpoints import CheckpointError
    from src.checkpoints import load_model as load

    try:
        return load(path or DEFAULT_CHECKPOINT)
    except CheckpointError as error:
        parser.error(f"{flag}: {error}")


def open_checkpoint(parser, path, flag="--checkpoint"):
    """A checkpoint checked and described now, loaded only when needed (src/checkpoints.py
    Checkpoint), or exit through the parser with what is wrong with it."""
    from src.checkpoints import Checkpoint, CheckpointError

    try:
        return Checkpoint(path or DEFAULT_CHECKPOINT, load=lambda path: load_model(parser, path, flag))
    except CheckpointError as error:
        parser.error(f"{flag}: {error}")


def model_settings(args):
    """ModelSettings (src/settings.py) from the flags of add_model_arguments."""
    from src.settings import ModelSettings

    return ModelSettings(
        checkpoints=tuple(args.checkpoint or ()),
        style_weights=tuple(args.style_weights) if args.style_weights else None,
        preserve_color=args.preserve_color,
        strength=args.strength,
        stroke_scale=args.stroke_scale,
        device=args.device,
        batch_size=args.batch_size,
        tile_size=args.tile_size,
        precision=args.precision,
        engine=args.engine,
    )


def stylizer_for(parser, model):
    """The Stylizer that ModelSettings ask for (the one forward path, src/stylize.py)."""
    paths = model.checkpoints or (None,)
    options = stylizer_options(parser, model)
    # OpenVINO loads a checkpoint (with Keras and TensorFlow) only when its converted model is
    # not in the cache yet (src/engines.py): a second run starts in a fraction of the time.
    opener = open_checkpoint if options["engine"] == "openvino" else load_model
    models = [opener(parser, path) for path in paths]
    from src.stylize import Stylizer

    if len(models) > 1:
        for path, network in zip(paths, models):
            if network.num_styles > 1:
                parser.error(
                    f"--checkpoint {path} holds {network.num_styles} styles: give a multi-style model alone, "
                    "with --style-weights; only single-style models mix by output"
                )

    try:
        weights = list(model.style_weights) if model.style_weights else None
        return Stylizer(models, style_weights=weights, **options)
    except ValueError as error:  # the one check of the weights: their count, signs and sum
        parser.error(f"--style-weights: {error}")


def stylizer_options(parser, model):
    """The Stylizer's keyword arguments from ModelSettings, with --precision and --engine
    resolved for --device (a message through the parser where they cannot run)."""
    from src.devices import resolve_precision
    from src.engines import EngineError, resolve_engine

    if nvidia_driver_present():
        import_keras()  # TensorFlow looks for the GPUs, quietly; without the driver there are none
    try:
        engine = resolve_engine(model.engine, model.device)
    except EngineError as error:
        parser.error(f"--engine: {error}")
    try:
        precision = resolve_precision(model.precision, model.device, engine)
    except ValueError as error:
        parser.error(f"--precision: {error}")
    return {
        "batch_size": model.batch_size,
        "precision": precision,
        "tile_size": model.tile_size,
        "preserve_color": model.preserve_color,
        "strength": model.strength,
        "engine": engine,
        "stroke_scale": model.stroke_scale,
    }
