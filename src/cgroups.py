"""The memory a Linux control group lets this process use: a container's limit (Docker's
`--memory`, Kubernetes' `resources.limits.memory`, a systemd unit's `MemoryMax`).

/proc/meminfo describes the whole machine, so inside a container limited to 1.5 GiB on a 24 GiB
host it promised 22 GiB: src/memory.py let a 12-megapixel photo start, and the kernel killed the
process without a word (bench/README.md). Here the limit of the process's group and of every
group above it count, less what the group already uses, as `docker stats` counts it (its
reclaimable inactive page cache left out).
"""

import os

ROOT = "/sys/fs/cgroup"
# cgroup v1 writes "no limit" as the largest multiple of the page size below 2**63.
NO_LIMIT = 1 << 62


def available(root=ROOT, membership="/proc/self/cgroup"):
    """Bytes this process's memory groups still allow it, or None where no group limits memory
    (or none can be read: not Linux, no cgroup file system)."""
    try:
        with open(membership) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    found = []
    for line in lines:
        if line.count(":") < 2:
            continue
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2, the unified hierarchy
            found += _left(root, path, "memory.max", "memory.current", "inactive_file")
        elif "memory" in controllers.split(","):  # cgroup v1's memory controller
            mount = os.path.join(root, "memory")
            found += _left(mount, path, "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
    return min(found) if found else None


def _left(mount, path, limit_file, usage_file, inactive_key):
    """What each group from `path` up to the mount's root still allows, where it sets a limit.
    Inside a container the mount shows the container's own group as its root, while `path` may
    still name it from the host's (cgroup v1 without a namespace): groups that are not there
    are skipped."""
    left, parts = [], [part for part in path.split("/") if part]
    for depth in range(len(parts), -1, -1):
        folder = os.path.join(mount, *parts[:depth])
        limit = _number(folder, limit_file)
        if limit is None or limit >= NO_LIMIT:
            continue
        usage = _number(folder, usage_file) or 0
        left.append(max(0, limit - max(0, usage - _stat(folder, inactive_key))))
    return left


def _number(folder, name):
    """An integer file's value; None for "max" (no limit) or a file that is not there."""
    try:
        with open(os.path.join(folder, name)) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _stat(folder, key):
    try:
        with open(os.path.join(folder, "memory.stat")) as f:
            for line in f:
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0
