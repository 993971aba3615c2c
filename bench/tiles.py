"""Tiled stylization's first and later calls on the Keras backend at hand (src/tiling.py).

    python -m bench.tiles                       # TensorFlow
    KERAS_BACKEND=jax python -m bench.tiles     # JAX: counts XLA's compilations too
    python -m bench.tiles --size 3000 2000 --tile 512 --checkpoint examples/models/wave.keras

The first call compiles (JAX: once per function and shape); later calls show the steady time.
Each tiled picture is compared with the whole image's through the same network (largest
difference, 0..255).
"""

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "examples/models/udnie.keras"), help="(default: %(default)s)")
    parser.add_argument("--photo", default=str(ROOT / "examples/content/chelsea.jpg"), help="resized to --size (default: %(default)s)")
    parser.add_argument("--size", type=int, nargs=2, default=[1501, 1003], metavar=("WIDTH", "HEIGHT"), help="(default: %(default)s)")
    parser.add_argument("--tile", type=int, default=400, help="(default: %(default)s)")
    parser.add_argument("--calls", type=int, default=4, help="(default: %(default)s)")
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"], help="(default: %(default)s)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    import keras
    from PIL import Image

    from src.checkpoints import load_model
    from src.stylize import Stylizer

    on_jax = keras.backend.backend() == "jax"
    compilations = _count_compilations() if on_jax else [0]
    model = load_model(args.checkpoint)
    photo = Image.open(args.photo).convert("RGB").resize(tuple(args.size), Image.LANCZOS)
    images = np.asarray(photo, np.float32)[None]
    stylizer = Stylizer(model, precision=args.precision, tile_size=args.tile)
    seconds, compiled = [], []
    loading = compilations[0]
    for _ in range(args.calls):
        began = time.perf_counter()
        tiled = stylizer(images)
        seconds.append(time.perf_counter() - began)
        compiled.append(compilations[0] - loading)
    whole = Stylizer(model, precision=args.precision, tile_size=max(args.size) + 1)(images)
    counts = f" ({compiled[0]} XLA compilations in the first, {compiled[-1] - compiled[0]} after)" if on_jax else ""
    print(
        f"{keras.backend.backend()}, {args.size[0]}x{args.size[1]} in tiles of {args.tile}, {args.precision}: "
        f"first call {seconds[0]:.2f} s{counts}, then {', '.join(f'{s:.2f}' for s in seconds[1:])} s; "
        f"largest difference to the whole image {np.abs(tiled - whole).max():.3f}"
    )


def _count_compilations():
    """[n]: the number of XLA compilations JAX has made since, kept up to date."""
    import jax.monitoring

    counts = [0]

    def listen(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            counts[0] += 1

    jax.monitoring.register_event_duration_secs_listener(listen)
    return counts


if __name__ == "__main__":
    main()
