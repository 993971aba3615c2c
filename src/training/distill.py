"""Distillation (style.py --distill-from): a slim transform network learns to paint, on photos,
the pictures a trained one paints. No style image and no loss network are needed: the teacher's
output is the target (a pixel loss). With a loss network (--vgg-path), two more terms can weigh
what the eye sees over exact pixel values: the content loss between the VGG features of the two
pictures ("feature"), and the style loss between their Gram matrices ("texture"): a student
trained on pixels alone paints smoother strokes than its teacher where it cannot place them
exactly (the mean of the strokes it might paint), and the Gram term asks for the teacher's
texture instead (bench/README.md).

    {"images": photos (B, H, W, 3) RGB 0..255, "style_weights": (B, S),
     "targets": the teacher's pictures of them (B, H, W, 3)}
        -> per-example {"pixel"[, "feature"][, "texture"]} terms (src/training/losses.py), each (B,)

The student is a TransformNet with the teacher's styles and its own width and residual blocks
(src/transform.py), so every script uses it unchanged. Both networks see the photos at 0..255,
as evaluate.py feeds them (src/pixels.py): the student is trained exactly as it will be used.
A multi-style teacher gives a multi-style student: step i teaches style i mod S, as training does.

The teacher's pictures come into the step as data ("targets", from `TeacherTargets`): made by
the inference arithmetic (src/inference.py) and kept per photo, so that distilling a small
folder for many epochs runs the teacher once per photo rather than once per step.
"""

import hashlib
import threading

import numpy as np
from keras import ops

from src.training import losses
from src.training.objective import TermsObjective, float32_features
from src.transform import ResidualBlock, build_transform_net


# The teacher's pictures kept for reuse: at most this share of the available memory, and this cap.
TARGET_MEMORY_SHARE, MAX_TARGET_BYTES = 0.125, 1 << 30


class DistillObjective(TermsObjective):
    def __init__(
        self, student, pixel_weight, batch_size, vgg=None, feature_weight=0.0, texture_weight=0.0, **kwargs
    ):
        """student: the TransformNet to train; vgg: the loss network for the feature and texture
        terms (its content layer and style layers), or None; a term of weight 0 is left out."""
        super().__init__(batch_size, **kwargs)
        self.maker, self.vgg = student, vgg
        if vgg is not None:
            vgg.trainable = False
        else:
            feature_weight = texture_weight = 0.0
        self.pixel_weight = float(pixel_weight)
        self.feature_weight, self.texture_weight = float(feature_weight), float(texture_weight)

    def call(self, inputs, training=None):
        images, style_weights = inputs["images"], inputs["style_weights"]
        target = ops.cast(inputs["targets"], "float32")
        # `training` reaches the student, as in StyleObjective (src/training/objective.py).
        predicted = ops.cast(self.maker(images, style_weights, training=training), "float32")
        terms = {"pixel": losses.pixel_loss(predicted, target, self.pixel_weight)}
        if self.feature_weight or self.texture_weight:
            mine, theirs = (float32_features(self.vgg, pictures) for pictures in (predicted, target))
            if self.feature_weight:
                layer = self.vgg.content_layer
                theirs_here = ops.stop_gradient(theirs[layer])
                terms["feature"] = losses.content_loss(mine[layer], theirs_here, self.feature_weight)
            if self.texture_weight:
                layers = self.vgg.style_layers
                grams = {layer: ops.stop_gradient(losses.gram(theirs[layer])) for layer in layers}
                mine_there = {layer: mine[layer] for layer in layers}
                terms["texture"] = losses.style_loss(mine_there, grams, self.texture_weight)
        return terms


class TeacherTargets:
    """(photos (B, H, W, 3) float32 0..255, style index) -> the teacher's pictures (B, H, W, 3)
    float32, the pixel loss's targets.

    The teacher's raw output, before the clip to 0..255 that the Stylizer applies, so that the
    student also learns where the teacher overshoots; computed by the Stylizer's forward pass
    (src/stylize.py's Network: the same function as the teacher's Keras call, its instance norms
    fused, its convolutions in `precision` where the image is wide enough) outside the training
    step, which it used to take about half of (bench/README.md). Each photo's picture is kept per style (keyed by a hash of its pixels)
    while `budget` bytes allow: the epochs after the first over a small folder reuse them all.
    """

    def __init__(self, teacher, precision, budget=None):
        from src.memory import available_memory

        self.teacher, self.precision = teacher, precision
        self.budget = min(TARGET_MEMORY_SHARE * available_memory(), MAX_TARGET_BYTES) if budget is None else budget
        self.kept_bytes, self.computed, self.reused = 0, 0, 0
        self._kept, self._networks, self._lock = {}, {}, threading.Lock()

    def __call__(self, images, style):
        images = np.ascontiguousarray(images, np.float32)
        keys = [(style, hashlib.blake2b(image.tobytes(), digest_size=16).digest()) for image in images]
        with self._lock:
            targets = np.empty(images.shape, np.float32)
            missing = []
            for i, key in enumerate(keys):
                if key in self._kept:
                    targets[i] = self._kept[key]
                else:
                    missing.append(i)
            if missing:
                targets[missing] = self._network(style).outputs(images[missing])
            for i in missing:
                if self.kept_bytes + targets[i].nbytes <= self.budget:
                    self._kept[keys[i]] = targets[i].copy()  # not a view that keeps the batch alive
                    self.kept_bytes += targets[i].nbytes
            self.computed += len(missing)
            self.reused += len(images) - len(missing)
        return targets

    def _network(self, style):
        """The teacher at one style, compiled once (open shapes): the Stylizer's forward pass and
        its precision rule (src/stylize.py), unclipped."""
        if style not in self._networks:
            from src.stylize import Network

            weights = np.eye(self.teacher.num_styles, dtype=np.float32)[style]
            self._networks[style] = Network(self.teacher, weights, precision=self.precision)
        return self._networks[style]


def distill(settings, teacher, vgg_weights=None, test=None, strategy=None, log=print, start=None):
    """Distill `teacher` (a loaded TransformNet) into a student of settings.width and
    settings.residual_blocks, in settings.checkpoint_dir; resumable like `train`. vgg_weights:
    the loss network's file for the feature and texture terms (settings.content_weight and
    settings.distill.texture_weight), or None. start: a loaded student of that width and depth
    to start from (to refine it), instead of the teacher's strongest channels."""
    from src.devices import resolve_training_precision
    from src.training.train import run_training

    distillation = settings.distill
    feature, texture = (settings.content_weight, distillation.texture_weight) if vgg_weights else (0.0, 0.0)
    recorded = {
        "styles": list(teacher.style_names),
        "teacher": fingerprint(teacher),
        # [pixel, feature], and texture's when it is on: the record of runs made before it existed.
        "loss_weights": [distillation.pixel_weight, feature] + ([texture] if texture else []),
        "content_layer": settings.layers.content if feature else None,
        "style_layers": list(settings.layers.style) if texture else None,
        "loss_network": f"{vgg_weights.network} {vgg_weights.fingerprint()}" if vgg_weights else None,
        "start": fingerprint(start) if start is not None else None,
    }

    def build():
        from src.training.vgg import build_vgg

        student = build_transform_net(teacher.num_styles, teacher.style_names, settings.width, settings.residual_blocks)
        if start is not None:
            student.set_weights(start.get_weights())
        else:
            start_from_teacher(student, teacher)
        vgg = build_vgg(vgg_weights, settings.layers) if vgg_weights else None
        return DistillObjective(student, distillation.pixel_weight, settings.batch_size, vgg, feature, texture)

    # The teacher computes in the run's number format: bfloat16 convolutions where training uses them.
    precision = "bfloat16" if resolve_training_precision(settings.precision) == "mixed_bfloat16" else "float32"
    targets = TeacherTargets(teacher, precision)
    outcome = run_training(settings, recorded, build, list(teacher.style_names), test, strategy, log, targets)
    if targets.reused:
        log(f"the teacher's pictures: {targets.computed} painted, {targets.reused} reused")
    return outcome


def start_from_teacher(student, teacher):
    """Give the student the teacher's strongest channels (largest mean |scale| of their instance
    norm over the styles: the channels that say most, as in Liu et al. 2017, "Network Slimming")
    and its first residual blocks. Such a sub-network of the teacher starts far closer to the
    teacher's pictures than random weights. Residual blocks beyond the teacher's start as the
    identity (Goyal et al. 2017's zero-initialised last scale), so a deeper student starts from
    the same sub-network and only adds capacity. Students wider than their teacher keep their
    random start."""
    front = [[b for b in net.blocks if not isinstance(b, ResidualBlock)] for net in (teacher, student)]
    residual = [[b for b in net.blocks if isinstance(b, ResidualBlock)] for net in (teacher, student)]
    if any(s.filters > t.filters for t, s in zip(front[0] + residual[0][:1], front[1] + residual[1][:1])):
        return
    teacher_residual = residual[0][: student.residual_blocks]
    # The residual stream (conv3 and each block's second convolution) keeps one set of channels,
    # so that every x + f(x) adds up the same channels.
    stream = _strongest([front[0][2].norm] + [r.conv2.norm for r in teacher_residual], front[1][2].filters)
    incoming = np.arange(3)
    for position, (mine, theirs) in enumerate(zip(front[1], front[0])):
        if position == 3:  # deconv1: after the residual blocks
            for small, large in zip(residual[1], teacher_residual):
                inner = _strongest([large.conv1.norm], small.conv1.filters)
                _copy(large.conv1, small.conv1, stream, inner)
                _copy(large.conv2, small.conv2, inner, stream)
            for extra in residual[1][len(teacher_residual) :]:
                for weight in (extra.conv2.norm.scale, extra.conv2.norm.shift):
                    weight.assign(np.zeros(weight.shape, np.float32))
        keep = stream if position == 2 else _strongest([theirs.norm], mine.filters)
        _copy(theirs, mine, incoming, keep)
        incoming = keep


def _strongest(norms, count):
    """The `count` channels with the largest mean |scale| summed over `norms`, in order."""
    strength = sum(np.abs(ops.convert_to_numpy(norm.scale)).mean(axis=0) for norm in norms)
    return np.sort(np.argsort(-strength, kind="stable")[:count])


def _copy(source, target, incoming, outgoing):
    """ConvBlock `source`'s weights for the `incoming` input and `outgoing` output channels -> `target`."""
    kernel = ops.convert_to_numpy(source.conv.kernel)
    # Keras keeps transposed kernels as (k, k, out, in), plain ones as (k, k, in, out).
    first, second = (outgoing, incoming) if source.transpose else (incoming, outgoing)
    target.conv.kernel.assign(kernel[:, :, first][:, :, :, second])
    target.norm.shift.assign(ops.convert_to_numpy(source.norm.shift)[:, outgoing])
    target.norm.scale.assign(ops.convert_to_numpy(source.norm.scale)[:, outgoing])


def fingerprint(model):
    """A short hash of a network's weights: a resume with another teacher is refused."""
    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights, np.float32).tobytes())
    return digest.hexdigest()[:16]
