"""The student's kernel as a sandboxed, size-limited process (bubblewrap + resource limits).

The kernel (autograder/sandbox/inside/student_kernel.py) runs under bubblewrap with: no network (its
own empty network namespace); its own process namespace (the grader and other students' kernels are
invisible, so they cannot be signalled); a read-only root holding only Python, the virtual
environment, the course library and system libraries; write access only to its scratch folder
/scratch and its /tmp, both in memory and of a fixed size (`Limits.disk_bytes`), so no disk can be
filled. `solutions/`, the gradebook and other submissions are simply not in its file system. As root
the grader sets the mounts up privileged (a devpts of the kernel's own among them, of `Limits.ptys`
pseudo-terminals) and the kernel then drops to an unprivileged user of its own (`new_uid()`), so
process limits apply and count per kernel; as any other user bubblewrap uses a user namespace.
Before any student code, every kernel installs a seccomp filter that denies the system calls it
never needs (autograder/sandbox/inside/syscalls.py: keyrings, namespaces, mounts, ptrace, bpf, ...).

Memory: where the machine allows it, the sandbox runs in a cgroup of its own
(autograder/sandbox/cgroups.py) that caps the memory of all its processes together, shared and
System V memory included, its processes, and its CPU to one core. Every process also has an
address-space limit (RLIMIT_AS, which counts shared mappings), and as root the sandbox gets an IPC
namespace of its own whose System V shared memory is capped at `memory_bytes` in all (a segment dies
with the namespace).
Other limits (setrlimit): CPU seconds, processes (threads count), bytes of output (stdout and
stderr go to one file whose size RLIMIT_FSIZE caps, so one huge line is cut like many small
ones). Wall time is enforced by the grader, which kills the whole sandbox. Every one of these
numbers is read from one table, `Limits` (inside/limits.py, which also sets the rlimits and the
System V cap), by cold and warm kernels alike.

`sandbox=False` (the CLI's `--no-sandbox`) runs the same kernel as a plain process with the same
limits, for machines where bubblewrap cannot run; every grade made so is marked unsandboxed.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import mlcourse
from autograder.sandbox.cgroups import Cgroup
from autograder.sandbox.inside import framing
from autograder.sandbox.inside.limits import Limits, apply, cap_system_v_memory

# As root, each kernel runs as a user of its own (new_uid): the process limit counts per user, so
# one student's fork flood cannot starve a kernel graded beside it.  Far above any real user's uid,
# so a kernel owns no file on the machine and shares no keyring with anyone.
SANDBOX_UID_BASE = 2_000_000_000
UID_END = 4_294_967_294  # (uid_t) -1 and -2 mean "no user"
OUTPUT_FILE = "output.txt"


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces on this machine."""


class Interrupted(BaseException):
    """Grading of a step stopped from outside it. A BaseException, so that no `except Exception`
    in a test cell (or in the code it calls) can swallow it."""


class KernelDied(Interrupted):
    """The kernel stopped answering; the message says why, `kind` which of "timeout" (a wall-clock
    limit), "output_limit" or "died" (a crash, the CPU limit, any other end) it was."""

    def __init__(self, message: str, kind: str = "died"):
        super().__init__(message)
        self.kind = kind


def _python_command() -> list[str]:
    # -I: no PYTHON* variables, no user site-packages and no script folder on sys.path, so a
    # numpy.py or sitecustomize.py the student shipped cannot load first (shadowing-files).
    return [sys.executable, "-I", "-m", "autograder.sandbox.inside.student_kernel"]


def _readonly_paths() -> list[Path]:
    """What the kernel may read: system libraries, Python, the venv, the course library and the
    kernel's code."""
    # A list of what is there, not of what is hidden: whatever is not named (solutions/, the
    # gradebook, the course folder, every submission) does not exist in the sandbox, which stops
    # read-solutions, read-gradebook-and-course and the write and delete entries of the catalogue.
    wall = Path(__file__).parent
    # Not /etc as a whole: it would show the machine's users, hosts and configuration.
    paths = [Path(p) for p in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32",
                               "/etc/ld.so.cache", "/etc/alternatives", "/etc/fonts",
                               "/etc/localtime")]
    paths += [Path(sys.base_prefix).resolve(), Path(sys.prefix), Path(sys.prefix).resolve(),
              Path(mlcourse.__file__).parent]
    # Of the grader only the folder of code that runs inside, and the two package files that
    # importing it runs: its tests and fixtures (the catalogue's expected scores, the demo
    # solutions) stay invisible. A folder, not a list of names, so that a module moved or renamed
    # in it is still there, and nothing outside it can appear by accident.
    paths += [wall.parent / "__init__.py", wall / "__init__.py", wall / "inside"]
    return [p for p in dict.fromkeys(paths) if p.exists()]


def bwrap_command(disk_bytes: int, privileged: bool | None = None, template: bool = False,
                  info_fd: int | None = None, ptys: int = Limits.ptys) -> list[str]:
    """The bubblewrap command line that runs the kernel with a scratch folder of `disk_bytes` as its
    only writable place (`privileged`: set up as root, the default when running as root, else in a
    user namespace).

    `template`: for the warm kernels' template, which keeps CAP_SYS_ADMIN to give each kernel
    namespaces and fresh mounts of its own (every kernel drops it with root before any student code
    runs); a cold kernel keeps it to mount its own devpts of `ptys` pseudo-terminals, then drops it
    with root (student_kernel.py); `info_fd`: where bubblewrap writes the sandbox's PID."""
    bwrap = shutil.which("bwrap") or "bwrap"
    # Set up as root: the kernel then drops root, which ignores process limits.
    if os.geteuid() == 0 if privileged is None else privileged:
        # pid: the grader and other kernels cannot be seen or signalled (kill-parent); net: no
        # network, not even the host's loopback, where a server could hand out solutions (network);
        # uts: a changed host name stays inside; cgroup: /proc/self/cgroup does not show the host's
        # hierarchy. No --unshare-ipc: the grader makes the IPC namespace itself, as root, to cap
        # its System V memory (_own_ipc, sysv-shared-memory).
        namespaces = ["--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                      # Of root's capabilities only what the start needs: SETUID/SETGID to drop to
                      # the kernel's own user, SYS_ADMIN to mount its devpts (the template: to make
                      # each kernel's namespaces). Dropping root (setuid) then clears them all
                      # before any student code runs.
                      "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                      "--cap-add", "CAP_SYS_ADMIN"]
        # The template has no student code to cap; its IPC namespace keeps it off the host's
        # segments, and each kernel makes a capped one of its own.
        namespaces += ["--unshare-ipc"] if template else []
        # A devpts of the kernel's own, capped (pty-flood); a user no earlier kernel had, so that
        # the process limit counts this kernel only (fork-flood) and no keyring is shared
        # (keyring-leave, keyring-find).
        drop = [] if template else ["--ptys", str(ptys), "--drop-to", str(new_uid())]
    else:
        # Without root a user namespace holds the others; no capability is kept inside it either.
        namespaces, drop = ["--unshare-all", "--cap-drop", "ALL"], []
    paths = _readonly_paths()
    # In memory and of a fixed size, so no disk can be filled (disk-fill); mounted first, so that a
    # course checked out below /tmp (as CI may do) is bound on top of them rather than hidden by
    # them. Sticky and world-writable, as /tmp is: the kernel's user owns nothing else.
    writable = ("/scratch", "/tmp")
    mounts = [arg for folder in writable
              for arg in ("--perms", "01777", "--size", str(disk_bytes), "--tmpfs", folder)]
    # Folders above the mounts are made world-readable (bubblewrap would make them private to root).
    parents = sorted({str(parent) for p in paths for parent in p.parents} - {"/", *writable})
    mounts += [arg for d in parents for arg in ("--perms", "0755", "--dir", d)]
    mounts += [arg for p in paths for arg in ("--ro-bind", str(p), str(p))]
    info = ["--info-fd", str(info_fd)] if info_fd is not None else []
    # --die-with-parent: a grader that dies takes its kernel along, so no student code runs on
    # unwatched. --new-session: no controlling terminal, so TIOCSTI cannot type commands into the
    # grader's shell. --proc: a /proc of the sandbox's PID namespace only, so the grader's command
    # line and environment cannot be read. --dev, read-only: the few harmless devices (null,
    # zero, random, tty, ptmx) and no way to add one. --remount-ro /: nothing written outside the
    # capped tmpfs folders.
    return [bwrap, *namespaces, *info, "--die-with-parent", "--new-session", *mounts,
            "--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev",
            "--chdir", "/scratch", "--remount-ro", "/", *_python_command(), *drop]


_uids = itertools.count()


@functools.cache
def _uid_block() -> int:
    """Users per grading process: its block is its PID's, so two processes running at once share
    none."""
    return (UID_END - SANDBOX_UID_BASE) // int(Path("/proc/sys/kernel/pid_max").read_text())


def new_uid() -> int:
    """A user for one kernel that no earlier kernel of this process had (until it has started
    `_uid_block()` kernels: 547 at the largest pid_max, 70,036 at Linux's default of 32768). Nothing
    of a user outlives its kernel (keyrings, the one thing that would, are denied:
    autograder/sandbox/inside/syscalls.py)."""
    return SANDBOX_UID_BASE + os.getpid() * _uid_block() + next(_uids) % _uid_block()


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


def _own_ipc(limits: Limits) -> None:
    """A new IPC namespace for this (root) process, its System V shared memory capped at
    `limits.memory_bytes`.

    Its segments die with the namespace, that is when the sandbox's last process ends."""
    # In the host's namespace a kernel's detached segments would outlive it, counted by nothing
    # (sysv-shared-memory).
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWIPC) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWIPC) failed")
    cap_system_v_memory(limits)


@functools.cache
def check_available() -> None:
    """Raise SandboxUnavailable, saying what to do, when bubblewrap cannot run the kernel here."""
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed: install it (`sudo apt-get install bubblewrap`, "
            "or scripts/install-system-deps.sh), or grade with --no-sandbox (every grade is then "
            "marked unsandboxed)")
    command = bwrap_command(1 << 20)
    command[command.index("-m"):] = ["-c", "pass"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap cannot create a sandbox on this machine ({done.stderr.strip()[:300]}); "
            "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), or "
            "grade with --no-sandbox (every grade is then marked unsandboxed)")


def kernel_environment(sandbox: bool, scratch: Path) -> dict[str, str]:
    """The environment of a student's kernel: nothing of the grader's."""
    # Built from nothing rather than copied: the grader's variables (a database URL, the course's
    # paths, CI's tokens, a sign that grading is on) would tell the student's code where it runs and
    # what to read (grading-environment).
    return {"PATH": "/usr/bin:/bin", "HOME": "/scratch" if sandbox else str(scratch),
            "USER": "student", "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1"}


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Kernel:
    """One running student kernel, reached through two pipes: `request` sends a message and waits,
    at most `timeout` seconds, for the reply. Subclasses start and stop it (cold: a new sandbox;
    warm: a fork of the template)."""

    def __init__(self, scratch: Path, limits: Limits, sandbox: bool = True):
        self.scratch, self.limits, self.sandbox = scratch, limits, sandbox
        self.request_fd: int | None = None  # the grader's ends of the two pipes
        self.reply_fd: int | None = None
        self.cgroup: Cgroup | None = None
        self.timed_out: str | None = None  # why a wall-clock limit stopped it, if one did

    def _wait_ready(self) -> None:
        os.set_blocking(self.request_fd, False)  # writes wait at most until the request's deadline
        reply = self._receive(time.monotonic() + self.limits.startup_seconds)
        if reply != {"ok": True, "value": "ready"}:
            raise self._died("it did not start")

    def running(self) -> bool:
        raise NotImplementedError

    def request(self, message: dict, timeout: float) -> dict:
        """The kernel's reply ({"ok": True, "value": ...} or {"ok": False, "error": "..."})."""
        if self.request_fd is None or not self.running():
            raise KernelDied("the kernel is not running")
        deadline = time.monotonic() + timeout
        self._write(framing.pack(message), deadline)
        reply = self._receive(deadline)
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise self._died("it sent a malformed reply")
        return reply

    def _write(self, data: bytes, deadline: float) -> None:
        """Send `data`, waiting for the kernel to read it at most until `deadline` (a kernel that
        stops reading cannot hold the grader)."""
        fd = self.request_fd
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
        fd, data = self.reply_fd, b""
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
        # The kernel's reply is at most `result_bytes` long (framing checks the length it announces
        # before reading any of it); reading it stops at `deadline`.
        try:
            return framing.read(lambda n: self._read(n, deadline), self.limits.result_bytes)
        except framing.FrameError:
            raise self._died(f"it sent back more than {self.limits.result_bytes} bytes") from None
        except (ValueError, RecursionError):
            raise self._died("it sent a malformed reply") from None

    def _died(self, what: str) -> KernelDied:
        """Stop the kernel and say why it is gone, from what the grader saw and how the process
        ended."""
        # Unless we stopped it, it is probably exiting.
        code = self.stop(wait=0 if self.timed_out else 2)
        printed = ((self.scratch / OUTPUT_FILE).stat().st_size
                   if (self.scratch / OUTPUT_FILE).exists() else 0)
        # Popen reports a signal as a negative code when it killed the process we started;
        # bubblewrap (our direct child in the sandbox) instead exits with 128 + the signal that
        # killed the kernel inside it, the shell's convention. Both mean "killed by that signal".
        signal_number = (-code if code is not None and code < 0
                         else code - 128 if code and code > 128 else None)
        kind = "died"
        if self.timed_out:  # we killed it: its exit code is ours, not its own
            reason, kind = self.timed_out, "timeout"
        # A write past RLIMIT_FSIZE raises SIGXFSZ, or fails with EFBIG when the signal is ignored;
        # the file's size catches the second case.
        elif signal_number == signal.SIGXFSZ or printed >= self.limits.output_bytes:
            reason = f"its output reached the limit of {self.limits.output_bytes} bytes"
            kind = "output_limit"
        elif signal_number == signal.SIGXCPU:
            reason = f"it used more than {self.limits.cpu_seconds} s of CPU time"
        elif signal_number is not None:
            reason = f"it crashed ({_signal_name(signal_number)})"
        elif code is not None:
            reason = f"it exited (code {code})"
        else:
            reason = what
        return KernelDied(f"the kernel stopped: {reason}", kind)

    def stop(self, wait: float = 0) -> int | None:
        """Stop the kernel and everything it started, after waiting up to `wait` seconds for it to
        end by itself; its exit code (negative: killed by that signal), None when it had to be
        killed here."""
        raise NotImplementedError

    def _close_pipes(self) -> None:
        for fd in (self.request_fd, self.reply_fd):
            if fd is not None:
                os.close(fd)
        self.request_fd = self.reply_fd = None
        # Whatever escaped the process group (a daemon that called setsid) dies with the cgroup.
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None


class SandboxedKernel(Kernel):
    """A cold kernel: a new bubblewrap sandbox (or a plain process) that imports everything
    itself."""

    process: subprocess.Popen | None = None

    def start(self) -> None:
        (self.scratch / "tmp").mkdir(parents=True, exist_ok=True)  # the unsandboxed kernel's /tmp
        # Each kernel has the whole output allowance.
        output = open(self.scratch / OUTPUT_FILE, "wb")
        env = kernel_environment(self.sandbox, self.scratch)
        if self.sandbox:
            command = bwrap_command(self.limits.disk_bytes, ptys=self.limits.ptys)
            # Without root, RLIMIT_NPROC counts every process of the grading user, so the kernel's
            # allowance comes on top of what already runs.
            processes = self.limits.processes + (0 if os.geteuid() == 0 else _own_processes())
        else:
            command, processes = _python_command(), self.limits.processes + _own_processes()
            env["TMPDIR"] = str(self.scratch / "tmp")
        self.timed_out = None
        self.cgroup = Cgroup.create(self.limits)
        # A session of its own: stop() kills the whole process group at once, and the kernel has no
        # terminal of the grader's. Only the two pipes and the output file are inherited (Popen
        # closes every other descriptor): no socket or file of the grader's reaches the sandbox.
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=output, env=env,
            cwd=self.scratch, start_new_session=True,
            preexec_fn=lambda: self._confine(processes), bufsize=0)
        output.close()
        self.request_fd, self.reply_fd = (os.dup(self.process.stdin.fileno()),
                                          os.dup(self.process.stdout.fileno()))
        self.process.stdin.close()
        self.process.stdout.close()
        self._wait_ready()

    def _confine(self, processes: int) -> None:
        """In the new process, before it becomes the sandbox: its cgroup, its IPC namespace, its
        limits."""
        # Before the exec, so that bubblewrap and everything below it are born confined: there is
        # no moment when a process of the sandbox runs outside its cgroup or limits.
        if self.cgroup is not None:
            self.cgroup.join()
        if os.geteuid() == 0:
            _own_ipc(self.limits)
        # The same function and table as a warm kernel's (kernel_template._confine).
        apply(self.limits, processes)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, wait: float = 0) -> int | None:
        if self.process is None:
            return None
        process, self.process = self.process, None
        try:
            code = process.wait(wait) if wait else process.poll()
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            # SIGKILL, which no handler can catch (loop-ignoring-sigint), to the whole group.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
        self._close_pipes()
        return code


# --- warm kernels: forked from a template that has already imported the setup's modules ---------

def warm_available(sandbox: bool) -> bool:
    """Warm kernels need the privileged sandbox (the grader runs as root): the template makes each
    kernel's namespaces and gives it a user of its own, as the cold sandbox does."""
    return sandbox and os.geteuid() == 0


class KernelTemplate:
    """The template process (autograder/sandbox/inside/kernel_template.py) in a sandbox of its
    own, one per worker process and set of modules; it has imported them and never runs student
    code.

    Each kernel has a number, named in every message about it both ways: a reply this process
    stopped waiting for (a start or stop interrupted by the notebook's alarm) is skipped, never
    taken for the next kernel's."""

    def __init__(self, modules: tuple[str, ...], limits: Limits):
        self.modules = modules
        self.numbers = itertools.count(1)
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        info_read, info_write = os.pipe()
        command = bwrap_command(limits.disk_bytes, privileged=True, template=True,
                                info_fd=info_write)
        command[command.index("-m") + 1:] = ["autograder.sandbox.inside.kernel_template",
                                             str(theirs.fileno()), *modules]
        # Only the control socket and the info pipe are passed: the template (and so every kernel
        # forked from it) holds no other descriptor of the grader's.
        self.process = subprocess.Popen(
            command, pass_fds=(theirs.fileno(), info_write),
            env=kernel_environment(True, Path("/scratch")), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        os.close(info_write)
        try:
            with os.fdopen(info_read) as info:
                self.sandbox_pid = json.loads(info.read() or "{}").get("child-pid")
            # The imports take a few seconds, once.
            ready = self._receive(None, limits.startup_seconds + 60)
            self.pid = _host_pid(self.sandbox_pid, ready["ready"])
        except BaseException:  # a template that did not start is not left running
            self.close()
            raise

    def alive(self) -> bool:
        return self.process.poll() is None

    def _receive(self, kernel: int | None, timeout: float) -> dict:
        """The next message about `kernel` (None: the template's own), within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self.control.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                message, _ = framing.receive_packet(self.control)
            except (TimeoutError, OSError, ValueError):
                message = None
            finally:
                self.control.settimeout(None)
            if not isinstance(message, dict):
                raise KernelDied("the kernel template did not answer")
            if message.get("kernel") == kernel:
                return message

    def start(self, number: int, spec: dict, fds: list[int]) -> int:
        """Fork kernel `number` for one notebook, stopped before its namespaces; the host PID of its
        first process."""
        framing.send_packet(self.control, {"op": "start", "kernel": number, **spec}, fds)
        reply = self._receive(number, 30)  # the child exists, stopped at its gate
        return _host_pid(self.pid, reply["pid"])

    def go(self, number: int) -> None:
        framing.send_packet(self.control, {"op": "go", "kernel": number})

    def stop_kernel(self, number: int) -> None:
        framing.send_packet(self.control, {"op": "stop", "kernel": number})

    def exit_code(self, number: int, timeout: float) -> int | None:
        """Kernel `number`'s exit code as it ends (within `timeout` seconds), or None."""
        try:
            return self._receive(number, timeout).get("exit")
        except KernelDied:
            return None

    def close(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.control.close()


def _host_pid(top: int | None, inner_pid: int) -> int:
    """The host PID of the process at or below `top` whose PID in the sandbox is `inner_pid` (NSpid
    lists a process's PIDs from the host's namespace down: the sandbox's is the second, a kernel's
    own the third)."""
    todo = [top] if top else []
    while todo:  # breadth first: the template's own children before its kernels' processes
        pid = todo.pop(0)
        status = Path(f"/proc/{pid}/status").read_text()
        nspid = next(line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:"))
        if len(nspid) > 1 and int(nspid[1]) == inner_pid:
            return pid
        for task in Path(f"/proc/{pid}/task").iterdir():
            todo += [int(child) for child in (task / "children").read_text().split()]
    raise KernelDied("the kernel template's process was not found")


_template: KernelTemplate | None = None


def template(modules: tuple[str, ...], limits: Limits) -> KernelTemplate:
    """This process's template, with at least `modules` imported: started on first use, and again
    (with every module asked for so far) when it died or lacks one; a course's lessons ask for a few
    sets."""
    global _template
    have = set(_template.modules) if _template is not None and _template.alive() else set()
    if not have or not set(modules) <= have:
        if _template is not None:
            _template.close()
        _template = KernelTemplate(tuple(sorted(have | set(modules))), limits)
    return _template


def discard_template(old: KernelTemplate | None = None) -> None:
    """Close this process's template (or `old`, one that failed): the next warm kernel forks from
    a new one."""
    global _template
    old = old or _template
    if old is not None:
        old.close()
    if _template is old:
        _template = None


class ForkedKernel(Kernel):
    """A warm kernel: forked from the template, then given a sandbox of its own (see
    kernel_template.py)."""

    def __init__(self, scratch: Path, limits: Limits, modules: tuple[str, ...]):
        super().__init__(scratch, limits, sandbox=True)
        self.modules = modules
        self.template: KernelTemplate | None = None
        self.number = 0  # the template's number for this kernel
        self.exit: int | None = None

    def start(self) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.timed_out, self.exit = None, None
        self.template = template(self.modules, self.limits)
        self.number = next(self.template.numbers)
        kernel_request, self.request_fd = os.pipe()
        self.reply_fd, kernel_reply = os.pipe()
        output = os.open(self.scratch / OUTPUT_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        below_tmp = [str(p) for p in _readonly_paths() if Path("/tmp") in p.parents]
        # A user no earlier kernel had, as for a cold kernel (fork-flood, keyring-leave).
        # The kernel's limits are the cold kernel's table itself, not a copy of some of its fields.
        spec = {"uid": new_uid(), "limits": self.limits.to_dict(), "readonly_below_tmp": below_tmp}
        # Whatever interrupts the start (the notebook's alarm, a cgroup that cannot be made) stops
        # the kernel: none is left to the template.
        try:
            try:
                host_pid = self.template.start(self.number, spec,
                                               [kernel_request, kernel_reply, output])
            finally:
                for fd in (kernel_request, kernel_reply, output):
                    os.close(fd)
            self.cgroup = Cgroup.create(self.limits)
            if self.cgroup is not None:
                # Before it runs anything: every process it starts is counted.
                self.cgroup.add(host_pid)
            self.template.go(self.number)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def running(self) -> bool:
        return self.template is not None and self.exit is None

    def stop(self, wait: float = 0) -> int | None:
        if self.template is None:
            return None
        template, self.template = self.template, None
        code = template.exit_code(self.number, wait) if wait else None
        if code is None:
            if self.cgroup is not None:
                self.cgroup.remove()
                self.cgroup = None
            template.stop_kernel(self.number)
            # The template reports the kill, or is replaced.
            if template.exit_code(self.number, 10) is None:
                discard_template(template)
        self.exit = code if code is not None else -signal.SIGKILL
        self._close_pipes()
        return code
