"""The system calls a student's kernel never needs, denied with EPERM by a seccomp filter that
every kernel (cold and warm, kernels.py and kernel_template.py) installs on itself before any
student code.

The filter is libseccomp's, built through pyseccomp (its ctypes binding). It allows every other
call, and kills a process that makes a call through another architecture's ABI (32-bit
`int 0x80`, x32), where the numbers differ and a list of 64-bit ones would not apply.
"""

from __future__ import annotations

import errno

import pyseccomp as seccomp

# One list, tested call by call (autograder/tests/test_kernel_isolation.py): in a kernel each one
# fails with EPERM. A deny list, not an allow list: numpy, torch and IPython make calls no list of
# ours would foresee, and the sandbox, not this filter, is the wall; the filter closes what a
# namespace leaves open (unprivileged-syscalls).
DENIED = (
    # Keyrings: a user's keys outlive its processes, so a kernel could leave one for a later kernel
    # (keyring-leave, then keyring-find).
    "add_key", "keyctl", "request_key",
    # Other processes and their memory: no notebook needs them, and unsandboxed (--no-sandbox, where
    # the filter still applies) the grader's own processes have the kernel's user.
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    # Namespaces and mounts: the grader makes a kernel's, a kernel makes none (see also clone
    # below); a user namespace would give it capabilities again, a mount could hide or replace
    # what the sandbox shows.
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "open_by_handle_at",
    "name_to_handle_at",
    # The machine itself.
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "swapon",
    "swapoff", "reboot", "acct", "quotactl", "syslog", "vhangup", "iopl", "ioperm",
    # Kernel interfaces with a history of privilege escalations that no notebook uses.
    "bpf", "perf_event_open", "userfaultfd", "personality", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "fanotify_init", "lookup_dcookie",
)
# clone() may not make a namespace either (unshare's flags, as clone's first argument). clone3
# passes its flags in memory, which a filter cannot read: it says ENOSYS, and the C library falls
# back to clone.
NAMESPACE_FLAGS = {"CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000,
                   "CLONE_NEWUTS": 0x04000000, "CLONE_NEWIPC": 0x08000000,
                   "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
                   "CLONE_NEWNET": 0x40000000}


def install() -> None:
    """Deny these calls to this process (all its threads) and to every process it starts, for
    good."""
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    # Another ABI numbers its calls differently: through it, every denied call would pass.
    rules.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    # Every thread, also those an import already started: one left unfiltered would make the calls.
    rules.set_attr(seccomp.Attr.CTL_TSYNC, 1)
    for name in DENIED:
        rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
    for flag in NAMESPACE_FLAGS.values():
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone",
                       seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    # ENOSYS, not EPERM: the C library then falls back to clone, which the rules above can read.
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    rules.load()  # with no_new_privs (libseccomp's default): no setuid program can shed the filter
