"""Train a network that paints photos in the style of an artwork.

    python style.py --style examples/style/wave.jpg --checkpoint-dir checkpoints/wave \\
        --test examples/content/chelsea.jpg --test-dir checkpoints/wave/previews
    python style.py --style wave.jpg --style udnie.jpg --checkpoint-dir checkpoints/two
    python style.py --distill-from examples/models/wave.keras --width 0.25 --checkpoint-dir checkpoints/wave_quarter

Needs VGG19 or VGG16 weights (bash setup.sh --vgg, --vgg-keras or --vgg16) and training images
(bash setup.sh --coco). Running the same command again resumes from the last checkpoint; Ctrl-C saves one
before it stops. --style given several times trains one network for all those styles.
--distill-from trains a slimmer network (--width, --residual-blocks) to paint what a trained one
paints, from photos alone: no style image, and VGG only for the optional feature and texture
losses (--vgg-path with --content-weight, --style-weight); --start-from refines a student
distilled before.
"""

import argparse
import shlex
import sys
from pathlib import Path

from src import cli
from src.devices import TRAINING_PRECISIONS
from src.out_paths import same_file
from src.training.vgg_layers import DEFAULT_LAYERS, DEFAULT_WEIGHTS
from src.wording import counted

DEFAULT_VGG = Path("data/imagenet-vgg-verydeep-19.mat")
# A slim student learns its teacher's pictures far faster at 1e-2 than at training's 1e-3, and
# ends better for the same iterations (bench/README.md, "Slim students").
LEARNING_RATE, DISTILL_LEARNING_RATE = 1e-3, 1e-2


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add(
        "--style",
        action="append",
        type=cli.local_file,
        help="style image; give it again to train several styles into one network (required unless --distill-from)",
    )
    add("--checkpoint-dir", type=Path, help="directory for checkpoints (created when missing; required unless --slow)")
    add(
        "--train-path",
        type=Path,
        default=Path("data/train2014"),
        help="folder of training images (default: %(default)s)",
    )
    add("--test", type=cli.local_path, help="image to stylize at every checkpoint, as a preview")
    add("--test-dir", type=Path, help="folder for the previews (created when missing; needed with --test)")
    add(
        "--slow",
        action="store_true",
        help="Gatys et al.'s optimization of the pixels of --test instead of training a network; as in the "
        "original, --epochs below 10 becomes 1000 iterations and --learning-rate below 1 becomes 10",
    )
    add(
        "--distill-from",
        type=cli.local_path,
        metavar="MODEL",
        help="train a network to reproduce this trained one's pictures (any checkpoint evaluate.py reads; a "
        "multi-style one gives a multi-style network) instead of learning a --style",
    )
    add(
        "--width",
        type=cli.positive_float,
        default=1.0,
        help="channels of the network to train, as a fraction of the original's 32/64/128: 0.5 and 0.25 "
        "make networks about 4 and 16 times cheaper to run (default: %(default)s)",
    )
    add(
        "--residual-blocks",
        type=cli.positive_int,
        default=5,
        help="residual blocks of the network to train (default: %(default)s)",
    )
    add(
        "--start-from",
        type=Path,
        metavar="MODEL",
        help="with --distill-from: start from this network of the teacher's styles (a student distilled "
        "before, to refine it, e.g. with --style-weight), taking its width and residual blocks, instead "
        "of the teacher's strongest channels",
    )
    add(
        "--pixel-weight",
        type=cli.positive_float,
        default=1.0,
        help="with --distill-from: weight of the mean squared difference from the teacher's pictures "
        "(default: %(default)s)",
    )
    add("--epochs", type=cli.positive_int, default=2, help="passes over the training images (default: %(default)s)")
    add("--batch-size", type=cli.positive_int, default=4, help="images per step (default: %(default)s)")
    add(
        "--checkpoint-iterations",
        type=cli.positive_int,
        default=2000,
        help="iterations between checkpoints and previews (default: %(default)s)",
    )
    add(
        "--vgg-path",
        type=Path,
        help="the loss network, recognised by content: VGG19 (MatConvNet's .mat or Keras' notop .h5) or VGG16 "
        f"(Keras' notop .h5) (default: {DEFAULT_VGG}; with --distill-from none: given, it adds the content "
        "loss between the two networks' pictures, weighted by --content-weight, and with --style-weight "
        "the style loss between them)",
    )
    add(
        "--style-layers",
        nargs="+",
        metavar="LAYER",
        help="VGG layers for the style loss (default: %s)" % _per_network(lambda n: " ".join(DEFAULT_LAYERS[n].style)),
    )
    add(
        "--content-layer",
        metavar="LAYER",
        help="VGG layer for the content loss (default: %s)" % _per_network(lambda n: DEFAULT_LAYERS[n].content),
    )
    meanings = (
        ("content", "the content loss (with --distill-from: against the features of the teacher's pictures)"),
        ("style", "the style loss (with --distill-from: against the Gram matrices of the teacher's pictures, "
                  "0 unless given)"),
        ("tv", "the total variation"),
    )
    for index, (name, what) in enumerate(meanings):
        add(
            f"--{name}-weight",
            type=cli.non_negative_float,
            help=f"weight of {what} (default: %s)" % _per_network(lambda n: f"{DEFAULT_WEIGHTS[n][index]:g}"),
        )
    add(
        "--temporal-weight",
        type=cli.non_negative_float,
        default=0.0,
        help="stability for video: how much the output of a slightly moved, noisier photo must be the "
        "moved output; it runs the transform network a second time per step (0: off) (default: %(default)s)",
    )
    add(
        "--learning-rate",
        type=cli.positive_float,
        help=f"Adam's learning rate (default: {LEARNING_RATE:g}, the original's; with --distill-from "
        f"{DISTILL_LEARNING_RATE:g})",
    )
    add(
        "--image-size",
        type=cli.positive_int,
        default=256,
        help="side of the square training images (default: %(default)s)",
    )
    add(
        "--style-scale",
        type=cli.positive_float,
        default=1.0,
        help="resize the style image by this factor before taking its style (default: %(default)s)",
    )
    add(
        "--precision",
        choices=TRAINING_PRECISIONS,
        default="auto",
        help="number format: auto is mixed_bfloat16 on GPUs with bfloat16 units (compute capability 8.0+) "
        "and on CPUs with bfloat16 instructions (AMX or AVX512-BF16), where it is faster, else float32 "
        "(default: %(default)s)",
    )
    add(
        "--seed",
        type=cli.non_negative_int,
        help="seed for the weights and the data order (default: random, kept for resuming)",
    )
    return parser


def _per_network(describe):
    return "; ".join(f"{network} {describe(network)}" for network in ("VGG19", "VGG16"))


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with cli.signals_as_interrupt():  # a `kill` before training as a Ctrl-C; in training, see fitting.py
            return _run(parser, args)
    except KeyboardInterrupt:  # during start-up (TensorFlow's import, the VGG file): nothing to save yet
        log("interrupted before training started; nothing was written")
        return 130


def _run(parser, args):
    check_paths(parser, args)
    # The images are checked before TensorFlow's start-up, every input before anything is created.
    styles = read_styles(parser, args)
    test = read_image_or_exit(parser, "--test", args.test) if args.test else None
    if args.slow:
        check_slow_memory(parser, test.size)
    cli.import_keras()  # before src.training.vgg, which imports Keras: TensorFlow's start-up chatter kept quiet
    teacher = cli.load_model(parser, args.distill_from, "--distill-from") if args.distill_from else None
    start = start_model(parser, args, teacher) if args.start_from else None
    from src.training.vgg import VggError, load_vgg_weights

    vgg_weights = None
    if teacher is None or args.vgg_path:
        try:
            vgg_weights = load_vgg_weights(args.vgg_path or DEFAULT_VGG)
        except VggError as error:
            parser.error(f"--vgg-path: {error}")
    settings = training_settings(parser, args, vgg_weights.network if vgg_weights else "VGG19", start)
    make_test_dir(parser, args)
    from src.images import ImageError
    from src.training.distill import distill
    from src.training.slow import optimize_pixels
    from src.training.train import train
    from src.training.train_state import StateError

    try:
        if args.slow:
            return optimize_pixels(settings, vgg_weights, styles[0], test, log=log)
        if teacher is not None:
            outcome = distill(settings, teacher, vgg_weights, test, log=log, start=start)
        else:
            outcome = train(settings, vgg_weights, styles, test, log=log)
    except StateError as error:
        parser.error(f"--checkpoint-dir: {error}")
    except KeyboardInterrupt:
        resume = "" if args.slow else f"; the same command resumes from the last one in {args.checkpoint_dir}"
        log(f"interrupted without a new checkpoint{resume}")
        return 130
    except (OSError, ImageError) as error:  # a full disk, training images gone: no traceback for those
        where = f"cannot write {error.filename}: " if getattr(error, "filename", None) else ""
        log(f"style.py: {where}{getattr(error, 'strerror', None) or error}")
        return 1
    return report(args, outcome)


def log(message):
    print(message, file=sys.stderr, flush=True)


def check_paths(parser, args):
    """Everything about the flags and paths that can be said before loading anything."""
    check_model_flags(parser, args)
    if args.slow:
        if not args.test:
            parser.error("--slow optimizes the pixels of --test: give --test and --test-dir")
        if len(args.style) > 1:
            parser.error("--slow takes one --style")
        if args.temporal_weight:
            parser.error("--temporal-weight trains a network's stability; --slow optimizes one picture")
        if args.checkpoint_dir:
            log("note: --slow writes images to --test-dir, no checkpoints; --checkpoint-dir is not used")
    else:
        if not args.checkpoint_dir:
            parser.error("the following arguments are required: --checkpoint-dir")
        if args.checkpoint_dir.exists() and not args.checkpoint_dir.is_dir():
            parser.error(f"--checkpoint-dir {args.checkpoint_dir} is a file, not a directory")
        check_train_path(parser, args)
    if bool(args.test) != bool(args.test_dir):
        parser.error("--test and --test-dir go together: the previews of --test are written into --test-dir")
    if args.test_dir and not args.slow and same_file(args.test_dir, args.train_path):
        parser.error(f"--test-dir {args.test_dir} is the --train-path folder: the previews would become training photos")
    if args.image_size < 16:
        parser.error(f"--image-size must be at least 16 (the VGG network halves it four times), got {args.image_size}")


def check_model_flags(parser, args):
    """--style or --distill-from, and what each of them excludes."""
    if args.distill_from:
        given = [flag for flag, value in (
            ("--style", args.style), ("--slow", args.slow), ("--tv-weight", args.tv_weight),
            ("--temporal-weight", args.temporal_weight), ("--style-scale", args.style_scale != 1.0),
        ) if value]  # fmt: skip
        if given:
            verb = "belongs" if len(given) == 1 else "belong"
            parser.error(f"--distill-from learns the teacher's pictures; {', '.join(given)} {verb} to learning a style")
        for flag, value in (("--content-weight", args.content_weight), ("--style-weight", args.style_weight),
                            ("--style-layers", args.style_layers)):  # fmt: skip
            if value is not None and not args.vgg_path:
                parser.error(f"with --distill-from, {flag} is for a loss through the network of --vgg-path: give both")
        if args.style_layers and not args.style_weight:
            parser.error("with --distill-from, --style-layers are those of the Gram term: give --style-weight too")
        if args.start_from and network_shape_given(parser, args):
            parser.error(
                "--start-from gives the network's width and residual blocks: leave out --width and --residual-blocks"
            )
    elif args.start_from:
        parser.error("--start-from goes with --distill-from")
    elif not args.style:
        parser.error("the following arguments are required: --style (or --distill-from)")
    elif args.pixel_weight != parser.get_default("pixel_weight"):
        parser.error("--pixel-weight goes with --distill-from")
    if args.width > 4:
        parser.error(f"--width must be at most 4, got {args.width:g}")
    if args.slow and network_shape_given(parser, args):
        parser.error("--slow optimizes pixels, not a network: --width and --residual-blocks do not apply")


def check_slow_memory(parser, shape):
    """--slow holds every pixel of --test in VGG at once: on a CPU, a picture larger than the
    memory free is refused now rather than killed by the system in its first step."""
    from src.devices import nvidia_driver_present
    from src.memory import available_memory
    from src.training.slow import memory_needed

    needed, free = memory_needed(*shape), available_memory()
    if needed > free and not nvidia_driver_present():
        height, width = shape
        parser.error(
            f"--slow optimizes all {width}x{height} pixels of --test at once, which takes at least "
            f"{needed / 2**30:.1f} GB, more than the {free / 2**30:.1f} GB free here: give a smaller --test"
        )


def network_shape_given(parser, args):
    """Whether --width or --residual-blocks was set to other than its default."""
    return any(getattr(args, name) != parser.get_default(name) for name in ("width", "residual_blocks"))


def start_model(parser, args, teacher):
    """--start-from, loaded and checked against the teacher (its size is the student's: see
    training_settings)."""
    start = cli.load_model(parser, args.start_from, "--start-from")
    if start.style_names != teacher.style_names:
        parser.error(
            f"--start-from paints {', '.join(start.style_names)}, the teacher {', '.join(teacher.style_names)}: "
            "start from a network of the teacher's styles"
        )
    return start


def training_settings(parser, args, network, start=None):
    """The flags as TrainingSettings; the loss layers and weights they leave open become the
    loss network's defaults (src/training/vgg_layers.py). start: the --start-from network, whose
    width and residual blocks the student takes."""
    from src.training.settings import Distillation, TrainingSettings
    from src.training.vgg_layers import LossLayers, check_layers

    defaults = DEFAULT_LAYERS[network]
    layers = LossLayers(tuple(args.style_layers or defaults.style), args.content_layer or defaults.content)
    try:
        check_layers(network, layers)
    except ValueError as error:
        parser.error(f"--style-layers/--content-layer: {error}")
    weights = [
        given if given is not None else default
        for given, default in zip((args.content_weight, args.style_weight, args.tv_weight), DEFAULT_WEIGHTS[network])
    ]
    width, blocks = (start.width, start.residual_blocks) if start is not None else (args.width, args.residual_blocks)
    return TrainingSettings(
        layers, *weights, args.checkpoint_dir, args.train_path, args.test_dir, args.epochs, args.batch_size,
        args.checkpoint_iterations, learning_rate(args), args.image_size, args.precision, args.seed,
        args.temporal_weight, width, blocks,
        Distillation(args.distill_from, args.pixel_weight, args.style_weight or 0.0) if args.distill_from else None,
    )  # fmt: skip


def learning_rate(args):
    if args.learning_rate is not None:
        return args.learning_rate
    return DISTILL_LEARNING_RATE if args.distill_from else LEARNING_RATE


def make_test_dir(parser, args):
    if args.test_dir:
        try:
            args.test_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            parser.error(f"cannot create --test-dir {args.test_dir}: {error.strerror or error}")


def check_train_path(parser, args):
    from src.images import folders_inside
    from src.training.dataset import readable_images
    from src.wording import some_names

    folder = args.train_path
    if not folder.is_dir():
        hint = " (bash setup.sh --coco downloads COCO 2014)" if folder == parser.get_default("train_path") else ""
        parser.error(f"--train-path {folder} is not a folder{hint}")
    found = readable_images(folder, args.batch_size)
    if found < args.batch_size:
        folders = folders_inside(folder)
        inside = f" (its {counted(len(folders), 'folder')}, {some_names(folders)}, are not searched)" if folders else ""
        parser.error(
            f"--train-path {folder} has {counted(found, 'readable image')}{inside}; "
            f"a batch (--batch-size) needs {args.batch_size}"
        )


def read_image_or_exit(parser, flag, path):
    from src.images import ImageError, read_image

    try:
        picture = read_image(path)
    except ImageError as error:
        parser.error(f"{flag} {error}")
    if picture.note:  # an animation, or pages
        log(f"note: {flag} {path} has several frames; the first is used")
    return picture


def read_styles(parser, args):
    """--style images as Styles named after their files, resized by --style-scale."""
    from src.training.styles import Style

    names = [Path(path).stem for path in args.style or []]
    if len(set(names)) < len(names):
        parser.error(f"two --style images have the same name ({', '.join(names)}): rename one")
    styles = []
    for name, path in zip(names, args.style or []):
        picture = read_image_or_exit(parser, "--style", path)
        style = Style(name, picture.rgb, picture.alpha)
        if style.alpha is not None and style.alpha.max() == 0:
            parser.error(f"--style {path} is wholly transparent: there is no painting to learn from")
        if style.alpha is not None:
            log(f"note: --style {path} is transparent in part: the style is learnt from its opaque part")
        styles.append(style.scaled(args.style_scale))
    return styles


def report(args, outcome):
    """The run's figures, the unreadable files, and how to use the checkpoint."""
    images = outcome.images
    if images is not None and outcome.iteration > outcome.start:
        steps, seconds = outcome.iteration - outcome.start, max(outcome.seconds - outcome.saving_seconds, 1e-9)
        saving = f" {'checkpoints and previews' if args.test else 'checkpoints'} {outcome.saving_seconds:.1f} s;"
        log(
            f"{counted(steps, 'iteration')} in {seconds:.1f} s ({seconds / steps:.3g} s each);{saving} "
            f"waited {images.wait_seconds:.2f} s for training images ({images.wait_seconds / seconds:.1%} of the steps' time)"
        )
    if images is not None and images.skipped:
        log(f"skipped {counted(len(images.skipped), 'unreadable file')} in {args.train_path}:")
        for reason in list(images.skipped.values())[:10]:
            log(f"  {reason}")
    if not outcome.finished:
        log(f"stopped at iteration {outcome.iteration}, checkpoint saved; the same command resumes from it")
        return 130
    directory = shlex.quote(str(args.checkpoint_dir))
    print(f"Training complete ({counted(outcome.iteration, 'iteration')}). To stylize with it:")
    print(f"    python evaluate.py --checkpoint {directory} --in-path photo.jpg --out-path photo_stylized.jpg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
