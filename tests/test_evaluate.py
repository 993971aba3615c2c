import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import evaluate
from tests.fixtures import ROOT, heic, loaded, photo, run_main, tensorflow_log_lines, unquieted_environment
from tests.numpy_reference import transform_net as reference_net
from src.stylize import Stylizer



def save(path, height, width, seed=0, mode="RGB", **options):
    image = Image.fromarray(photo(height, width, seed).astype(np.uint8)).convert(mode)
    image.save(path, **options)
    return path


def run(capsys, *argv):
    """evaluate.main in-process -> (exit status, stderr)."""
    return run_main(evaluate.main, capsys, *argv)


def test_odd_size_image_keeps_its_size_and_the_original_pixels(tmp_path, capsys, tf1_checkpoints, original_arrays):
    source = save(tmp_path / "in.png", 190, 338)
    # float32: the original's precision (bfloat16, --precision auto on AMX CPUs, is checked in test_inference.py).
    argv = ["--checkpoint", tf1_checkpoints["v1"], "--precision", "float32", "--in-path", source, "--out-path", tmp_path / "out.png"]
    status, err = run(capsys, *argv)
    assert status == 0, err
    output = np.asarray(Image.open(tmp_path / "out.png")).astype(np.float64)
    assert output.shape == (190, 338, 3)
    expected = np.clip(reference_net(np.asarray(Image.open(source), np.float32)[None], original_arrays)[0, :190, :338], 0, 255)
    assert np.abs(output - expected).max() <= 1.0
    assert "stylized 1 of 1 image" in err


def test_output_format_follows_the_out_path(tmp_path, capsys, model_file):
    source = save(tmp_path / "in.jpg", 20, 30)
    for name, fmt in [("o.png", "PNG"), ("o.webp", "WEBP"), ("o.tiff", "TIFF")]:
        assert run(capsys, "--checkpoint", model_file, "--in-path", source, "--out-path", tmp_path / name)[0] == 0
        assert loaded(tmp_path / name).format == fmt


def test_phone_photos_in_heic_come_out_as_jpeg(tmp_path, capsys, model_file):
    folder = tmp_path / "phone"
    folder.mkdir()
    heic(folder / "IMG_0001.HEIC", photo(20, 30).astype(np.uint8), orientation=6)
    save(folder / "IMG_0001.jpg", 20, 30)  # an edited copy beside it keeps its own result
    status, err = run(capsys, "--checkpoint", model_file, "--in-path", folder, "--out-path", tmp_path / "out")
    assert status == 0, err
    assert sorted(os.listdir(tmp_path / "out")) == ["IMG_0001.HEIC.jpg", "IMG_0001.jpg"]
    assert loaded(tmp_path / "out" / "IMG_0001.HEIC.jpg").size == (20, 30)  # upright, as the phone showed it
    assert "IMG_0001.HEIC: cannot write that format; writing IMG_0001.HEIC.jpg" in err
    # One photo into a folder: named after it, as JPEG; into a .heic file: refused before any work.
    one = f"{tmp_path / 'one'}{os.sep}"  # a folder, to be made
    assert run(capsys, "--checkpoint", model_file, "--in-path", folder / "IMG_0001.HEIC", "--out-path", one)[0] == 0
    assert os.listdir(tmp_path / "one") == ["IMG_0001.jpg"]
    status, err = run(capsys, "--checkpoint", model_file, "--in-path", folder / "IMG_0001.HEIC", "--out-path", tmp_path / "o.heic")
    assert status == 2 and "cannot write images with extension '.heic'" in err


def test_missing_output_folders_are_created(tmp_path, capsys, model_file):
    source = save(tmp_path / "in.jpg", 20, 30)
    assert run(capsys, "--checkpoint", model_file, "--in-path", source, "--out-path", tmp_path / "new" / "deeper" / "o.png")[0] == 0
    assert loaded(tmp_path / "new" / "deeper" / "o.png").size == (30, 20)
    (tmp_path / "blocker").write_text("a file where a folder should be")
    status, err = run(capsys, "--checkpoint", model_file, "--in-path", source, "--out-path", tmp_path / "blocker" / "o.png")
    assert status == 2 and "cannot create folder" in err and "blocker is a file, not a folder" in err


def test_file_into_an_existing_folder(tmp_path, capsys, model_file):
    source = save(tmp_path / "in.jpg", 20, 30)
    (tmp_path / "out").mkdir()
    assert run(capsys, "--checkpoint", model_file, "--in-path", source, "--out-path", tmp_path / "out")[0] == 0
    assert loaded(tmp_path / "out" / "in.jpg").size == (30, 20)


def test_folder_with_mixed_sizes_and_broken_files(tmp_path, capsys, model_file):
    photos = tmp_path / "photos"
    photos.mkdir()
    sizes = {"a.jpg": (40, 60), "b.png": (41, 33), "c.jpg": (40, 60), "d.bmp": (7, 5), "e.png": (120, 90)}
    for i, (name, size) in enumerate(sizes.items()):
        save(photos / name, *size, seed=i)
    (photos / "notes.txt").write_text("shopping list\n")
    (photos / "broken.jpg").write_bytes((photos / "a.jpg").read_bytes()[:300])
    (photos / "empty.png").write_bytes(b"")
    (photos / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")  # a video's start
    (photos / "subfolder").mkdir()
    status, err = run(capsys, "--checkpoint", model_file, "--in-path", photos, "--out-path", tmp_path / "styled")
    assert status == 1
    for name, (height, width) in sizes.items():
        assert loaded(tmp_path / "styled" / name).size == (width, height)
    assert sorted(os.listdir(tmp_path / "styled")) == sorted(sizes)
    for bad in ("notes.txt", "broken.jpg"):
        assert f"{bad}: not a readable image" in err
    assert "empty.png: an empty file" in err
    assert "clip.mp4: a video, not an image (transform_video.py stylizes videos)" in err
    assert "stylized 5 of 9 images" in err and "4 inputs failed" in err
    assert "Traceback" not in err


@pytest.mark.skipif(sys.platform != "linux", reason="names that are not UTF-8 are Linux file systems' own")
def test_photos_named_in_latin1_from_an_old_archive(tmp_path, capsys, model_file):
    photos = tmp_path / "photos"
    photos.mkdir()
    save(photos / os.fsdecode(b"caf\xe9.png"), 12, 10)
    status, err = run(capsys, "--checkpoint", model_file, "--in-path", photos, "--out-path", tmp_path / "styled")
    assert status == 0 and "stylized 1 of 1 image" in err
    assert os.listdir(os.fsencode(tmp_path / "styled")) == [b"caf\xe9.png"]


def test_readable_images_in_unwritable_formats_come_out_as_png_with_a_note(tmp_path, capsys, model_file):
    photos = tmp_path / "photos"
    photos.mkdir()
    save(photos / "scan.data", 12, 10, format="PNG")  # Pillow reads it by its content
    save(photos / "a.png", 12, 10)
    save(photos / "a.data", 8, 6, format="PNG")  # a.png is taken: a.data.png
    (photos / "notes.txt").write_text("shopping list\n")
    status, err = run(capsys, "--checkpoint", model_file, "--in-path", photos, "--out-path", tmp_path / "styled")
    assert status == 1
    assert sorted(os.listdir(tmp_path / "styled")) == ["a.data.png", "a.png", "scan.png"]
    assert loaded(tmp_path / "styled" / "a.data.png").size == (6, 8)
    assert "scan.data: cannot write that format; writing scan.png" in err
    assert "a.data: cannot write that format; writing a.data.png" in err
    # A text file is not an image: it is named as skipped, with no promise of a PNG.
    assert "notes.txt: not a readable image" in err and "writing notes.png" not in err


def test_folder_of_good_images_exits_zero_and_batches_same_sizes(tmp_path, capsys, model_file, monkeypatch):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(5):
        save(photos / f"same{i}.png", 24, 16, seed=i)
    for i in range(2):
        save(photos / f"other{i}.png", 16, 24, seed=i)
    shapes = []
    original_call = Stylizer.__call__

    def spy(self, images):
        shapes.append(images.shape)
        return original_call(self, images)

    monkeypatch.setattr(Stylizer, "__call__", spy)
    status, err = run(capsys, "--checkpoint", model_file, "--batch-size", 4, "--in-path", photos, "--out-path", tmp_path / "o")
    assert status == 0, err
    # Sorted names put other* first; each size is one group, cut into batches of at most 4.
    assert shapes == [(2, 16, 24, 3), (4, 24, 16, 3), (1, 24, 16, 3)]
    assert len(os.listdir(tmp_path / "o")) == 7


def test_batched_and_single_results_are_the_same(tmp_path, capsys, model_file):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        save(photos / f"p{i}.png", 24, 16, seed=i)
    # float32: in bfloat16 the rounding of the accumulations may depend on the batch's shape.
    common = ["--checkpoint", model_file, "--precision", "float32", "--in-path", photos]
    assert run(capsys, *common, "--batch-size", 3, "--out-path", tmp_path / "b3")[0] == 0
    assert run(capsys, *common, "--batch-size", 1, "--out-path", tmp_path / "b1")[0] == 0
    for i in range(3):
        a = np.asarray(Image.open(tmp_path / "b3" / f"p{i}.png"), np.int16)
        b = np.asarray(Image.open(tmp_path / "b1" / f"p{i}.png"), np.int16)
        assert np.abs(a - b).max() <= 1


def test_alpha_and_orientation_survive(tmp_path, capsys, model_file):
    image = Image.fromarray(photo(20, 30).astype(np.uint8))
    alpha = Image.fromarray((np.arange(600).reshape(20, 30) % 256).astype(np.uint8))
    image.putalpha(alpha)
    image.save(tmp_path / "a.png")
    assert run(capsys, "--checkpoint", model_file, "--in-path", tmp_path / "a.png", "--out-path", tmp_path / "ao.png")[0] == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "ao.png"))[..., 3], np.asarray(alpha))

    rotated = Image.fromarray(photo(20, 30).astype(np.uint8))
    exif = rotated.getexif()
    exif[0x0112] = 8
    rotated.save(tmp_path / "r.jpg", exif=exif)
    assert run(capsys, "--checkpoint", model_file, "--in-path", tmp_path / "r.jpg", "--out-path", tmp_path / "ro.jpg")[0] == 0
    assert loaded(tmp_path / "ro.jpg").size == (20, 30)


def test_grayscale_and_cmyk_inputs(tmp_path, capsys, model_file):
    save(tmp_path / "g.png", 20, 30, mode="L")
    save(tmp_path / "c.jpg", 20, 30, mode="CMYK")
    for name in ("g.png", "c.jpg"):
        assert run(capsys, "--checkpoint", model_file, "--in-path", tmp_path / name, "--out-path", tmp_path / f"o{name}")[0] == 0
        assert loaded(tmp_path / f"o{name}").mode == "RGB"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--in-path", "{tmp}/missing.jpg", "--out-path", "{tmp}/o.jpg"], "--in-path {tmp}/missing.jpg does not exist"),
        (["--in-path", "{tmp}/in.jpg", "--out-path", "{tmp}/in.jpg"], "is the input itself"),
        (["--in-path", "{tmp}/in.jpg", "--out-path", "{tmp}/o.xyz"], "cannot write images with extension '.xyz'"),
        (["--in-path", "{tmp}/clip.MOV", "--out-path", "{tmp}/o.jpg"], "is a video: transform_video.py stylizes videos"),
        (["--in-path", "{tmp}", "--out-path", "{tmp}"], "would overwrite the inputs"),
        (["--in-path", "{tmp}", "--out-path", "{tmp}/in.jpg"], "must be a folder"),
        (["--in-path", "{tmp}", "--out-path", "{tmp}/new/one.jpg"], "{tmp}/new/one.jpg is named like an image; give a folder such as {tmp}/new/one/"),
        (["--in-path", "{tmp}/in.jpg", "--out-path", "{tmp}/o.jpg", "--batch-size", "0"], "must be at least 1"),
        (["--in-path", "{tmp}/in.jpg", "--out-path", "{tmp}/o.jpg", "--device", "tpu"], "invalid device 'tpu'"),
        (["--in-path", "{tmp}/in.jpg", "--out-path", "{tmp}/o.jpg", "--checkpoint", "{tmp}/in.jpg"], "is not a checkpoint"),
        (["--in-path", "{tmp}/in.jpg", "--out-path", "{tmp}/o.jpg", "--checkpoint", "{tmp}/nope"], "does not exist"),
        (["--in-path", "https://example.com/cat.jpg", "--out-path", "{tmp}/o.jpg"], "https://example.com/cat.jpg is a web address"),
        (["--in-path", "{tmp}/in.jpg", "--out-path", "{tmp}/o.jpg", "--checkpoint", "http://x.org/m.keras"], "is a web address"),
    ],
)
def test_user_mistakes_are_clear_errors(tmp_path, capsys, argv, message):
    save(tmp_path / "in.jpg", 10, 10)
    (tmp_path / "clip.MOV").write_bytes(b"\x00\x00\x00\x14ftypqt  ")
    before = (tmp_path / "in.jpg").read_bytes()
    status, err = run(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert status == 2
    assert message.format(tmp=tmp_path) in err
    assert (tmp_path / "in.jpg").read_bytes() == before
    assert not (tmp_path / "new").exists()  # a refused run makes no folder


def test_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    status, err = run(capsys, "--in-path", tmp_path / "empty", "--out-path", tmp_path / "o")
    assert status == 1 and "no files in" in err


def test_folders_inside_the_input_folder_are_named_and_not_searched(tmp_path, capsys, model_file):
    photos = tmp_path / "photos"
    for year in ("2024", "2025"):
        (photos / year).mkdir(parents=True)
        save(photos / year / "a.jpg", 20, 30)
    status, err = run(capsys, "--checkpoint", model_file, "--in-path", photos, "--out-path", tmp_path / "o")
    assert status == 1 and "note: 2 folders in" in err and "(2024, 2025) not searched" in err and "no files in" in err
    save(photos / "top.jpg", 20, 30)
    status, err = run(capsys, "--checkpoint", model_file, "--in-path", photos, "--out-path", tmp_path / "o")
    assert status == 0 and "(2024, 2025) not searched" in err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["top.jpg"]


def test_a_pattern_selects_the_images_it_matches(tmp_path, capsys, model_file):
    """As Windows' shells pass `--in-path photos\\*.jpg` on, and every shell a quoted pattern."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.jpg", "b.jpg", "c.png"):
        save(photos / name, 20, 30)
    (photos / "d.jpg").mkdir()  # a folder the pattern matches: not a photo
    status, err = run(capsys, "--checkpoint", model_file, "--in-path", photos / "*.jpg", "--out-path", tmp_path / "o")
    assert status == 0, err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.jpg", "b.jpg"]
    status, err = run(capsys, "--checkpoint", model_file, "--in-path", photos / "a*", "--out-path", tmp_path / "o1")
    assert status == 0 and err.strip().endswith(f"stylized 1 of 1 image into {tmp_path / 'o1'}")  # the folder
    for out_path, message in (
        (tmp_path / "one.jpg", "--in-path is a pattern, so --out-path must be a folder, but"),
        (photos, "is the input itself"),
    ):
        status, err = run(capsys, "--checkpoint", model_file, "--in-path", photos / "[ab].jpg", "--out-path", out_path)
        assert status == 2 and message in err
    status, err = run(capsys, "--in-path", photos / "*.gif", "--out-path", tmp_path / "o")
    assert status == 2 and "matches no file" in err
    (tmp_path / "more").mkdir()
    save(tmp_path / "more" / "a.jpg", 20, 30)
    status, err = run(capsys, "--in-path", tmp_path / "*" / "a.jpg", "--out-path", tmp_path / "o2")
    assert status == 2 and "whose results would take one name" in err and not (tmp_path / "o2").exists()
    status, err = run(capsys, "--in-path", photos / "e.jpg", "--out-path", tmp_path / "o")
    assert status == 2 and "e.jpg does not exist" in err  # no wildcard: a missing file, as before


def test_default_model_and_compatibility_flag(tmp_path, capsys):
    source = save(tmp_path / "in.jpg", 36, 52)
    status, err = run(capsys, "--in-path", source, "--out-path", tmp_path / "o.jpg", "--allow-different-dimensions", "--device", "/cpu:0")
    assert status == 0, err
    assert loaded(tmp_path / "o.jpg").size == (52, 36)


@pytest.mark.parametrize("script", ["evaluate", "transform_video", "style", "export"])
def test_help_imports_nothing_heavy(script):
    # --help must not wait for NumPy, Pillow, Keras or TensorFlow: the scripts import them lazily.
    code = f"import sys, {script}; {script}.build_parser(); print(sorted(m for m in ('numpy', 'PIL', 'keras', 'tensorflow', 'jax') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_command_line_help_is_instant_and_errors_have_no_traceback(tmp_path):
    started = time.perf_counter()
    help_run = subprocess.run([sys.executable, "evaluate.py", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert help_run.returncode == 0 and "--allow-different-dimensions" in help_run.stdout
    assert time.perf_counter() - started < 3
    (tmp_path / "bad.jpg").write_bytes(b"junk")
    bad = subprocess.run(
        [sys.executable, "evaluate.py", "--in-path", tmp_path / "bad.jpg", "--out-path", tmp_path / "o.jpg"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1
    assert "bad.jpg: not a readable image" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "o.jpg").exists()


def test_evaluate_runs_on_the_jax_backend(tmp_path, model_file):
    pytest.importorskip("jax")
    source = save(tmp_path / "in.png", 21, 34)
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    outputs = {}
    for backend, environment in (("jax", env), ("tensorflow", os.environ)):
        target = tmp_path / f"{backend}.png"
        done = subprocess.run(
            [sys.executable, "evaluate.py", "--checkpoint", model_file, "--precision", "float32", "--in-path", source, "--out-path", target],
            cwd=ROOT, env=environment, capture_output=True, text=True,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        outputs[backend] = np.asarray(Image.open(target), np.int16)
    assert np.abs(outputs["jax"] - outputs["tensorflow"]).max() <= 1


def test_a_good_run_prints_no_tensorflow_log_lines(tmp_path, model_file):
    # TensorFlow's C++ start-up messages (oneDNN notices, "failed call to cuInit" on machines
    # without an NVIDIA driver) are noise to a user; the progress bar and summary are all we print.
    source = save(tmp_path / "in.png", 21, 34)
    done = subprocess.run(
        [sys.executable, "evaluate.py", "--checkpoint", model_file, "--in-path", source, "--out-path", tmp_path / "o.png"],
        cwd=ROOT, env=unquieted_environment(), capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert tensorflow_log_lines(done.stderr) == []
    assert "stylized 1 of 1 image" in done.stdout + done.stderr


def test_an_input_that_links_to_its_output_is_never_overwritten(tmp_path, capsys, model_file):
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    original = save(tmp_path / "out" / "coffee.jpg", 20, 30)
    before = original.read_bytes()
    (tmp_path / "in" / "coffee.jpg").symlink_to(original)
    status, err = run(capsys, "--checkpoint", model_file, "--in-path", tmp_path / "in", "--out-path", tmp_path / "out")
    assert status == 2 and "is the input" in err and "never overwritten" in err
    assert original.read_bytes() == before
    os.link(original, tmp_path / "hard.jpg")  # a hard link: the same file under another name
    status, err = run(capsys, "--checkpoint", model_file, "--in-path", tmp_path / "hard.jpg", "--out-path", original)
    assert status == 2 and "is the input itself" in err
    assert original.read_bytes() == before


def test_a_refused_run_leaves_no_new_folders(tmp_path, capsys, model_file):
    source = save(tmp_path / "in.jpg", 20, 30)
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK not a model")
    status, err = run(capsys, "--checkpoint", broken, "--in-path", source, "--out-path", tmp_path / "newA" / "newB" / "o.png")
    assert status == 2 and "--checkpoint" in err
    assert not (tmp_path / "newA").exists()


def test_notes_for_animations_and_named_broken_links(tmp_path, capsys, model_file):
    folder = tmp_path / "in"
    folder.mkdir()
    frames = [Image.fromarray(photo(20, 30, seed).astype(np.uint8)) for seed in range(2)]
    frames[0].save(folder / "a.gif", save_all=True, append_images=frames[1:])
    (folder / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    status, err = run(capsys, "--checkpoint", model_file, "--in-path", folder, "--out-path", tmp_path / "out")
    assert status == 1
    assert "note: a.gif: an animation of 2 frames" in err and "stylized 1 of 2 images" in err
    assert "gone.jpg: a link to" in err


def test_stale_temporaries_of_a_killed_run_are_removed(tmp_path, capsys, model_file):
    source = save(tmp_path / "in.jpg", 20, 30)
    (tmp_path / "out").mkdir()
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    stale = tmp_path / "out" / f".in.jpg.{process.pid}.tmp"
    stale.write_bytes(b"half an image")
    assert run(capsys, "--checkpoint", model_file, "--in-path", source, "--out-path", tmp_path / "out")[0] == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["in.jpg"]


@pytest.mark.parametrize("extension", [".ico", ".icns"])
def test_icon_out_paths_are_refused_before_the_network_runs(tmp_path, capsys, model_file, extension):
    source = save(tmp_path / "in.jpg", 300, 451)
    status, err = run(capsys, "--checkpoint", model_file, "--in-path", source, "--out-path", tmp_path / f"o{extension}")
    assert status == 2 and "icon sizes only" in err
