"""A container's memory limit, read from control-group files that the tests write themselves
(cgroup v2, v1, nested limits, none), and its place in src/memory.py's available memory."""

import pytest

from src import cgroups, memory

GIB = 1 << 30


def _write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)


def _membership(tmp_path, text):
    path = tmp_path / "cgroup"
    path.write_text(text)
    return str(path)


def test_cgroup_v2_limit_less_usage_less_reclaimable_cache(tmp_path):
    root = tmp_path / "fs"
    _write(root, {"cgroup.controllers": "cpu memory\n"})  # the host's root: no memory.max
    _write(root / "app.slice" / "run", {
        "memory.max": f"{2 * GIB}\n",
        "memory.current": f"{GIB}\n",
        "memory.stat": f"anon 600000000\nfile 400000000\ninactive_file {GIB // 4}\n",
    })
    membership = _membership(tmp_path, "0::/app.slice/run\n")
    assert cgroups.available(str(root), membership) == 2 * GIB - (GIB - GIB // 4)


def test_the_tightest_group_above_counts(tmp_path):
    root = tmp_path / "fs"
    _write(root / "outer", {"memory.max": f"{GIB}\n", "memory.current": f"{GIB // 2}\n"})
    _write(root / "outer" / "inner", {"memory.max": "max\n", "memory.current": f"{GIB // 2}\n"})
    assert cgroups.available(str(root), _membership(tmp_path, "0::/outer/inner\n")) == GIB // 2


def test_cgroup_v1_with_the_container_as_the_mount_root(tmp_path):
    """Docker on cgroup v1 without a namespace: /proc/self/cgroup names the group as the host
    sees it, while the mount shows the container's own group as its root."""
    root = tmp_path / "fs"
    _write(root / "memory", {
        "memory.limit_in_bytes": f"{3 * GIB // 2}\n",
        "memory.usage_in_bytes": f"{GIB // 2}\n",
        "memory.stat": "cache 0\ntotal_inactive_file 0\n",
    })
    membership = _membership(tmp_path, "12:pids:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/docker/abc\n0::/\n")
    assert cgroups.available(str(root), membership) == GIB


@pytest.mark.parametrize("limit", ["9223372036854771712\n", None])
def test_no_limit_is_none(tmp_path, limit):
    root = tmp_path / "fs"
    _write(root / "memory" / "user", {"memory.usage_in_bytes": f"{GIB}\n"})
    if limit:
        (root / "memory" / "user" / "memory.limit_in_bytes").write_text(limit)
    membership = _membership(tmp_path, "4:memory:/user\n0::/user\n")
    assert cgroups.available(str(root), membership) is None
    assert cgroups.available(str(root), str(tmp_path / "not-linux")) is None


def test_a_photo_beyond_the_containers_limit_is_refused_though_the_machine_has_room(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 16 * GIB)
    monkeypatch.setattr(cgroups, "available", lambda: None)
    memory.check_fits(4000, 3000)  # 12 MP
    monkeypatch.setattr(cgroups, "available", lambda: 3 * GIB // 2)
    with pytest.raises(memory.DoesNotFit, match=r"4000x3000 \(12 megapixels\) needs about 1.7 GiB of memory; 1.5 GiB is available"):
        memory.check_fits(3000, 4000)
    assert memory.plan(1500, 2000, 1).tile is None  # the budgets stay the machine's
    monkeypatch.setattr(cgroups, "available", lambda: 0)  # the container's memory all used
    with pytest.raises(memory.DoesNotFit, match="0.0 GiB is available"):
        memory.check_fits(300, 400)
