"""What a kernel may not reach, cold (sandbox.SandboxedKernel) and warm (sandbox.ForkedKernel): the
system calls of autograder/sandbox/inside/syscalls.py, the keyrings of its user, more than its own
few pseudo-terminals."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyseccomp
import pytest

from autograder.sandbox import kernels as sandbox
from autograder.sandbox.inside import syscalls
from autograder.sandbox.kernels import ForkedKernel, Limits, SandboxedKernel, warm_available

pytestmark = pytest.mark.skipif(not warm_available(True),
                                reason="the privileged sandbox needs root")
NUMBERS = {name: pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
           for name in syscalls.DENIED + ("clone3",)}
CLONE, CLONE_SIGHAND = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, "clone"), 0x800

# Every denied call with arguments of -1, then clone with each namespace flag (and CLONE_SIGHAND
# without CLONE_VM, which the kernel refuses with EINVAL before it makes anything), then clone3: the
# errno of each.
PROBE = """
import ctypes, errno, json
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(number, *args):
    ctypes.set_errno(0)
    libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
    return errno.errorcode.get(ctypes.get_errno(), 'none')
numbers, flags = %s, %s
seen = {name: call(number, *[-1] * 6) for name, number in numbers.items() if name != 'clone3'}
seen.update({name: call(%d, flag | %d, 0, 0, 0, 0) for name, flag in flags.items()})
seen['clone3'] = call(numbers['clone3'], 0, 0)
"""
PROBE %= (NUMBERS, syscalls.NAMESPACE_FLAGS, CLONE, CLONE_SIGHAND)


def kernel(kind: str, scratch: Path, limits: Limits | None = None) -> sandbox.Kernel:
    limits = limits or Limits()
    started = (ForkedKernel(scratch, limits, ("numpy", "torch")) if kind == "warm"
               else SandboxedKernel(scratch, limits))
    started.start()
    return started


def run(kind: str, scratch: Path, source: str, limits: Limits | None = None) -> dict:
    """What the kernel printed last, as JSON, after running `source` in it."""
    started = kernel(kind, scratch, limits)
    try:
        reply = started.request({"op": "run", "source": source}, 60)
    finally:
        started.stop()
    assert reply["ok"], reply
    return json.loads((scratch / sandbox.OUTPUT_FILE).read_text().strip().splitlines()[-1])


def test_the_filter_is_what_denies_each_listed_call(tmp_path):
    """As root, every listed call with arguments of -1 fails with some other error (or succeeds
    harmlessly); with the filter installed, each one says EPERM (clone3: ENOSYS)."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.setsid()  # no terminal for vhangup to hang up
            namespace: dict = {}
            exec(PROBE + "before = seen\n", namespace)
            syscalls.install()
            exec(PROBE, namespace)
            os.write(write, json.dumps([namespace["before"], namespace["seen"]]).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        before, after = json.loads(pipe.read())
    os.waitpid(child, 0)
    assert set(before) == set(syscalls.DENIED) | set(syscalls.NAMESPACE_FLAGS) | {"clone3"}
    assert "EPERM" not in before.values(), before
    assert after == {**{name: "EPERM" for name in before}, "clone3": "ENOSYS"}


@pytest.mark.parametrize("kind", ["warm", "cold"])
def test_a_kernel_gets_eperm_for_each_denied_call_and_still_runs_torch(tmp_path, kind):
    seen = run(kind, tmp_path / "kernel", PROBE + (
        "import subprocess, torch, matplotlib.pyplot as plt\ntorch.set_num_threads(2)\n"
        "seen['torch'] = float((torch.ones(64, 64) @ torch.ones(64, 64)).sum())\n"
        "seen['subprocess'] = subprocess.run(['echo', 'ok'], capture_output=True, "
        "text=True).stdout\n"
        "plt.plot([1, 2]); plt.savefig('/scratch/plot.png'); seen['plot'] = True\n"
        "seen['seccomp'] = [l.split()[1] for l in open('/proc/self/status') "
        "if l.startswith('Seccomp:')][0]\n"
        "print(json.dumps(seen))"))
    assert {name: seen.pop(name) for name in ("torch", "subprocess", "plot", "seccomp")} == {
        "torch": 64.0 ** 3, "subprocess": "ok\n", "plot": True, "seccomp": "2"}
    assert seen == {**{name: "EPERM" for name in seen}, "clone3": "ENOSYS"}


KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING, KEYCTL_SEARCH = -4, -3, 10
LEAVE_KEY = """
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
answers = []
for keyring in (%d, %d):
    key = libc.syscall(%d, b'user', b'left-behind', b'secret', 6, keyring)
    answers.append(errno.errorcode.get(ctypes.get_errno()) if key < 0 else 'stored')
print(json.dumps({"uid": os.getuid(), "stored": answers}))
""" % (KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING, NUMBERS["add_key"])
FIND_KEY = """
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
key = libc.syscall(%d, %d, %d, b'user', b'left-behind', 0)
print(json.dumps({"uid": os.getuid(),
                  "found": key if key >= 0 else errno.errorcode.get(ctypes.get_errno())}))
""" % (NUMBERS["keyctl"], KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING)


def key_users() -> set[int]:
    """Every user the machine holds keys or keyrings for (as root: /proc/key-users lists them
    all)."""
    return {int(line.split(":")[0]) for line in Path("/proc/key-users").read_text().splitlines()}


@pytest.mark.parametrize("kind", ["warm", "cold"])
def test_no_kernel_keeps_a_key_for_a_later_one(tmp_path, kind):
    left = run(kind, tmp_path / "first", LEAVE_KEY)
    found = run(kind, tmp_path / "second", FIND_KEY)
    assert left["stored"] == ["EPERM", "EPERM"] and found["found"] == "EPERM"
    assert left["uid"] != found["uid"]  # and no user of a kernel has a keyring at all:
    assert left["uid"] not in key_users() and found["uid"] not in key_users()


PTYS = """
import errno, json, os
opened = []
try:
    while len(opened) < 1000:
        opened.append(os.openpty())
except OSError as error:
    print(json.dumps({"opened": len(opened), "error": errno.errorcode[error.errno],
                      "seen": sorted(os.listdir('/dev/pts'))}))
"""


@pytest.mark.parametrize("kind", ["warm", "cold"])
def test_a_kernel_has_a_few_ptys_of_its_own(tmp_path, kind):
    before = int(Path("/proc/sys/kernel/pty/nr").read_text())
    started = kernel(kind, tmp_path / "kernel", Limits(ptys=5))
    try:
        reply = started.request({"op": "run", "source": PTYS}, 60)
        during = int(Path("/proc/sys/kernel/pty/nr").read_text())
        master, _ = os.openpty()  # the host still has its own
        os.close(master)
    finally:
        started.stop()
    seen = json.loads(
        (tmp_path / "kernel" / sandbox.OUTPUT_FILE).read_text().strip().splitlines()[-1])
    assert reply["ok"] and seen["opened"] == 5 and seen["error"] == "ENOSPC"
    assert seen["seen"] == ["0", "1", "2", "3", "4", "ptmx"]  # its own, none of the host's
    # The kernel's five (other processes of this machine may open a few).
    assert during - before <= 5 + 10


def test_each_kernel_has_a_user_no_earlier_one_had():
    uids = [sandbox.new_uid() for _ in range(1000)]
    assert (len(set(uids)) == 1000 and min(uids) >= sandbox.SANDBOX_UID_BASE
            and max(uids) < sandbox.UID_END)
