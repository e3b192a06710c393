"""The student's kernel as a sandboxed, size-limited process (bubblewrap + resource limits).

The kernel (autograder/student_kernel.py) runs under bubblewrap with: no network (its own empty network
namespace); its own process namespace (the grader and other students' kernels are invisible, so
they cannot be signalled); a read-only root holding only Python, the virtual environment, the
course library and system libraries; write access only to its scratch folder /scratch and its
/tmp, both in memory and of a fixed size (`Limits.disk_bytes`), so no disk can be filled.
`solutions/`, the gradebook and other submissions are simply not in its file system. As root the
grader sets the mounts up privileged and the kernel then drops to an unprivileged user of its own
(`sandbox_uid()`), so process limits apply and count per grading process; as any other user
bubblewrap uses a user namespace.

Memory: where the machine allows it, the sandbox runs in a cgroup of its own (autograder/cgroups.py)
that caps the memory of all its processes together, shared and System V memory included, its
processes, and its CPU to one core. Every process also has an address-space limit (RLIMIT_AS,
which counts shared mappings), and as root the sandbox gets an IPC namespace of its own whose
System V shared memory is capped at `memory_bytes` in all (a segment dies with the namespace).
Other limits (setrlimit): CPU seconds, processes (threads count), bytes of output (stdout and
stderr go to one file whose size RLIMIT_FSIZE caps, so one huge line is cut like many small
ones). Wall time is enforced by the grader, which kills the whole sandbox.

`sandbox=False` (the CLI's `--no-sandbox`) runs the same kernel as a plain process with the same
limits, for machines where bubblewrap cannot run; every grade made so is marked unsandboxed.
"""

from __future__ import annotations

import ctypes
import functools
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import mlcourse
from autograder.cgroups import Cgroup
from autograder.codec import dumps, loads

# As root, each grading process's kernels run as a user of their own (this base + the grader's pid):
# the process limit counts per user, so one student's fork flood cannot starve a kernel graded beside it.
SANDBOX_UID_BASE = 2_000_000_000
OUTPUT_FILE = "output.txt"


@dataclass
class Limits:
    """What one student's notebook may use. Seconds are wall time unless named CPU."""

    cell_seconds: float = 60.0  # one answer cell, or one call of the student's code from a test
    notebook_seconds: float = 300.0  # the whole notebook, kernel starts included
    cpu_seconds: int = 120  # CPU time of each kernel process
    memory_bytes: int = 3 << 30  # all of the kernel's memory (cgroup), and each process's address space
    processes: int = 64  # processes and threads of the student's user (and of the sandbox's cgroup)
    output_bytes: int = 1 << 20  # everything the student's code prints, in bytes
    result_bytes: int = 64 << 20  # one value sent back to the grader, encoded
    disk_bytes: int = 256 << 20  # files the student's code writes (its /scratch and /tmp, in memory)
    restarts: int = 3  # kernel restarts after a crash or a timeout, per notebook
    startup_seconds: float = 60.0  # starting the kernel, and running the setup cell (the imports)


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces on this machine."""


class Interrupted(BaseException):
    """Grading of a step stopped from outside it. A BaseException, so that no `except Exception` in a
    test cell (or in the code it calls) can swallow it."""


class KernelDied(Interrupted):
    """The kernel stopped answering; the message says why (timeout, crash, a limit)."""


def _python_command() -> list[str]:
    return [sys.executable, "-I", "-m", "autograder.student_kernel"]


def _readonly_paths() -> list[Path]:
    """What the kernel may read: system libraries, Python, the venv, the course library and the kernel's code."""
    package = Path(__file__).parent
    paths = [Path(p) for p in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc/ld.so.cache",
                               "/etc/alternatives", "/etc/fonts", "/etc/localtime")]
    paths += [Path(sys.base_prefix).resolve(), Path(sys.prefix), Path(sys.prefix).resolve(),
              Path(mlcourse.__file__).parent]
    # Only the kernel's own modules of the grader: its tests and fixtures stay invisible.
    paths += [package / "__init__.py", package / "codec.py", package / "student_kernel.py"]
    return [p for p in dict.fromkeys(paths) if p.exists()]


def bwrap_command(disk_bytes: int, privileged: bool | None = None) -> list[str]:
    """The bubblewrap command line that runs the kernel with a scratch folder of `disk_bytes` as its only
    writable place (`privileged`: set up as root, the default when running as root, else in a user namespace)."""
    bwrap = shutil.which("bwrap") or "bwrap"
    if os.geteuid() == 0 if privileged is None else privileged:  # the kernel then drops root, which ignores process limits
        # No --unshare-ipc: the grader makes the IPC namespace itself, to cap its shared memory (_own_ipc).
        namespaces = ["--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                      "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        drop = ["--drop-to", str(sandbox_uid())]
    else:
        namespaces, drop = ["--unshare-all", "--cap-drop", "ALL"], []
    paths = _readonly_paths()
    # In memory and of a fixed size, so no disk can be filled; mounted first, so that a course checked
    # out below /tmp (as CI may do) is bound on top of them rather than hidden by them.
    writable = ("/scratch", "/tmp")
    mounts = [arg for folder in writable for arg in ("--perms", "01777", "--size", str(disk_bytes), "--tmpfs", folder)]
    # Folders above the mounts are made world-readable (bubblewrap would make them private to root).
    parents = sorted({str(parent) for p in paths for parent in p.parents} - {"/", *writable})
    mounts += [arg for d in parents for arg in ("--perms", "0755", "--dir", d)]
    mounts += [arg for p in paths for arg in ("--ro-bind", str(p), str(p))]
    return [bwrap, *namespaces, "--die-with-parent", "--new-session", *mounts,
            "--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev",
            "--chdir", "/scratch", "--remount-ro", "/", *_python_command(), *drop]


def sandbox_uid() -> int:
    return SANDBOX_UID_BASE + os.getpid()


def _own_processes() -> int:
    """Processes and threads of this user now: a non-root user's limit counts them too."""
    uid, count = os.getuid(), 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                count += len(os.listdir(entry / "task"))
        except OSError:
            continue
    return count


CLONE_NEWIPC = 0x08000000


def _own_ipc(memory_bytes: int) -> None:
    """A new IPC namespace for this (root) process, its System V shared memory capped at `memory_bytes`.

    Its segments die with the namespace, that is when the sandbox's last process ends."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWIPC) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWIPC) failed")
    page = os.sysconf("SC_PAGE_SIZE")
    for name, value in (("shmmax", memory_bytes), ("shmall", memory_bytes // page), ("shmmni", 64)):
        Path(f"/proc/sys/kernel/{name}").write_text(str(value))


def _set_limits(limits: Limits, processes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.output_bytes, limits.output_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


@functools.cache
def check_available() -> None:
    """Raise SandboxUnavailable, saying what to do, when bubblewrap cannot run the kernel here."""
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed: install it (`sudo apt-get install bubblewrap`, or "
            "scripts/install-system-deps.sh), or grade with --no-sandbox (every grade is then marked unsandboxed)")
    command = bwrap_command(1 << 20)
    command[command.index("-m"):] = ["-c", "pass"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap cannot create a sandbox on this machine ({done.stderr.strip()[:300]}); allow unprivileged "
            "user namespaces (sysctl kernel.unprivileged_userns_clone=1), or grade with --no-sandbox "
            "(every grade is then marked unsandboxed)")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class SandboxedKernel:
    """One running student kernel: `request` sends a message and waits, at most `timeout` seconds, for the reply."""

    def __init__(self, scratch: Path, limits: Limits, sandbox: bool = True):
        self.scratch, self.limits, self.sandbox = scratch, limits, sandbox
        self.process: subprocess.Popen | None = None
        self.cgroup: Cgroup | None = None
        self.timed_out: str | None = None  # why a wall-clock limit stopped it, if one did

    def start(self) -> None:
        (self.scratch / "tmp").mkdir(parents=True, exist_ok=True)  # the unsandboxed kernel's /tmp
        output = open(self.scratch / OUTPUT_FILE, "wb")  # each kernel has the whole output allowance
        env = {"PATH": "/usr/bin:/bin", "HOME": "/scratch" if self.sandbox else str(self.scratch), "USER": "student",
               "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        if self.sandbox:
            command = bwrap_command(self.limits.disk_bytes)
            processes = self.limits.processes + (0 if os.geteuid() == 0 else _own_processes())
        else:
            command, processes = _python_command(), self.limits.processes + _own_processes()
            env["TMPDIR"] = str(self.scratch / "tmp")
        self.timed_out = None
        self.cgroup = Cgroup.create(self.limits.memory_bytes, self.limits.processes)
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=output, env=env, cwd=self.scratch,
            start_new_session=True, preexec_fn=lambda: self._confine(processes), bufsize=0)
        output.close()
        os.set_blocking(self.process.stdin.fileno(), False)  # writes wait at most until the request's deadline
        reply = self._receive(time.monotonic() + self.limits.startup_seconds)
        if reply != {"ok": True, "value": "ready"}:
            raise self._died("it did not start")

    def _confine(self, processes: int) -> None:
        """In the new process, before it becomes the sandbox: its cgroup, its IPC namespace, its limits."""
        if self.cgroup is not None:
            self.cgroup.join()
        if os.geteuid() == 0:
            _own_ipc(self.limits.memory_bytes)
        _set_limits(self.limits, processes)

    def request(self, message: dict, timeout: float) -> dict:
        """The kernel's reply ({"ok": True, "value": ...} or {"ok": False, "error": "..."})."""
        if self.process is None or self.process.poll() is not None:
            raise KernelDied("the kernel is not running")
        raw = dumps(message)
        deadline = time.monotonic() + timeout
        self._write(len(raw).to_bytes(8, "big") + raw, deadline)
        reply = self._receive(deadline)
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise self._died("it sent a malformed reply")
        return reply

    def _write(self, data: bytes, deadline: float) -> None:
        """Send `data`, waiting for the kernel to read it at most until `deadline` (a kernel that stops
        reading cannot hold the grader)."""
        fd = self.process.stdin.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_WRITE)
            while data:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    self.timed_out = "it did not read its request in time"
                    raise self._died(self.timed_out)
                try:
                    data = data[os.write(fd, data[: 1 << 16]):]
                except BlockingIOError:
                    continue
                except OSError:
                    raise self._died("it stopped reading") from None

    def _read(self, n: int, deadline: float) -> bytes:
        fd, data = self.process.stdout.fileno(), b""
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while len(data) < n:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    self.timed_out = "it ran out of time"
                    raise self._died(self.timed_out)
                chunk = os.read(fd, min(n - len(data), 1 << 20))
                if not chunk:
                    raise self._died("it stopped")
                data += chunk
        return data

    def _receive(self, deadline: float):
        size = int.from_bytes(self._read(8, deadline), "big")
        if size > self.limits.result_bytes:
            raise self._died(f"it sent back more than {self.limits.result_bytes} bytes")
        try:
            return loads(self._read(size, deadline))
        except (ValueError, RecursionError):
            raise self._died("it sent a malformed reply") from None

    def _died(self, what: str) -> KernelDied:
        """Stop the kernel and say why it is gone, from what the grader saw and how the process ended."""
        if not self.timed_out:
            try:  # it is probably exiting: its exit code says why
                self.process.wait(2)
            except subprocess.TimeoutExpired:
                pass
        code = self.stop()
        printed = (self.scratch / OUTPUT_FILE).stat().st_size if (self.scratch / OUTPUT_FILE).exists() else 0
        # Popen reports a signal as a negative code when it killed the process we started; bubblewrap
        # (our direct child in the sandbox) instead exits with 128 + the signal that killed the kernel
        # inside it, the shell's convention. Both mean "killed by that signal".
        signal_number = -code if code is not None and code < 0 else code - 128 if code and code > 128 else None
        if self.timed_out:  # we killed it: its exit code is ours, not its own
            reason = self.timed_out
        # A write past RLIMIT_FSIZE raises SIGXFSZ, or fails with EFBIG when the signal is ignored; the
        # file's size catches the second case.
        elif signal_number == signal.SIGXFSZ or printed >= self.limits.output_bytes:
            reason = f"its output reached the limit of {self.limits.output_bytes} bytes"
        elif signal_number == signal.SIGXCPU:
            reason = f"it used more than {self.limits.cpu_seconds} s of CPU time"
        elif signal_number is not None:
            reason = f"it crashed ({_signal_name(signal_number)})"
        elif code is not None:
            reason = f"it exited (code {code})"
        else:
            reason = what
        return KernelDied(f"the kernel stopped: {reason}")

    def stop(self) -> int | None:
        """Kill the kernel and everything it started; its exit code (negative: killed by that signal),
        None when it had to be killed here."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        code = process.poll()
        if code is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
            code = None
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if self.cgroup is not None:  # whatever escaped the process group (a daemon) dies with the cgroup
            self.cgroup.remove()
            self.cgroup = None
        return code
