"""src/training/distill.py: the distillation objective's terms against NumPy, the student's start
from the teacher's strongest channels, and style.py --distill-from end to end (train, resume,
evaluate.py, tiles and export on the student, and its argument errors)."""

import re

import numpy as np
import pytest

import evaluate
import style
from src.checkpoints import load_model, save_model
from src.stylize import Stylizer
from src.training.distill import DistillObjective, TeacherTargets, _strongest, start_from_teacher
from src.training.train_state import read_state
from src.transform import build_transform_net
from src.training.vgg import build_vgg, load_vgg_weights
from src.training.vgg_layers import LossLayers
from tests.fixtures import count_blocked_calls, loaded, noise_images, photo, random_network
from tests.numpy_reference import gram, numpy_vgg
from tests.vgg_files import random_weights, write_keras


def distill_args(data, teacher, directory, *extra):
    return [
        "--distill-from", str(teacher), "--checkpoint-dir", str(directory), "--train-path", str(data["train"]),
        "--image-size", "16", "--seed", "3", "--precision", "float32", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def teacher_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("teacher") / "teacher.keras"
    save_model(random_network(num_styles=2, seed=4), path)
    return path


def test_pixel_term_is_the_mean_squared_difference():
    teacher, student = random_network(seed=1), build_transform_net(width=0.25, residual_blocks=2)
    images = noise_images(12, 17, count=2)
    weights = np.eye(1, dtype=np.float32)[[0, 0]]
    targets = np.asarray(teacher(images))
    terms = DistillObjective(student, 2.5, batch_size=2)({"images": images, "style_weights": weights, "targets": targets})
    expected = 2.5 * np.mean((np.asarray(student(images)) - targets) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(np.asarray(terms["pixel"]), expected, rtol=1e-4)
    assert set(terms) == {"pixel"}


def test_the_training_step_runs_the_students_convolutions_on_blocks(monkeypatch):
    """fit's step tells the student it is training, which on the CPU computes its first and last
    convolutions on blocks of pixels (src/pixel_blocks.py)."""
    import keras

    calls = count_blocked_calls(monkeypatch)
    student = build_transform_net(width=0.25, residual_blocks=1)
    images = noise_images(16, 20, count=2)
    objective = DistillObjective(student, 1.0, batch_size=2)
    objective.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = np.asarray(student.blocks[-1].conv.kernel)
    objective.train_on_batch({"images": images, "style_weights": np.ones((2, 1), np.float32), "targets": images})
    # The first and last convolution, in each trace of the step.
    assert calls and len(calls) % 2 == 0
    assert np.abs(np.asarray(student.blocks[-1].conv.kernel) - before).max() > 0


def test_texture_term_is_the_gram_distance_to_the_teachers_pictures(tmp_path):
    weights = random_weights(width=4, seed=8, network="VGG16")
    vgg_weights = load_vgg_weights(write_keras(tmp_path / "vgg16.h5", weights))
    vgg = build_vgg(vgg_weights, LossLayers(("relu1_2", "relu2_1"), "relu2_2"))
    teacher, student = random_network(seed=2), build_transform_net(width=0.25, residual_blocks=1)
    images = noise_images(14, 19, count=2)
    style_weights = np.eye(1, dtype=np.float32)[[0, 0]]
    targets = np.asarray(teacher(images))
    objective = DistillObjective(student, 1.0, 2, vgg, feature_weight=0.0, texture_weight=3.0)
    terms = objective({"images": images, "style_weights": style_weights, "targets": targets})
    assert set(terms) == {"pixel", "texture"}
    mine = numpy_vgg(np.asarray(student(images)), weights, vgg_weights.mean, last="relu2_1")
    theirs = numpy_vgg(targets, weights, vgg_weights.mean, last="relu2_1")
    layers = ("relu1_2", "relu2_1")
    distance = [
        sum(np.sum((gram(mine[k][b]) - gram(theirs[k][b])) ** 2) / mine[k].shape[-1] ** 2 for k in layers) for b in (0, 1)
    ]
    expected = 3.0 * np.array(distance)
    np.testing.assert_allclose(np.asarray(terms["texture"]), expected, rtol=2e-3)
    # The teacher's own pictures have nothing to learn.
    same = DistillObjective(teacher, 1.0, 2, vgg, texture_weight=3.0)
    terms = same({"images": images, "style_weights": style_weights, "targets": targets})
    np.testing.assert_allclose(np.asarray(terms["texture"]), 0.0, atol=1e-6)


def test_teacher_targets_are_the_teachers_raw_pictures_of_each_style():
    teacher = random_network(num_styles=2, seed=5)
    images = noise_images(13, 18, count=3)
    targets = TeacherTargets(teacher, "float32")
    for style in (1, 0):
        expected = np.asarray(teacher(images, np.eye(2, dtype=np.float32)[[style] * 3]))
        np.testing.assert_allclose(targets(images, style), expected, rtol=1e-4, atol=1e-3)
    # Unclipped: the tanh * 150 + 127.5 of a random network goes past 0..255 somewhere.
    assert targets(images, 0).min() < 0 or targets(images, 0).max() > 255


def test_teacher_targets_are_kept_per_photo_and_style_within_the_budget():
    teacher = random_network(num_styles=2, seed=6)
    images = noise_images(12, 16, count=3)
    targets = TeacherTargets(teacher, "float32")
    first = targets(images[:2], 0)
    mixed = targets(images[[1, 2]], 0)  # one kept, one new
    assert (targets.computed, targets.reused) == (3, 1)
    np.testing.assert_array_equal(mixed[0], first[1])
    targets(images[:1], 1)  # another style is another picture
    assert (targets.computed, targets.reused) == (4, 1)
    assert targets.kept_bytes == 4 * images[0].nbytes
    nothing_kept = TeacherTargets(teacher, "float32", budget=0)
    again = [nothing_kept(images[:2], 0) for _ in range(2)]
    assert (nothing_kept.computed, nothing_kept.reused, nothing_kept.kept_bytes) == (4, 0, 0)
    np.testing.assert_allclose(again[0], again[1], rtol=1e-5)


def test_a_student_as_large_as_its_teacher_starts_as_the_teacher():
    teacher = random_network(num_styles=2, seed=2)
    student = build_transform_net(2, teacher.style_names)
    start_from_teacher(student, teacher)
    image = photo(21, 30)[None]
    for weights in (np.float32([1, 0]), np.float32([0.3, 0.7])):
        np.testing.assert_array_equal(student(image, weights), teacher(image, weights))


def test_a_slim_student_starts_with_the_teachers_strongest_channels():
    teacher = random_network(seed=3)
    student = build_transform_net(width=0.5, residual_blocks=2)
    start_from_teacher(student, teacher)
    conv1, small = teacher.blocks[0], student.blocks[0]
    keep = _strongest([conv1.norm], 16)
    strength = np.abs(np.asarray(conv1.norm.scale))[0]
    assert strength[keep].min() >= np.delete(strength, keep).max()
    np.testing.assert_array_equal(np.asarray(small.conv.kernel), np.asarray(conv1.conv.kernel)[..., keep])
    np.testing.assert_array_equal(np.asarray(small.norm.scale), np.asarray(conv1.norm.scale)[:, keep])
    # The residual stream keeps one set of channels: conv3's outputs are residual1's inputs.
    conv3, residual = student.blocks[2], student.blocks[3]
    stream = _strongest([teacher.blocks[2].norm] + [b.conv2.norm for b in teacher.blocks[3:5]], 64)
    np.testing.assert_array_equal(np.asarray(conv3.norm.shift), np.asarray(teacher.blocks[2].norm.shift)[:, stream])
    assert residual.conv1.conv.kernel.shape[2] == 64
    image = photo(16, 20)[None]
    assert np.isfinite(np.asarray(student(image))).all()


def test_a_deeper_student_starts_as_the_teacher_with_its_extra_blocks_the_identity():
    teacher = random_network(num_styles=2, seed=4)
    student = build_transform_net(2, teacher.style_names, residual_blocks=7)
    start_from_teacher(student, teacher)
    image = photo(19, 26)[None]
    for weights in (np.float32([1, 0]), np.float32([0.4, 0.6])):
        np.testing.assert_allclose(student(image, weights), teacher(image, weights), atol=1e-3)
    extra = student.blocks[3 + 5]
    assert not np.asarray(extra.conv2.norm.scale).any()
    assert np.asarray(extra.conv1.conv.kernel).std() > 0  # its first convolution still learns from a random start


def test_a_wider_student_keeps_its_random_start():
    teacher, student = random_network(seed=5), build_transform_net(width=1.5)
    before = [w.copy() for w in student.get_weights()]
    start_from_teacher(student, teacher)
    for a, b in zip(before, student.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_distill_trains_resumes_and_the_student_works_everywhere(training_data, teacher_file, tmp_path, capsys):
    directory, previews = tmp_path / "student", tmp_path / "previews"
    test = ["--test", str(training_data["test"]), "--test-dir", str(previews)]
    argv = distill_args(training_data, teacher_file, directory, "--width", "0.25", "--residual-blocks", "2", *test)
    assert style.main([*argv, "--epochs", "1"]) == 0
    err = capsys.readouterr().err
    assert "pixel" in err and read_state(directory).iteration == 3
    assert {"0_3_style_0.png", "0_3_style_1.png"} <= {p.name for p in previews.iterdir()}  # both styles
    student = load_model(directory)
    assert (student.width, student.residual_blocks, student.num_styles) == (0.25, 2, 2)
    assert student.blocks[0].filters == 8 and len(student.blocks) == 8
    assert style.main([*argv, "--epochs", "2"]) == 0
    assert "resumed from iteration 3" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        style.main([*argv[:-6], "--width", "0.5", "--epochs", "3"])
    assert exit_info.value.code == 2 and "--width was 0.25, now 0.5" in capsys.readouterr().err

    # The student is a TransformNet like any other: evaluate.py, mixing its two styles, tiles.
    out = tmp_path / "out.png"
    common = ["--checkpoint", str(directory), "--in-path", str(training_data["test"]), "--precision", "float32"]
    assert evaluate.main([*common, "--out-path", str(out), "--style-weights", "1", "1", "--strength", "0.7"]) == 0
    assert loaded(out).size == (27, 21)
    image = photo(75, 97)[None]
    whole = Stylizer(load_model(directory), precision="float32")(image)
    tiled = Stylizer(load_model(directory), precision="float32", tile_size=32)(image)
    np.testing.assert_allclose(tiled, whole, atol=0.05)


def test_distill_with_a_feature_loss(training_data, tmp_path, capsys):
    teacher = tmp_path / "single.keras"
    save_model(random_network(seed=6), teacher)
    argv = distill_args(training_data, teacher, tmp_path / "s", "--width", "0.5", "--epochs", "2")
    assert style.main([*argv, "--vgg-path", str(training_data["vgg16_h5"]), "--content-weight", "3"]) == 0
    err = capsys.readouterr().err
    assert "feature" in err and "pixel" in err
    # 13 readable photos, 3 batches of 4 an epoch: the second epoch repaints at most the one the
    # first left out (Keras asks for some batches twice: those are reused too).
    painted, reused = map(int, re.search(r"teacher's pictures: (\d+) painted, (\d+) reused", err).groups())
    assert painted <= 13 and reused >= 11


def test_distill_refines_a_student_from_start_from_with_a_texture_loss(training_data, teacher_file, tmp_path, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    argv = distill_args(training_data, teacher_file, first, "--width", "0.25", "--residual-blocks", "2")
    assert style.main([*argv, "--epochs", "1"]) == 0
    start = load_model(first)
    vgg = ["--vgg-path", str(training_data["vgg16_h5"]), "--content-weight", "0", "--style-weight", "0.01"]
    refine = distill_args(training_data, teacher_file, second, "--start-from", str(first), *vgg, "--epochs", "1")
    assert style.main([*refine, "--learning-rate", "1e-9"]) == 0
    err = capsys.readouterr().err
    assert "texture" in err and "feature" not in err
    student = load_model(second)
    assert (student.width, student.residual_blocks) == (0.25, 2)
    # A learning rate too small to move anything: the refined student is still the one it started from.
    for a, b in zip(start.get_weights(), student.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    with pytest.raises(SystemExit) as exit_info:  # a resume with another start is another run
        style.main([*distill_args(training_data, teacher_file, second, *vgg, "--epochs", "2")])
    assert exit_info.value.code == 2 and "--start-from is another network" in capsys.readouterr().err


def test_start_from_must_paint_the_teachers_styles(training_data, teacher_file, tmp_path, capsys):
    other = tmp_path / "other.keras"
    save_model(random_network(seed=9), other)  # one style; the teacher has two
    with pytest.raises(SystemExit) as exit_info:
        style.main(distill_args(training_data, teacher_file, tmp_path / "s", "--start-from", str(other)))
    assert exit_info.value.code == 2 and "start from a network of the teacher's styles" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--style", "x.jpg"], "--style belongs to learning a style"),
        (["--tv-weight", "1"], "--tv-weight belongs to learning a style"),
        (["--temporal-weight", "1"], "--temporal-weight belongs"),
        (["--slow", "--tv-weight", "1"], "--slow, --tv-weight belong to learning a style"),
        (["--content-weight", "2"], "--content-weight is for a loss through the network of --vgg-path: give both"),
        (["--style-weight", "2"], "--style-weight is for a loss through the network of --vgg-path: give both"),
        (["--style-layers", "relu1_2"], "--style-layers is for a loss through"),
        (["--vgg-path", "v.h5", "--style-layers", "relu1_2"], "--style-layers are those of the Gram term"),
        (["--start-from", "a.keras", "--width", "0.5"], "--start-from gives the network's width"),
        (["--width", "0"], "--width: must be a positive number"),
        (["--width", "5"], "--width must be at most 4"),
        (["--residual-blocks", "0"], "--residual-blocks: must be at least 1"),
    ],
)
def test_bad_distill_arguments(training_data, teacher_file, tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as exit_info:
        style.main(distill_args(training_data, teacher_file, tmp_path / "s", *extra))
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_distillation_defaults_to_its_own_learning_rate():
    parse = style.build_parser().parse_args
    common = ["--checkpoint-dir", "c"]
    assert style.learning_rate(parse([*common, "--distill-from", "t.keras"])) == style.DISTILL_LEARNING_RATE == 1e-2
    assert style.learning_rate(parse([*common, "--style", "s.jpg"])) == style.LEARNING_RATE == 1e-3
    assert style.learning_rate(parse([*common, "--distill-from", "t.keras", "--learning-rate", "0.004"])) == 0.004


def test_a_teacher_that_cannot_load_is_a_message(training_data, tmp_path, capsys):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(SystemExit) as exit_info:
        style.main(distill_args(training_data, broken, tmp_path / "s"))
    assert exit_info.value.code == 2 and "--distill-from: " in capsys.readouterr().err


def test_style_or_distill_is_required_and_pixel_weight_needs_distill(training_data, tmp_path, capsys):
    base = ["--checkpoint-dir", str(tmp_path / "s"), "--train-path", str(training_data["train"])]
    for argv, message in (
        (base, "required: --style (or --distill-from)"),
        ([*base, "--style", str(training_data["style"]), "--pixel-weight", "2"], "--pixel-weight goes with --distill-from"),
        ([*base, "--style", str(training_data["style"]), "--start-from", "a.keras"], "--start-from goes with --distill-from"),
    ):
        with pytest.raises(SystemExit):
            style.main(argv)
        assert message in capsys.readouterr().err
