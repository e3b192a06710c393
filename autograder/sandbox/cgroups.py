"""A control group per sandbox: one cap on the memory of all of a kernel's processes, its shared and
System V memory included, a cap on its processes, and at most one CPU.

setrlimit limits each process alone and does not count shared mappings; a cgroup counts every page
the sandbox's processes touch (anonymous, shared, tmpfs and System V segments alike), so a kernel
cannot hold memory past its cap by forking, by `mmap(-1, ...)` or by a detached segment. Its CPU
quota means a kernel spinning many processes slows only itself, not the kernel graded beside it.

Works with cgroup v1 (a hierarchy per controller, as on this project's machines) and v2 (one unified
hierarchy, where the memory, pids and cpu controllers must be enabled for the grader's cgroup),
when the grader may create cgroups (as root, or in a delegated subtree). `Cgroup.create` returns
None where it cannot; the sandbox then falls back to per-process limits (kernels.py says which).
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from autograder.sandbox.inside.limits import Limits

ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000
_counter = itertools.count()


@cache
def _hierarchies() -> dict[str, Path] | None:
    """{controller: the folder of this process's cgroup in it} for memory, pids and cpu, or None."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    found: dict[str, Path] = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            if controller in ("memory", "pids", "cpu") and (ROOT / controller).is_dir():
                found[controller] = ROOT / controller / path.lstrip("/")
        if controllers == "" and not found and (ROOT / "cgroup.controllers").exists():  # pure v2
            enabled = (ROOT / path.lstrip("/") / "cgroup.subtree_control").read_text().split()
            if {"memory", "pids", "cpu"} <= set(enabled):
                return {"v2": ROOT / path.lstrip("/")}
    return found if {"memory", "pids", "cpu"} <= set(found) else None


@dataclass
class Cgroup:
    """The cgroup folders (one per v1 controller, or one v2 folder) of one sandbox."""

    folders: dict[str, Path]

    @classmethod
    def create(cls, limits: Limits) -> Cgroup | None:
        """A new cgroup capping the memory and processes of `limits` (the kernel's own table), or
        None when this machine does not let the grader make one."""
        parents = _hierarchies()
        if parents is None:
            return None
        memory_bytes, processes = limits.memory_bytes, limits.processes
        name = f"autograder-{os.getpid()}-{next(_counter)}"
        folders = {controller: parent / name for controller, parent in parents.items()}
        try:
            for folder in folders.values():
                folder.mkdir()
            # Memory: every page the kernel's processes touch, shared mappings, tmpfs files and
            # detached System V segments included (memory-bomb, shared-memory-mmap,
            # sysv-shared-memory); the OOM killer then stops the kernel, not the grader. No swap:
            # a capped kernel would otherwise go on in swap and slow the whole machine. Processes:
            # counted whatever their user, so a fork flood is stopped also where RLIMIT_NPROC
            # counts the grading user's (no root). CPU: one core's worth per period, so a kernel
            # spinning many processes slows only itself (spinning-processes).
            if "v2" in folders:
                v2 = folders["v2"]
                _write(v2 / "memory.max", memory_bytes)
                _write(v2 / "memory.swap.max", 0, optional=True)
                _write(v2 / "pids.max", processes)
                _write(v2 / "cpu.max", f"{CPU_PERIOD_US} {CPU_PERIOD_US}")
            else:
                _write(folders["memory"] / "memory.limit_in_bytes", memory_bytes)
                _write(folders["memory"] / "memory.memsw.limit_in_bytes", memory_bytes,
                       optional=True)  # no swap either
                _write(folders["pids"] / "pids.max", processes)
                _write(folders["cpu"] / "cpu.cfs_period_us", CPU_PERIOD_US)
                # One CPU's worth per period.
                _write(folders["cpu"] / "cpu.cfs_quota_us", CPU_PERIOD_US)
        except OSError:  # a cgroup without all its caps is no cap: per-process limits instead
            cls(folders).remove()
            return None
        return cls(folders)

    def join(self) -> None:
        """Move the calling process into this cgroup (from a child, before it execs the sandbox)."""
        self.add(os.getpid())

    def add(self, pid: int) -> None:
        """Move the process `pid` (a host PID) into this cgroup; its later children are born in
        it."""
        for folder in self.folders.values():
            (folder / "cgroup.procs").write_text(str(pid))

    def remove(self) -> None:
        """Kill whatever is left in the cgroup and delete it."""
        # A process that left the kernel's session (setsid, a double fork) escapes killpg, not its
        # cgroup: none of a student's code runs on after its kernel.
        for folder in self.folders.values():
            for _ in range(50):
                try:
                    pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.01)
            try:
                folder.rmdir()
            except OSError:
                pass


def _write(path: Path, value, optional: bool = False) -> None:
    try:
        path.write_text(str(value))
    except OSError:
        if not optional:
            raise
