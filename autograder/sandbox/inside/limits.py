"""What one student's notebook may use: the one table of limits, and the functions that apply it.

Both kinds of kernel read the same `Limits`: a cold kernel's (kernels.SandboxedKernel) are set by
the grader in the new process before bubblewrap starts; a warm kernel receives the table as a dict
in its start message and sets them on itself before any student code (kernel_template._confine). So
`autograder grade --memory 2G` means the same on both paths, and the cgroup (cgroups.Cgroup) reads
its caps from the same table.
"""

from __future__ import annotations

import dataclasses
import os
import resource
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one student's notebook may use. Seconds are wall time unless named CPU."""

    cell_seconds: float = 60.0  # one answer cell, or one call of the student's code from a test
    notebook_seconds: float = 300.0  # the whole notebook, kernel starts included
    cpu_seconds: int = 120  # CPU time of each kernel process
    # all of the kernel's memory (cgroup), each process's address space, its System V segments
    memory_bytes: int = 3 << 30
    # processes and threads of the student's user (and of the sandbox's cgroup)
    processes: int = 64
    output_bytes: int = 1 << 20  # everything the student's code prints, in bytes
    result_bytes: int = 64 << 20  # one value sent back to the grader, encoded
    # files the student's code writes (its /scratch and /tmp, in memory)
    disk_bytes: int = 256 << 20
    ptys: int = 8  # pseudo-terminals open at once (a devpts of the kernel's own, as root)
    restarts: int = 3  # kernel restarts after a crash or a timeout, per notebook
    startup_seconds: float = 60.0  # starting the kernel, and running the setup cell (the imports)

    def to_dict(self) -> dict:
        """The table as plain data, for a start message (`Limits(**data)` reads it back: a field
        renamed on one side only fails loudly there)."""
        return dataclasses.asdict(self)


def apply(limits: Limits, processes: int | None = None) -> None:
    """Set the resource limits of `limits` on this process, and so on every process it starts
    (`processes`: the process limit, when it must count more than the kernel's own)."""
    processes = limits.processes if processes is None else processes
    # Every hard limit is set too, so the student's code cannot raise a soft one back.
    table = {
        # CPU: SIGXCPU at the soft limit, SIGKILL 5 s later for a process that ignores it; a
        # backstop to the grader's wall clock for processes the kernel left running
        # (spinning-processes).
        resource.RLIMIT_CPU: (limits.cpu_seconds, limits.cpu_seconds + 5),
        # Address space, shared mappings included: memory-bomb and shared-memory-mmap, where no
        # cgroup caps the kernel as a whole.
        resource.RLIMIT_AS: (limits.memory_bytes, limits.memory_bytes),
        # Counts the user's processes and threads (fork-flood, thread-flood): per kernel as root,
        # where each kernel has a user of its own; otherwise `processes` includes the grader's own.
        resource.RLIMIT_NPROC: (processes, processes),
        # stdout and stderr share one file: millions of short lines or one 20 MB line end alike
        # (output-lines, output-one-line) instead of filling the grader's memory or disk.
        resource.RLIMIT_FSIZE: (limits.output_bytes, limits.output_bytes),
        # A crash (segfault) writes no core file: it would be as big as the kernel's memory.
        resource.RLIMIT_CORE: (0, 0),
    }
    for limit, value in table.items():
        resource.setrlimit(limit, value)


def cap_system_v_memory(limits: Limits) -> None:
    """Cap the System V shared memory of this process's IPC namespace, a new one of the kernel's
    own, at `limits.memory_bytes` in all; call it as root, before the kernel drops to its user."""
    # A detached segment is counted by no process's RLIMIT_AS and outlives its creator: uncapped, a
    # kernel could hold gigabytes past its limit (sysv-shared-memory). Written while root: the
    # kernel, once it dropped root, cannot raise them; and the segments die with the namespace.
    page = os.sysconf("SC_PAGE_SIZE")
    for name, value in (("shmmax", limits.memory_bytes), ("shmall", limits.memory_bytes // page),
                        ("shmmni", 64)):
        with open(f"/proc/sys/kernel/{name}", "w") as file:  # this IPC namespace's own
            file.write(str(value))
