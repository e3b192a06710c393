"""The template that warm kernels are forked from; it runs inside the sandbox, as root with the
capabilities to make namespaces, and never runs any student's code.

    python -I -m autograder.sandbox.inside.kernel_template CONTROL_FD MODULE...

It imports the modules of the course's setup cells once (torch, numpy, matplotlib, mlcourse: most
of a notebook's grading time when every kernel imports them afresh), then answers the grader on
CONTROL_FD, a Unix socket: each "start" (with the notebook's request pipe, reply pipe and output
file as passed file descriptors) forks a child, which waits for "go" (the grader first moves it
into the notebook's cgroup), then gives itself what a cold kernel gets from bubblewrap:

- new mount, PID, network, IPC and UTS namespaces; fresh in-memory /scratch and /tmp of the
  notebook's size (the read-only folders below /tmp bound again); a /proc showing only its own; a
  devpts of its own, of a few pseudo-terminals;
- its own user, one per notebook (so process limits count its processes only), its resource
  limits, System V shared memory capped in its IPC namespace, no capabilities left, and the
  seccomp filter of autograder/sandbox/inside/syscalls.py;

then serves the notebook as the kernel, below a PID 1 of its own, so that every process it starts
dies with it. No state of one notebook can reach another: each kernel is a fork of a process that
has only imported modules, and nothing of a kernel outlives it (its processes, files, sockets and
segments die with its namespaces and cgroup).
"""

from __future__ import annotations

import ctypes
import importlib
import os
import select
import signal
import socket
import stat
import sys

from autograder.sandbox.inside import framing
from autograder.sandbox.inside.limits import Limits, apply, cap_system_v_memory

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (2, 4, 8, 32, 4096, 16384,
                                                                           1 << 18)
MS_RDONLY = 1
PR_SET_NO_NEW_PRIVS = 38
# A start passes three descriptors; the fourth slot only shows that more were sent (and dropped).
MAX_FDS = 4
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _mount(source: str | None, target: str, kind: str | None, flags: int,
           data: str | None = None) -> None:
    encode = lambda text: None if text is None else text.encode()  # noqa: E731
    _check(_libc.mount(encode(source), encode(target), encode(kind), flags, encode(data)),
           f"mount {target}")


def _fresh_writable_folders(disk_bytes: int, readonly_below_tmp: list[str]) -> None:
    """New, empty in-memory /scratch and /tmp in this (new) mount namespace; the read-only folders
    the sandbox had below /tmp (a course checked out there) are bound again on the new /tmp."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here reaches the template
    # Held open before the new /tmp hides them: the binds below need the old ones.
    kept = [(path, os.open(path, os.O_PATH)) for path in readonly_below_tmp
            if os.path.exists(path)]
    options = f"size={disk_bytes},mode=1777"
    # Fresh for each kernel: the template's own /scratch and /tmp are shared by all its forks, so a
    # file written there would wait for the next student. Capped (disk-fill); no setuid program
    # and no device node can work from them.
    for folder in ("/scratch", "/tmp"):
        _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, options)
    # Every mount point first, on the new (writable) /tmp: a folder for a folder, an empty file for
    # a file (the grader's package files are bound one at a time); then the binds, a parent
    # before its children.
    for path, fd in kept:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.makedirs(path, mode=0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
    for path, fd in sorted(kept, key=lambda kept: kept[0].count("/")):
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        # A bind ignores MS_RDONLY: only a remount makes it read-only, so that the student cannot
        # change the course library or the grader's modules for the kernels after it.
        _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(fd)


def private_ptys(count: int) -> None:
    """A devpts of this (new) mount namespace's own on /dev/pts, of at most `count`
    pseudo-terminals: a kernel's ptys are capped and do not use up the host's (bubblewrap's
    /dev/ptmx links to pts/ptmx)."""
    # newinstance: the host's pseudo-terminals are neither seen nor counted; max: a kernel that
    # opens ptys until refused and keeps them (pty-flood) is refused at `count`, not when the
    # machine has none left for anyone's login or the other kernels.
    options = f"newinstance,ptmxmode=0666,mode=0620,max={count}"
    _mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, options)


def _confine(spec: dict) -> None:
    """In the kernel, before any student code: its IPC namespace's limits, resource limits, its
    own user."""
    limits = Limits(**spec["limits"])
    # Detached System V segments are counted by no RLIMIT_AS: capped in all in this IPC namespace,
    # while still root, so the student cannot raise the cap (sysv-shared-memory).
    cap_system_v_memory(limits)
    # The cold kernel's table and function (limits.apply says what each limit stops), hard limits
    # included, so that the student cannot raise them again.
    apply(limits)
    os.chdir("/scratch")
    # Supplementary groups first (root's would still open group-readable files), the group while
    # root may still change it, the user last.
    os.setgroups([])
    os.setgid(spec["uid"])
    # From root to a user of its own: every capability is gone, and the process limit counts this
    # kernel alone (fork-flood); a uid no earlier kernel had shares no keyring (keyring-leave).
    os.setuid(spec["uid"])
    # No setuid program can give privileges back (and seccomp needs it without CAP_SYS_ADMIN).
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _init(spec: dict, fds: list[int]) -> None:
    """PID 1 of the notebook's namespace: its /proc, then the kernel as PID 2, reaped with every
    orphan.

    The kernel is not PID 1 itself: a namespace's init ignores signals it has no handler for, such
    as the SIGXCPU of its CPU-time limit. When the kernel ends, PID 1 ends with its status, and with
    it every process left in the namespace."""
    # A /proc of the new PID namespace: the template, the grader and the kernels before it are not
    # there to read or to signal (kill-parent).
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    kernel = os.fork()
    if kernel == 0:
        try:
            _kernel(spec, *fds)
        finally:
            os._exit(0)
    for fd in fds:
        os.close(fd)
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == kernel:
            os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status)
                     else 128 + os.WTERMSIG(status))


def _kernel(spec: dict, request_fd: int, reply_fd: int, output_fd: int) -> None:
    """The kernel: confine itself, then serve the grader like a cold kernel."""
    from autograder.sandbox.inside import syscalls
    from autograder.sandbox.inside.student_kernel import Channel, serve

    _confine(spec)
    # After the drop to its own user, before any student code: keyrings, ptrace, namespaces, ...
    # (keyring-leave, unprivileged-syscalls).
    syscalls.install()
    # input() ends at once instead of waiting for the notebook's time limit (input).
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    # Prints go to the capped output file (output-lines, output-one-line).
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    keep = {0, 1, 2, request_fd, reply_fd}
    # Nothing of the template's is left open: with its control socket, the student could start
    # and stop kernels or read the descriptors passed for the next notebook.
    for fd in map(int, os.listdir("/proc/self/fd")):  # the template's control socket among them
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    sys.stdout, sys.stderr = os.fdopen(1, "w", buffering=1), os.fdopen(2, "w", buffering=1)
    serve(Channel(request_fd, reply_fd))


def _child(spec: dict, gate: int, fds: list[int]) -> None:
    """The notebook's first process: wait for the grader's go, make the namespaces, fork the
    kernel, wait."""
    os.setsid()  # the template kills the notebook's process group (when no cgroup does it)
    # The gate: nothing runs until the grader has moved this process into the notebook's cgroup,
    # so every process of the kernel is born in it and counted (fork-flood, memory-bomb).
    if os.read(gate, 1) != b"g":
        os._exit(1)
    # Mounts: its own /scratch, /tmp and devpts, unseen by the template and the kernels after it.
    # PID: the template and other kernels cannot be seen or signalled (kill-parent), and the
    # kernel's processes die with its PID 1. Network: its own loopback and abstract sockets, so
    # nothing a kernel listens on reaches another. IPC: System V memory capped and gone with it
    # (sysv-shared-memory). UTS: a changed host name stays inside.
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS),
           "unshare")
    limits = Limits(**spec["limits"])
    _fresh_writable_folders(limits.disk_bytes, spec["readonly_below_tmp"])
    private_ptys(limits.ptys)
    init = os.fork()
    if init == 0:
        try:
            _init(spec, fds)
        finally:
            os._exit(1)
    for fd in fds:
        os.close(fd)
    _, status = os.waitpid(init, 0)
    # As bubblewrap does: the kernel's exit code, or 128 + the signal that killed it.
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status)
             else 128 + os.WTERMSIG(status))


def _stop(child: int) -> int:
    """Kill a notebook's first process and its process group (before its setsid too), reap it: its
    exit code."""
    for kill in (os.kill, os.killpg):
        try:
            kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])


def _serve(control: socket.socket) -> None:
    """One notebook at a time: start, go, then report its exit (or kill it when the grader says
    stop).

    Every message names the kernel it is about (the grader's number for it), so that a reply the
    grader stopped waiting for (its start or stop was interrupted) is never taken for another's; a
    kernel the grader abandoned is killed when the next one starts; and every child is reaped."""
    # The grader's number of the current kernel, its first process.
    kernel, child, gate = None, None, None
    while True:
        # Reap whatever ended, not only the current kernel: no zombie is left behind.
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid == child:
                framing.send_packet(control, {"kernel": kernel,
                                              "exit": os.waitstatus_to_exitcode(status)})
                child = None
        if not select.select([control], [], [], 0.05 if child else None)[0]:
            continue
        message, fds = framing.receive_packet(control, MAX_FDS)
        if message is None:
            return
        if message["op"] == "start":
            if child is not None:  # abandoned by the grader: it must not run beside the next one
                _stop(child)
            if gate is not None:
                os.close(gate)
            read_gate, gate = os.pipe()
            kernel, child = message["kernel"], os.fork()
            if child == 0:
                # The kernel must hold no end of the template's: with the control socket it could
                # forge the template's messages, with the gate open its own go.
                control.close()
                os.close(gate)
                try:
                    _child(message, read_gate, fds)
                finally:
                    os._exit(1)
            os.close(read_gate)
            for fd in fds:
                os.close(fd)
            framing.send_packet(control, {"kernel": kernel, "pid": child})
        elif message.get("kernel") != kernel or child is None:
            continue  # about a kernel that has already ended
        elif message["op"] == "go" and gate is not None:
            os.write(gate, b"g")
            os.close(gate)
            gate = None
        elif message["op"] == "stop":
            framing.send_packet(control, {"kernel": kernel, "exit": _stop(child)})
            child = None


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    for name in sys.argv[2:]:
        try:
            importlib.import_module(name)
        # A module that does not import is imported (and fails) in the kernel.
        except Exception:  # noqa: BLE001
            pass
    # And the kernel's own code, for the children.
    from autograder.sandbox.inside import student_kernel  # noqa: F401

    framing.send_packet(control, {"ready": os.getpid()})
    _serve(control)


if __name__ == "__main__":
    main()
