"""The benchmark's measurements, each run in a process of its own by bench/run.py so that its
peak memory is its own: `python -m bench.workers NAME '{"json": "arguments"}'` prints one line
`RESULT {json}`.

"ours" is the project's path (src.stylize.Stylizer, the one forward path, with its defaults);
"reference" is the original's design run the original's way (bench/tf1_reference.py: a
tf.compat.v1 graph with a placeholder of fixed shape, one session, no XLA).
"""

import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "examples" / "models"


def main(argv=None):
    argv = argv or sys.argv[1:]
    if len(argv) != 2 or argv[0] not in WORKERS:
        names = ", ".join(WORKERS)
        print(f"usage: python -m bench.workers NAME JSON (as bench/run.py runs it); NAME one of {names}", file=sys.stderr)
        return 2
    name, arguments = argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = WORKERS[name](**json.loads(arguments))
    result["worker_peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def timed(function, repeats, warmup=1):
    """Median and all wall-clock seconds of `repeats` calls after `warmup` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def load_photos(folder, count):
    from PIL import Image

    paths = sorted(Path(folder).glob("*.jpg"))[:count]
    return np.stack([np.asarray(Image.open(p).convert("RGB"), np.float32) for p in paths])


def original_arrays(model):
    """A TransformNet's weights as the original's 48 arrays: kernel, shift, scale per block."""
    arrays = []
    for block in model.layers_in_order():
        arrays += [block.conv.kernel.numpy(), block.norm.shift.numpy()[0], block.norm.scale.numpy()[0]]
    return arrays


def reference_session(arrays, shape):
    """The TF1 graph for a fixed input shape -> run(images) -> output clipped to 0..255."""
    import tensorflow as tf

    from bench import tf1_reference

    graph = tf.Graph()
    with graph.as_default():
        placeholder = tf.compat.v1.placeholder(tf.float32, shape=shape)
        output = tf1_reference.net(placeholder, arrays)
        session = tf.compat.v1.Session(graph=graph)
    return lambda images: np.clip(session.run(output, {placeholder: images}), 0, 255)


def psnr(a, b):
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


# --- workers ----------------------------------------------------------------------------------


def machine():
    """What the numbers were measured on, and what its arithmetic units can do."""
    import keras
    import tensorflow as tf

    from src.devices import cpu_flags, resolve_precision, resolve_training_precision
    from src.engines import openvino_installed, resolve_engine

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    flags = sorted(
        f for f in cpu_flags() if f in {"avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile"}
    )
    peaks = {}
    for dtype in ("float32", "bfloat16"):
        a = tf.cast(tf.random.normal((4096, 4096)), dtype)
        matmul = tf.function(lambda x: tf.matmul(x, x))
        seconds, _ = timed(lambda: matmul(a).numpy(), 3)
        peaks[dtype] = 2 * 4096**3 / seconds / 1e9
    return {
        "cpu": cpu_name(),
        "flags": flags,
        "cores": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "precision_auto": resolve_precision("auto", "cpu"),
        "training_precision_auto": resolve_training_precision("auto"),
        "engine_auto": resolve_engine("auto", "cpu"),
        "engines": ["tensorflow", "openvino"] if openvino_installed() else ["tensorflow"],
        "matmul_gflops": peaks,
        "network_gflop_1024x680": network_gflop(680, 1024),
    }


def cpu_name():
    """The CPU's model name as Linux reports it (platform.processor() elsewhere)."""
    name = platform.processor() or "unknown"
    if Path("/proc/cpuinfo").exists():
        with open("/proc/cpuinfo") as cpuinfo:
            name = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), name)
    return name


def network_gflop(height, width, model=None):
    """Multiply-adds x 2 of the convolutions of `model` (default: the original's network) for one
    image (norms and ReLUs are extra)."""
    from src.transform import build_transform_net

    total, rows, cols = 0, height, width
    for block in (model or build_transform_net()).layers_in_order():
        k, cin, cout = block.kernel_size, block.conv.kernel.shape[-2], block.filters
        if block.transpose:
            cin = block.conv.kernel.shape[-1]
            total += 2 * k * k * cin * cout * rows * cols  # per input pixel
            rows, cols = rows * block.strides, cols * block.strides
        else:
            rows, cols = -(-rows // block.strides), -(-cols // block.strides)
            total += 2 * k * k * cin * cout * rows * cols
    return total / 1e9


def stylize(impl, folder, batch, repeats, model="wave"):
    """Seconds per call of `batch` photos from `folder`, median of `repeats`."""
    from src.checkpoints import load_model

    images = load_photos(folder, batch)
    network = load_model(MODELS / f"{model}.keras")
    if impl.startswith("ours"):
        from src.stylize import Stylizer

        run = Stylizer(network, batch_size=batch, engine=_engine(impl))
    else:
        run = reference_session(original_arrays(network), images.shape)
    seconds, times = timed(lambda: run(images), repeats)
    return {"seconds": seconds, "times": times, "images": len(images), "shape": list(images.shape)}


def speeds(models, sizes, passes=3, rounds=3):
    """Each model (a path) through the Stylizer alone, on TensorFlow in its default precision,
    set up as the scripts set up (src/memory.py keep_freed_memory): seconds per 1024x680 photo
    and frames/s at each [width, height] of `sizes`, the median of `passes` x `rounds` calls.
    The networks take turns call by call, and the sizes pass by pass, so that a slow phase of
    the machine (a shared host has them, seconds long, and they slow the memory-bound slim
    networks more than their teachers: bench/README.md) falls on a few calls of each, not on
    all of one."""
    from src.checkpoints import load_model
    from src.images import read_image, resize
    from src.memory import keep_freed_memory
    from src.stylize import Stylizer

    keep_freed_memory()
    stylizers = [Stylizer(load_model(model), batch_size=1) for model in models]
    photo = read_image(ROOT / "examples/content/coffee.jpg").rgb
    images = {(width, height): resize(photo, height, width)[None] for width, height in [(1024, 680), *map(tuple, sizes)]}
    times = {(size, index): [] for size in images for index in range(len(stylizers))}
    for image in images.values():
        for stylizer in stylizers * 2:  # compiled and warm
            stylizer(image)
    for _ in range(passes):
        for size, image in images.items():
            for _ in range(rounds):
                for index, stylizer in enumerate(stylizers):
                    start = time.perf_counter()
                    stylizer(image)
                    times[size, index].append(time.perf_counter() - start)
    figures = [{} for _ in stylizers]
    for (size, index), spent in times.items():
        seconds = statistics.median(spent)
        figures[index].update({"photo_seconds": seconds} if size == (1024, 680) else {"fps_%dx%d" % size: 1 / seconds})
    return {"figures": figures}


def _engine(impl):
    """"ours": the project's defaults (--engine auto); "ours_tensorflow" / "ours_openvino": that
    engine alone."""
    return impl.removeprefix("ours_") if impl != "ours" else "auto"


def video(impl, folder, frames, batch, repeats, model="wave"):
    """Frames per second of stylizing `frames` 640x360 frames `batch` at a time (the original's
    transform_video.py fed batches of 4 through one fixed-shape graph)."""
    from src.checkpoints import load_model

    clip = load_photos(folder, frames)
    network = load_model(MODELS / f"{model}.keras")
    if impl.startswith("ours"):
        from src.stylize import Stylizer

        stylizer = Stylizer(network, batch_size=batch, engine=_engine(impl))
        run = lambda: stylizer(clip)  # noqa: E731  (the Stylizer batches)
    else:
        session = reference_session(original_arrays(network), (batch, *clip.shape[1:]))
        # The original padded the last batch to the graph's fixed batch size.
        padded = np.concatenate([clip, np.repeat(clip[-1:], -len(clip) % batch, axis=0)])
        run = lambda: [session(padded[i : i + batch]) for i in range(0, len(padded), batch)]  # noqa: E731
    seconds, times = timed(run, repeats)
    return {"fps": len(clip) / seconds, "seconds": seconds, "times": times, "frames": len(clip)}


def train(impl, repeats, batch=4, size=256, precision="float32"):
    """Seconds per training iteration (batch 4 of 256x256), median of `repeats` after 2 warm-ups."""
    from bench import train_step
    from src.transform import build_transform_net
    from src.training.vgg import CONTENT_LAYER, STYLE_LAYERS

    import keras

    keras.utils.set_random_seed(0)
    arrays = original_arrays(build_transform_net())
    photos = train_step.training_batch(batch, size)
    if impl == "ours":
        step, _ = train_step.build_step(batch, size, precision, transform_arrays=arrays)
    else:
        from bench import tf1_reference

        vgg = (
            train_step.VGG_LAYERS,
            train_step.vgg_arrays(),
            train_step.VGG_MEAN,
            CONTENT_LAYER,
            STYLE_LAYERS,
        )
        style_image = train_step.training_batch(1, size, seed=1)
        step = tf1_reference.training_step(arrays, vgg, style_image, photos.shape)
    first_loss = step(photos)
    seconds, times = timed(lambda: step(photos), repeats, warmup=1)
    return {"seconds": seconds, "times": times, "first_loss": first_loss}


def fidelity(folder, count):
    """PSNR of our output against the reference's, for every published model in examples/."""
    from src.checkpoints import load_model
    from src.stylize import Stylizer

    images = load_photos(folder, count)
    results = {}
    for path in sorted(MODELS.glob("*.keras")):
        network = load_model(path)
        reference = reference_session(original_arrays(network), (1, *images.shape[1:]))
        expected = np.concatenate([reference(image[None]) for image in images])
        row = {}
        for precision in ("auto", "float32"):
            ours = Stylizer(network, batch_size=1, precision=precision)(images)
            # Each image's PSNR on the 8-bit pixels that get written (to_uint8 rounds).
            row[precision] = [psnr(np.rint(a), np.rint(b)) for a, b in zip(ours, expected)]
        results[path.stem] = row
    return {"models": results}


def tiling(photo, tile_sizes, model="wave"):
    """On one large photo: untiled against tiled (PSNR, seconds), and the alternatives."""
    from PIL import Image

    from src import memory
    from src.checkpoints import load_model
    from src.stylize import Stylizer

    image = np.asarray(Image.open(photo).convert("RGB"), np.float32)[None]
    network = load_model(MODELS / f"{model}.keras")
    huge = 1 << 16
    whole_stylizer = Stylizer(network, tile_size=huge)
    whole = whole_stylizer(image)  # also the warm-up of the timing below
    whole_seconds, _ = timed(lambda: whole_stylizer(image), 1, warmup=0)
    result = {"shape": list(image.shape[1:3]), "whole_seconds": whole_seconds, "tiled": []}
    for tile in tile_sizes:
        stylizer = Stylizer(network, tile_size=tile)
        out = stylizer(image)
        seconds, _ = timed(lambda: stylizer(image), 1, warmup=0)
        chosen = memory.plan(*image.shape[1:3], 1, tile)[1]  # None: the image runs whole
        result["tiled"].append(
            {
                "tile": chosen,
                "auto": tile == 0,
                "seconds": seconds,
                "psnr": psnr(out, whole),
                "max_abs": float(np.abs(out - whole).max()),
            }
        )
    # Float32 isolates tiling from bfloat16 rounding: the equality is exact up to sum order.
    whole32 = Stylizer(network, precision="float32", tile_size=huge)(image)
    tiled32 = Stylizer(network, precision="float32", tile_size=512)(image)
    result["float32_512"] = {"psnr": psnr(tiled32, whole32), "max_abs": float(np.abs(tiled32 - whole32).max())}
    result["independent_tiles_512"] = psnr(_independent_tiles(network, image, 512), whole)
    result["downscaled_statistics_4x"] = psnr(_downscaled_statistics(network, image, 4), whole)
    return result


def _independent_tiles(network, image, tile):
    """The naive way: every tile stylized as an image of its own (statistics per tile)."""
    from src.stylize import Stylizer

    stylizer = Stylizer(network, tile_size=1 << 16)
    out = np.empty_like(image)
    for r in range(0, image.shape[1], tile):
        for c in range(0, image.shape[2], tile):
            out[:, r : r + tile, c : c + tile] = stylizer(image[:, r : r + tile, c : c + tile])
    return out


def _downscaled_statistics(network, image, factor):
    """The cheap alternative: every instance norm uses statistics measured on a copy downscaled
    `factor` times (whole image here, which is the best such tiles could do)."""
    from PIL import Image

    from src import inference
    from src.devices import resolve_precision
    from src.transform import ResidualBlock, to_pixels

    precision = resolve_precision("auto")
    parameters = inference.norm_parameters(network, network.default_style_weights())
    small = Image.fromarray(image[0].astype(np.uint8)).resize(
        (image.shape[2] // factor, image.shape[1] // factor), Image.LANCZOS
    )
    recorded = []

    def run(x, record):
        stream, index = x, 0
        for block in network.blocks:
            parts = [block.conv1, block.conv2] if isinstance(block, ResidualBlock) else [block]
            y = stream
            for part in parts:
                y = inference.convolve(part, y, precision)
                if record:
                    recorded.append(inference.moments(y))
                y = inference.normalize(part, y, *recorded[index], parameters)
                index += 1
            stream = stream + y if isinstance(block, ResidualBlock) else y
        return to_pixels(stream)

    run(np.asarray(small, np.float32)[None], record=True)
    out = np.asarray(run(image, record=False))[:, : image.shape[1], : image.shape[2]]
    return np.clip(out, 0, 255)


def reference_evaluate(in_dir, out_dir, weights, batch_size=4):
    """The original's evaluate.py on a folder of same-size photos, as it did it: one fixed-shape
    graph of batch_size, then a new graph of batch 1 for the remainder (its ffwd())."""
    from PIL import Image

    arrays = list(np.load(weights).values())
    paths = sorted(Path(in_dir).glob("*.jpg"))
    Path(out_dir).mkdir(parents=True, exist_ok=True)

    def ffwd(paths, batch_size):
        shape = np.asarray(Image.open(paths[0]).convert("RGB")).shape
        batch_size = min(len(paths), batch_size)
        run = reference_session(arrays, (batch_size, *shape))
        full = len(paths) // batch_size * batch_size
        for start in range(0, full, batch_size):
            batch = np.stack(
                [np.asarray(Image.open(p).convert("RGB"), np.float32) for p in paths[start : start + batch_size]]
            )
            for path, picture in zip(paths[start : start + batch_size], run(batch)):
                Image.fromarray(picture.astype(np.uint8)).save(Path(out_dir) / path.name)
        if full < len(paths):
            ffwd(paths[full:], 1)

    ffwd(paths, batch_size)
    return {"images": len(paths)}


def reference_transform_video(video, out_path, weights, batch_size=4):
    """The original's transform_video.py on a clip, as it did it: frames read one by one
    (moviepy's iter_frames; here imageio-ffmpeg, the same ffmpeg pipe), batches of 4 through one
    fixed-shape graph with the last batch padded by its last frame, and libx264 at preset medium,
    2000k, as its FFMPEG_VideoWriter was set up."""
    import imageio_ffmpeg

    arrays = list(np.load(weights).values())
    reader = imageio_ffmpeg.read_frames(video)
    meta = reader.__next__()
    width, height = meta["size"]
    run = reference_session(arrays, (batch_size, height, width, 3))
    writer = imageio_ffmpeg.write_frames(
        out_path, (width, height), fps=meta["fps"], codec="libx264",
        output_params=["-preset", "medium", "-b:v", "2000k"], macro_block_size=1,
    )
    writer.send(None)
    batch = np.zeros((batch_size, height, width, 3), np.float32)
    count = frames = 0

    def style_and_write(count):
        batch[count:] = batch[count - 1]
        for picture in run(batch)[:count]:
            writer.send(np.ascontiguousarray(picture.astype(np.uint8)))

    for raw in reader:
        batch[count] = np.frombuffer(raw, np.uint8).reshape(height, width, 3)
        count, frames = count + 1, frames + 1
        if count == batch_size:
            style_and_write(count)
            count = 0
    if count:
        style_and_write(count)
    writer.close()
    return {"frames": frames}


def prepare(out, photo_sizes, frames, models):
    """Test inputs from examples/content (no ../shared): same-size photos, video frames, a
    short clip, large photos, and the reference's weights as .npz (so that the reference's
    start-up, like the original's, loads no Keras)."""
    from PIL import Image, ImageOps

    from src.checkpoints import load_model

    out = Path(out)
    sources = [Image.open(p).convert("RGB") for p in sorted((ROOT / "examples" / "content").glob("*.jpg"))]
    # Mirrored copies make six distinct photos out of the four examples.
    sources += [ImageOps.mirror(image) for image in sources]

    def fitted(image, size):
        return ImageOps.fit(image, size, Image.LANCZOS)

    made = {}
    for name, (width, height, count) in photo_sizes.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            path = folder / f"photo{i}.jpg"
            if not path.exists():
                fitted(sources[i % len(sources)], (width, height)).save(path, quality=95)
        made[name] = str(folder)
    folder = out / "frames"
    folder.mkdir(parents=True, exist_ok=True)
    base = fitted(sources[0], (720, 405))
    clip = []
    for i in range(frames):
        # A slow pan: each frame a 640x360 window moved a pixel or two.
        frame = base.crop((i * 2, i, i * 2 + 640, i + 360))
        clip.append(np.asarray(frame))
        path = folder / f"frame{i:03d}.jpg"
        if not path.exists():
            frame.save(path, quality=95)
    made["frames"] = str(folder)
    video = out / "clip.mp4"
    if not video.exists():
        import imageio_ffmpeg

        writer = imageio_ffmpeg.write_frames(str(video), (640, 360), fps=24, macro_block_size=8)
        writer.send(None)
        for frame in clip:
            writer.send(np.ascontiguousarray(frame))
        writer.close()
    made["video"] = str(video)
    for model in models:
        path = out / f"{model}.npz"
        if not path.exists():
            np.savez(path, *original_arrays(load_model(MODELS / f"{model}.keras")))
        made[f"weights_{model}"] = str(path)
    return made


WORKERS = {
    "machine": machine,
    "stylize": stylize,
    "reference_transform_video": reference_transform_video,
    "video": video,
    "train": train,
    "fidelity": fidelity,
    "tiling": tiling,
    "reference_evaluate": reference_evaluate,
    "prepare": prepare,
    "speeds": speeds,
}

if __name__ == "__main__":
    sys.exit(main())
