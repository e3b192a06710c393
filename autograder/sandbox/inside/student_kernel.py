"""The student's kernel: runs inside the sandbox and answers the grader over a pipe.

    python -I -m autograder.sandbox.inside.student_kernel [--ptys COUNT] [--drop-to UID]

Messages on the inherited stdin/stdout are frames of autograder/sandbox/inside/framing.py, their
values encoded by codec.py.
Requests: {"op": "run", "source"} runs a cell in an IPython shell; {"op": "get", "name"} sends a
variable; {"op": "call", "ref", "args", "kwargs", "state", "backward"} calls a function; {"op":
"attr", "ref", "name"} reads an attribute. Values go back as plain data or handles (`ref`s); with
`"state": true` the arguments go back too, as the call left them, for a check of what it did to
them; with `"backward": true` the kernel first backpropagates from the result, so that the
arguments' gradients say whether the result is connected to them. A request that raised is
answered {"ok": false, "kind", "exception", "error"}: the kind ("raised", "not_implemented", or
"name_missing" for a `get` of a name the shell lacks) and the exception's type name are what the
grader branches on, the text only what the student reads.

Nothing here is trusted: the student's code shares this process and may rewrite all of it. The
grader only ever reads plain data from it (see autograder/verdicts.py).
"""

from __future__ import annotations

import os
import sys
import traceback

from autograder.sandbox.inside import framing, syscalls
from autograder.sandbox.inside.codec import decode, encode


def _drop_privileges(uid: int) -> None:
    """Become `uid` (an unprivileged user with no files) before any student code runs, so process
    limits apply."""
    # Root's supplementary groups first, then the group while root may still change it, the user
    # last: from root, setuid clears every capability bubblewrap left (SETUID, SETGID, SYS_ADMIN),
    # and RLIMIT_NPROC, which root ignores, counts this kernel's user alone (fork-flood).
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


class Channel:
    """The kernel's end of its pipes to the grader: one frame (autograder/sandbox/inside/framing.py)
    per message."""

    def __init__(self, read_fd: int, write_fd: int):
        self.read_fd, self.write_fd = read_fd, write_fd

    def receive(self):
        """The grader's next request; EOFError when the grader closed the pipe."""
        # The grader is trusted: its arguments may be as large as the framing allows.
        return framing.receive(self.read_fd)

    def send(self, message) -> None:
        framing.send(self.write_fd, message)


def _state(obj):
    """An argument as a call left it, for a check that asks (`after_call`): tensors with their
    gradients, torch modules as their state and gradients, anything else as itself."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        return {"data": obj, "grad": obj.grad}
    if torch is not None and isinstance(obj, torch.nn.Module):
        return {"state": dict(obj.state_dict(keep_vars=True)),
                "grads": {name: p.grad for name, p in obj.named_parameters()}}
    return obj


def _backward(result) -> None:
    """Backpropagate from the sum of a call's result (mlcourse.checking.gradients_after); a result
    that is not a tensor, or holds no gradient, is left alone: no gradient reaches the arguments."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(result, torch.Tensor) and result.requires_grad:
        result.sum().backward()


class KernelServer:
    """The student's IPython shell and the handles to its objects that the grader holds."""

    def __init__(self):
        from IPython.core.interactiveshell import InteractiveShell

        self.shell = InteractiveShell.instance()
        self.handles: list = []

    def ref(self, obj) -> int:
        self.handles.append(obj)
        return len(self.handles) - 1

    def value(self, obj):
        return encode(obj, refs=self.ref)

    def arg(self, data):
        return decode(data, ref=lambda r: self.handles[int(r["id"])], allow_pickle=True)

    def handle(self, request: dict):
        op = request["op"]
        if op == "run":
            result = self.shell.run_cell(request["source"], store_history=False)
            error = result.error_before_exec or result.error_in_exec
            if error is not None:
                raise error
            return None
        if op == "get":
            return self.value(self.shell.user_ns[request["name"]])
        if op == "attr":
            return self.value(getattr(self.handles[int(request["ref"])], request["name"]))
        if op == "call":
            args, kwargs = self.arg(request["args"]), self.arg(request["kwargs"])
            result = self.handles[int(request["ref"])](*args, **kwargs)
            if request.get("backward"):
                _backward(result)
            state = [_state(a) for a in args] if request.get("state") else None
            return self.value({"result": result, "state": state})
        raise ValueError(f"unknown request {op!r}")


def _describe(error: BaseException) -> dict:
    """A failed reply: the error's kind and type as fields for the grader to branch on, and its
    text for the student to read."""
    text = ("KeyError" if isinstance(error, KeyError) and not str(error)
            else f"{type(error).__name__}: {error}"[:2000])
    return {"ok": False, "kind": "not_implemented" if isinstance(error, NotImplementedError)
            else "raised", "exception": type(error).__name__, "error": text}


def main() -> None:
    """A cold kernel: started fresh in its own sandbox, its pipe to the grader on fds 0 and 1."""
    # As root in the sandbox (privileged): its own, capped, pseudo-terminals (pty-flood). Mounted
    # before the drop, which takes the capability to mount away.
    if "--ptys" in sys.argv:
        from autograder.sandbox.inside.kernel_template import private_ptys

        private_ptys(int(sys.argv[sys.argv.index("--ptys") + 1]))
    if "--drop-to" in sys.argv:
        _drop_privileges(int(sys.argv[sys.argv.index("--drop-to") + 1]))
    # Before any student code, and after the drop (setuid itself stays allowed): keyrings, ptrace,
    # namespaces, ... (keyring-leave, unprivileged-syscalls).
    syscalls.install()
    # The pipe to the grader moves off fds 0 and 1: the student's prints go to fd 2 (a size-limited
    # file), and input() reads /dev/null and ends at once instead of waiting (input).
    channel = Channel(os.dup(0), os.dup(1))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    serve(channel)


def serve(channel: Channel) -> None:
    """Answer the grader's requests until it closes the channel (a warm kernel starts here,
    forked)."""
    kernel = KernelServer()
    channel.send({"ok": True, "value": "ready"})
    while True:
        try:
            request = channel.receive()
        except EOFError:
            return
        try:
            reply = {"ok": True, "value": kernel.handle(request)}
        # Whatever the student's code raised goes back as its kind, type and text.
        except BaseException as error:  # noqa: BLE001
            if (isinstance(error, KeyError) and request.get("op") == "get"
                    and request.get("name") not in kernel.shell.user_ns):
                reply = {"ok": False, "kind": "name_missing", "exception": "NameError",
                         "error": f"NameError: name {request['name']!r} is not defined"}
            else:
                traceback.print_exc()
                reply = _describe(error)
        sys.stdout.flush()
        sys.stderr.flush()
        channel.send(reply)


if __name__ == "__main__":
    main()
