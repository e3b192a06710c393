"""Verdicts, the fourth stage: test cells run here, in the grader's own process, never in the
student's kernel.

A test cell is instructor code: it builds inputs, calls the student's functions, reads the
student's variables and hands what came back to `mlcourse.checking`. It runs in a namespace made
by the source notebook's `setup` cell, with the grader's own numpy, torch and builtins; each name
it reads that the setup does not define is looked up in the student's kernel and bound to a
`Remote` (a function or object that stays there) or to plain data
(autograder/sandbox/inside/codec.py). Calling a `Remote` sends copies of the arguments, runs the
student's code in the kernel and brings back plain data only; a test that needs the arguments as
the call left them (an in-place update, a model after a training step) gets them as new objects
through `after_call` (`call_with_state`).

So the verdict is computed by trusted code from plain values, and the student's code can change
nothing the checks run on: not the test's own objects (a call only ever sees copies), not numpy,
torch, builtins or IPython (those of the kernel are separate), not the test's source (the kernel
never receives it), not the expected values (they are computed here, from solutions/ the kernel
cannot read).

What the student's code did wrong travels as data (AnswerError: a kind, the exception's type name,
a text to show), and no verdict is decided from a message's text: the only text matched is
torch's or numpy's own, to translate a common error for the student
(mlcourse.checking.TORCH_ERRORS, the one table of them).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from autograder.sandbox.inside.codec import decode, encode
from autograder.sandbox.kernels import SandboxedKernel
from mlcourse import checking
from mlcourse.checking import CheckFailure
from mlcourse.lessons import Cell, Lesson, names_read

# What the student's code did instead of answering, as the grader branches on it. The kernel names
# the first three (autograder/sandbox/inside/student_kernel.py); the grader adds the kernel's end
# (sandbox.kernels.KernelDied.kind) and a reply it cannot read.
ErrorKind = Literal["raised", "not_implemented", "name_missing", "died", "timeout", "output_limit",
                    "unreadable"]
KERNEL_KINDS = ("raised", "not_implemented", "name_missing")
# the kernel was lost: whatever the cell had defined is gone with it
KERNEL_LOST = ("died", "timeout", "output_limit")


@dataclass(frozen=True)
class AnswerError:
    """An error of the student's code: its kind, the text the student reads (display only, never
    parsed), and the type name of the exception it raised, when it raised one."""

    kind: ErrorKind
    text: str
    exception: str | None = None

    @classmethod
    def from_reply(cls, reply: dict) -> AnswerError:
        """The error of a kernel's failed reply. The kernel is the student's: a kind it may not
        claim counts as "raised", and every field is bounded."""
        kind, exception = reply.get("kind"), reply.get("exception")
        return cls(kind if kind in KERNEL_KINDS else "raised", str(reply.get("error"))[:500],
                   exception[:100] if isinstance(exception, str) else None)


class StudentError(Exception):
    """The student's code raised, or sent back something that is not plain data: `error` says
    which, the exception's text is what the student reads."""

    def __init__(self, message: str, error: AnswerError):
        super().__init__(message)
        self.error = error


def meaning(error: AnswerError) -> str | None:
    """What a common torch or numpy error means, in the course's words (None: not one of
    mlcourse.checking.TORCH_ERRORS)."""
    said = checking.in_course_words(error.exception or "", error.text)
    return None if said is None else f"That is, {said}"


class Remote:
    """A function or object living in the student's kernel: calls and public attributes go there."""

    __slots__ = ("_bridge", "_ref", "_label")

    def __init__(self, bridge: Bridge, ref: int, label: str):
        self._bridge, self._ref, self._label = bridge, ref, label

    def __call__(self, *args, **kwargs):
        return self._bridge.call(self, args, kwargs)[0]

    def call_with_state(self, args: tuple, kwargs: dict) -> tuple[Any, tuple]:
        """(result, the arguments as the call left them), for `mlcourse.checking.after_call`; the
        test's own arguments stay as they were."""
        return self._bridge.call(self, args, kwargs, state=True)

    def call_with_gradients(self, args: tuple, kwargs: dict) -> tuple[Any, tuple]:
        """`call_with_state`, the kernel backpropagating from the result first, for
        `mlcourse.checking.gradients_after`: the arguments come back with the gradients that reached
        them."""
        return self._bridge.call(self, args, kwargs, state=True, backward=True)

    def __getattr__(self, name: str):
        # no dunder protocol (__array_interface__, __eq__, ...) reaches the student
        if name.startswith("_"):
            raise AttributeError(name)
        return self._bridge.request({"op": "attr", "ref": self._ref, "name": name},
                                    f"{self._label}.{name}")

    def __repr__(self) -> str:
        return f"<the student's {self._label}>"


def describe_call(label: str, args: tuple, kwargs: dict) -> str:
    """`fn(Tensor (3, 6) float32, list of 2, lr=float)`: a call as a student can recognise it,
    values left out."""
    def kind(value: Any) -> str:
        if hasattr(value, "shape") and hasattr(value, "dtype"):
            return (f"{type(value).__name__} {tuple(value.shape)} "
                    f"{str(value.dtype).removeprefix('torch.')}")
        if isinstance(value, (list, tuple, dict)):
            return f"{type(value).__name__} of {len(value)}"
        return type(value).__name__
    parts = [kind(a) for a in args] + [f"{k}={kind(v)}" for k, v in kwargs.items()]
    return f"{label.removesuffix('(...)')}({', '.join(parts)})"


class Bridge:
    """Requests to the kernel, each within `timeout()` seconds, replies decoded as plain data.

    Arguments travel to the kernel as copies (codec.encode, pickles allowed in that direction): a
    call can never change the objects of the test that made it. Where a test needs the state after a
    call, `call(..., state=True)` brings it back as new objects."""

    def __init__(self, kernel: SandboxedKernel, timeout):
        self.kernel, self.timeout = kernel, timeout

    def request(self, message: dict, label: str) -> Any:
        reply = self.kernel.request(message, self.timeout())
        if not reply["ok"]:
            error = AnswerError.from_reply(reply)
            translated = meaning(error)
            raise StudentError(f"`{label}` raised {error.text}"
                               + (f"\n{translated}" if translated else ""), error)
        try:
            return decode(reply.get("value"),
                          ref=lambda r: Remote(self, int(r["id"]), f"{label}(...)"))
        # anything unreadable is the student's problem, never ours
        except Exception as error:  # noqa: BLE001
            raise _unreadable(f"`{label}` sent back a value the grader cannot read "
                              f"({error})") from None

    def get(self, name: str) -> Any:
        value = self.request({"op": "get", "name": name}, name)
        if isinstance(value, Remote):
            value._label = name
        return value

    def call(self, function: Remote, args: tuple, kwargs: dict,
             state: bool = False, backward: bool = False) -> tuple[Any, tuple]:
        """(the call's result, the arguments after it when `state`, else ()); `backward`: the kernel
        backpropagates from the result before sending the arguments back."""
        refs = lambda obj: obj._ref if isinstance(obj, Remote) else None  # noqa: E731
        message = {"op": "call", "ref": function._ref, "state": state,
                   "args": encode(list(args), refs=refs, pickle_ok=True),
                   "kwargs": encode(dict(kwargs), refs=refs, pickle_ok=True)}
        if backward:
            message["backward"] = True
        reply = self.request(message, describe_call(function._label, args, kwargs))
        if not isinstance(reply, dict) or set(reply) != {"result", "state"}:
            raise _unreadable(f"`{function._label}` sent back a malformed reply")
        if not state:
            return reply["result"], ()
        try:
            return (reply["result"],
                    tuple(_after(a, s) for a, s in zip(args, reply["state"], strict=True)))
        except Exception as error:  # noqa: BLE001 - whatever shape the kernel's data has
            raise _unreadable(f"`{function._label}` left its arguments in a state the grader "
                              f"cannot read ({error})") from None


def _unreadable(message: str) -> StudentError:
    return StudentError(message, AnswerError("unreadable", message))


def _after(original: Any, state: Any) -> Any:
    """A new object: `original` as the call left it in the kernel (arrays, tensors, torch modules
    and plain data come back; the test's own object is not touched)."""
    if isinstance(original, np.ndarray):
        return np.array(state, dtype=original.dtype).reshape(original.shape)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(original, torch.Tensor):
        return _tensor_like(original, state["data"], state["grad"])
    if torch is not None and isinstance(original, torch.nn.Module):
        after = copy.deepcopy(original)
        with torch.no_grad():
            for name, tensor in after.state_dict(keep_vars=True).items():
                tensor.copy_(state["state"][name].reshape(tensor.shape))
        for name, parameter in after.named_parameters():
            grad = state["grads"][name]
            parameter.grad = (None if grad is None
                              else grad.detach().reshape(parameter.shape).to(parameter.dtype))
        return after
    return copy.deepcopy(original) if isinstance(state, Remote) else state


def _tensor_like(original, data, grad):
    tensor = data.detach().reshape(original.shape).to(original.dtype).clone()
    if original.requires_grad:
        tensor.requires_grad_(True)
        tensor.grad = (None if grad is None
                       else grad.detach().reshape(original.shape).to(original.dtype))
    return tensor


@dataclass(frozen=True)
class Verdict:
    """What one test cell decided: its status, the message the student reads, the misconception it
    named, when the test could not find a name, that name (an answer cell that failed or was left
    out), and the names of the student's it read."""

    status: Literal["passed", "failed", "error"]
    message: str = ""
    misconception: str | None = None
    missing_name: str | None = None
    student_names: frozenset[str] = frozenset()


class TestRunner:
    """Runs a lesson's test cells in one trusted namespace seeded by its `setup` cell."""

    def __init__(self, lesson: Lesson, root: Path):
        self.namespace: dict[str, Any] = {"__name__": "__main__"}
        exec(compile(lesson.setup, f"{lesson.name}:setup", "exec"), self.namespace)
        # Hidden tests read expected values from this course's solutions, named here, not found by
        # guessing.
        for name, value in list(self.namespace.items()):
            if value is checking.reference:
                self.namespace[name] = functools.partial(checking.reference, root=root)
        # Looked up in the kernel for every test: what the answer cells define (even where the setup
        # defines the same name) and whatever else the namespace lacks.
        self.student_names: set[str] = lesson.answer_names
        # the names the test being run read from the kernel, so far
        self.read: set[str] = set()

    def run(self, test: Cell, bridge: Bridge) -> Verdict:
        """The verdict of one test cell; raises KernelDied when the kernel is lost."""
        self.read = set()
        verdict = self._verdict(test, bridge)
        return dataclasses.replace(verdict, student_names=frozenset(self.read))

    def _verdict(self, test: Cell, bridge: Bridge) -> Verdict:
        said: list[str] = []
        for part, hidden in ((test.visible, False), (test.hidden, True)):
            if not part.strip():
                continue
            code = compile(part, f"<test {test.grade_id}>", "exec")
            try:
                self._bind_student_names(part, bridge)
                # What a check prints is for the notebook's reader; what it notes (a rounded answer
                # accepted, a helper's slip carried forward) is also for the feedback page.
                with contextlib.redirect_stdout(io.StringIO()), checking.notes() as noted:
                    exec(code, self.namespace)
                said += noted
            except CheckFailure as failure:
                return Verdict("failed", failure.hidden_message() if hidden else str(failure),
                               failure.misconception)
            except StudentError as error:
                return Verdict("error", str(error))
            except NameError as error:
                return Verdict("error", f"{error}: its answer cell did not define it (or failed)",
                               missing_name=error.name)
            except Exception as error:  # noqa: BLE001 - the check could not use what came back
                what = "a hidden check" if hidden else "the check"
                detail = "" if hidden else f": {type(error).__name__}: {str(error)[:300]}"
                return Verdict("error", f"{what} could not use the answer{detail}")
        return Verdict("passed", "\n".join(dict.fromkeys(said)))

    def _bind_student_names(self, source: str, bridge: Bridge) -> None:
        for name in sorted(names_read(source)):
            if name in self.namespace and name not in self.student_names:
                continue  # the setup's (or an earlier test's) own object, never the student's
            self.namespace.pop(name, None)
            try:
                self.namespace[name] = bridge.get(name)
                self.student_names.add(name)
                self.read.add(name)
            except StudentError as error:
                if error.error.kind != "name_missing":
                    raise
                # not defined in the kernel: the test's NameError says so
