"""What a training run is asked to do, as data: style.py builds it from its flags (with the loss
network's defaults filled in, src/training/vgg_layers.py), and `train`, `distill` and `--slow`
read it."""

from dataclasses import dataclass
from pathlib import Path

from src.training.vgg_layers import LossLayers


@dataclass(frozen=True)
class Distillation:
    """--distill-from: the student learns the teacher's pictures instead of a style's."""

    teacher: Path  # any checkpoint evaluate.py reads
    pixel_weight: float = 1.0  # the feature loss (with --vgg-path) is weighed by content_weight
    texture_weight: float = 0.0  # the Gram match to the teacher's pictures (with --vgg-path)


@dataclass(frozen=True)
class TrainingSettings:
    layers: LossLayers  # the VGG layers of the style and content losses
    content_weight: float
    style_weight: float
    tv_weight: float
    checkpoint_dir: Path | None = None  # None only for --slow
    train_path: Path | None = None
    test_dir: Path | None = None  # previews (training) or the optimized picture (--slow)
    epochs: int = 2  # --slow: iterations when 10 or more
    batch_size: int = 4
    checkpoint_iterations: int = 2000
    learning_rate: float = 1e-3
    image_size: int = 256
    precision: str = "auto"
    seed: int | None = None  # None: a fresh one, kept in the checkpoint for resuming
    temporal_weight: float = 0.0  # the stability term (src/training/objective.py); 0: none
    width: float = 1.0  # the transform network's channels, as a fraction of the original's
    residual_blocks: int = 5
    distill: Distillation | None = None  # content_weight then weighs the feature loss
