"""Contact sheets: src/sheet.py's pieces, and evaluate.py --sheet end to end into tmp_path."""

import numpy as np
import pytest
from PIL import Image

import evaluate
from src.checkpoints import load_model, save_model
from src.sheet import GAP, LABEL_HEIGHT, contact_sheet, fit_within, model_paths, styles_of
from src.stylize import Stylizer
from tests.fixtures import loaded, photo, random_network, run_main


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A folder with two single-style models, a two-style one and a file that is not a model."""
    folder = tmp_path_factory.mktemp("sheet_models")
    save_model(random_network(seed=1), folder / "bravo.keras")
    save_model(random_network(seed=2), folder / "alpha.keras")
    save_model(random_network(num_styles=2, seed=3), folder / "pair.keras")
    (folder / "notes.txt").write_text("not a model")
    return folder


def run(capsys, *argv):
    """evaluate.main in-process -> (exit status, stderr)."""
    return run_main(evaluate.main, capsys, *argv)


def test_a_folder_of_models_is_its_models_in_order_and_files_stay_as_given(models, tmp_path):
    assert [p.name for p in model_paths([models])] == ["alpha.keras", "bravo.keras", "pair.keras"]
    assert model_paths([models / "pair.keras", models]) [0] == models / "pair.keras"
    with pytest.raises(ValueError, match="holds no models"):
        model_paths([tmp_path])


def test_labels_are_file_names_or_the_styles_of_a_multi_style_network(models):
    assert styles_of(models / "alpha.keras", load_model(models / "alpha.keras")) == [("alpha", None)]
    pair = styles_of(models / "pair.keras", load_model(models / "pair.keras"))
    assert [label for label, _ in pair] == list(load_model(models / "pair.keras").style_names)
    np.testing.assert_array_equal(pair[1][1], [0.0, 1.0])


def test_fit_within_shrinks_the_longer_side_and_never_enlarges():
    assert fit_within(photo(100, 300), 150).shape == (50, 150, 3)
    assert fit_within(photo(40, 30), 150).shape == (40, 30, 3)


def test_contact_sheet_places_every_picture_in_its_cell():
    cells = [(f"style {i}", np.full((20, 30, 3), 40 * i, np.float32)) for i in range(5)]
    sheet = contact_sheet(cells, columns=2)
    assert sheet.shape == (3 * (20 + LABEL_HEIGHT + GAP) + GAP, 2 * (30 + GAP) + GAP, 3)
    for index in range(5):
        top, left = GAP + (index // 2) * (20 + LABEL_HEIGHT + GAP), GAP + (index % 2) * (30 + GAP)
        assert (sheet[top : top + 20, left : left + 30] == 40 * index).all()
    label = sheet[GAP + 20 : GAP + 20 + LABEL_HEIGHT, GAP : GAP + 30]
    assert (label < 128).any(), "the label is written under the picture"
    with pytest.raises(ValueError):
        contact_sheet([])


def test_evaluate_sheet_is_the_photo_in_every_style_through_the_same_forward_path(models, tmp_path, capsys):
    source = tmp_path / "photo.png"
    Image.fromarray(photo(40, 60).astype(np.uint8)).save(source)
    out = tmp_path / "sheet.png"
    status, err = run(capsys, "--sheet", "--in-path", source, "--checkpoint", models, "--out-path", out, "--precision", "float32")
    assert status == 0, err
    assert "contact sheet of 4 styles" in err  # alpha, bravo and the pair's two
    assert "4/4" in err, "a progress bar of the styles done"
    sheet = np.asarray(Image.open(out)).astype(int)
    assert sheet.shape == (2 * (40 + LABEL_HEIGHT + GAP) + GAP, 3 * (60 + GAP) + GAP, 3)  # 5 cells, 3 a row
    cell = sheet[GAP : GAP + 40, 2 * GAP + 60 : 2 * GAP + 120]  # second cell: alpha
    expected = Stylizer(load_model(models / "alpha.keras"), precision="float32")(photo(40, 60).astype(np.uint8)[None])[0]
    assert np.abs(cell - np.rint(expected)).max() <= 1
    first = sheet[GAP : GAP + 40, GAP : GAP + 60]
    assert np.abs(first - photo(40, 60).astype(np.uint8)).max() <= 1  # the photo itself leads


def test_sheet_into_a_folder_is_named_after_the_photo_and_obeys_size_and_columns(models, tmp_path, capsys):
    source = tmp_path / "wide.jpg"
    Image.fromarray(photo(60, 120).astype(np.uint8)).save(source)
    argv = ["--sheet", "--in-path", source, "--checkpoint", models / "alpha.keras", "--checkpoint", models / "bravo.keras"]
    status, err = run(capsys, *argv, "--out-path", tmp_path, "--sheet-size", 50, "--sheet-columns", 3)
    assert status == 0, err
    sheet = loaded(tmp_path / "wide_sheet.jpg")
    assert sheet.size == (3 * (50 + GAP) + GAP, 25 + LABEL_HEIGHT + 2 * GAP)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--style-weights", "1", "0"], "--style-weights does not apply"),
        (["--sheet-size", "0"], "--sheet-size"),
    ],
)
def test_sheet_mistakes_are_clear_errors(models, tmp_path, capsys, extra, message):
    source = tmp_path / "p.png"
    Image.fromarray(photo(20, 20).astype(np.uint8)).save(source)
    status, err = run(capsys, "--sheet", "--in-path", source, "--checkpoint", models, "--out-path", tmp_path / "s.png", *extra)
    assert status == 2 and message in err
    assert not (tmp_path / "s.png").exists()


def test_sheet_of_a_folder_of_photos_or_of_no_models_is_refused(models, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    status, err = run(capsys, "--sheet", "--in-path", tmp_path, "--checkpoint", models, "--out-path", tmp_path / "s.png")
    assert status == 2 and "one photo" in err
    source = tmp_path / "p.png"
    Image.fromarray(photo(20, 20).astype(np.uint8)).save(source)
    status, err = run(capsys, "--sheet", "--in-path", source, "--checkpoint", empty, "--out-path", tmp_path / "s.png")
    assert status == 2 and "holds no models" in err
    status, err = run(capsys, "--sheet", "--in-path", source, "--checkpoint", models / "notes.txt", "--out-path", tmp_path / "s.png")
    assert status != 0 and "notes.txt" in err and "Traceback" not in err


def test_a_sheet_never_overwrites_its_photo(models, tmp_path, capsys):
    source = tmp_path / "p.png"
    Image.fromarray(photo(20, 20).astype(np.uint8)).save(source)
    before = source.read_bytes()
    status, err = run(capsys, "--sheet", "--in-path", source, "--checkpoint", models, "--out-path", source)
    assert status == 2 and "never overwritten" in err
    assert source.read_bytes() == before
