import os
import subprocess

from tests.fixtures import ROOT



def test_offline_setup_names_what_it_could_not_fetch_and_succeeds(tmp_path):
    # A proxy that refuses every connection stands in for a machine without internet.
    refuse = "http://127.0.0.1:9"
    env = {**os.environ, "http_proxy": refuse, "https_proxy": refuse, "HTTP_PROXY": refuse, "HTTPS_PROXY": refuse}
    env["FST_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run(
        ["bash", "setup.sh", "--no-install", "--vgg", "--vgg-keras", "--vgg16", "--coco"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "could not fetch" in result.stdout
    for name in ("VGG19 (MatConvNet)", "VGG19 (Keras)", "VGG16 (Keras)", "COCO 2014 train"):
        assert f"  - {name} (http" in result.stdout
    # Nothing half-downloaded is left in place of the real files.
    leftovers = [p for p in (tmp_path / "data").rglob("*") if p.is_file()] if (tmp_path / "data").exists() else []
    assert leftovers == []


def test_unknown_option_is_an_error():
    result = subprocess.run(["bash", "setup.sh", "--frobnicate"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "unknown option --frobnicate" in result.stderr


def test_help_lists_the_downloads():
    result = subprocess.run(["bash", "setup.sh", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0
    for flag in ("--dev", "--vgg", "--vgg-keras", "--vgg16", "--coco", "--styles", "--all", "--no-install"):
        assert flag in result.stdout


def _fake_command(folder, name, script):
    path = folder / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)


def test_a_failed_install_on_a_full_disk_says_so(tmp_path):
    # A virtual environment whose pip fails, and a df that reports 300 MB free: the message must
    # name the disk, which a bare "pip install failed" left to guess (CI, 2026-12-06).
    venv_bin, bin_dir = tmp_path / "venv" / "bin", tmp_path / "bin"
    venv_bin.mkdir(parents=True)
    bin_dir.mkdir()
    _fake_command(venv_bin, "python", "echo 'OSError: [Errno 28] No space left on device' >&2; exit 1")
    _fake_command(bin_dir, "df", "echo 'Filesystem 1M-blocks Used Available Capacity Mounted'; echo '/dev/x 9000 8700 300 97% /'")
    env = {**os.environ, "VIRTUAL_ENV": str(tmp_path / "venv"), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", "setup.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "pip install failed" in result.stderr
    assert "only 300 MB free on this disk" in result.stderr
