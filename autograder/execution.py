"""Execution, the third stage: the setup and answer cells run in the student's sandboxed kernel.

A `KernelSession` owns the kernel of one notebook. A kernel lost to a crash or a per-cell limit
costs the step it was running: the session starts a new kernel, replays the earlier steps and
grading goes on. Limits on the whole notebook (its total time, the number of restarts) raise
`NotebookLimit`, which ends the notebook's grading. A kernel that cannot be started, or a setup cell
(the instructor's code, run before any of the student's) that fails, raise `GraderFault`: the
grader failed, not the student, and the notebook is graded again (autograder/pipeline.py).
"""

from __future__ import annotations

import time
from pathlib import Path

from autograder.sandbox.kernels import (
    ForkedKernel,
    Interrupted,
    Kernel,
    KernelDied,
    Limits,
    SandboxedKernel,
    warm_available,
)
from autograder.verdicts import AnswerError, Bridge
from mlcourse.lessons import Cell


class NotebookLimit(Interrupted):
    """A limit on the whole notebook was reached; the remaining tests are not run."""


class TimeLimit(NotebookLimit):
    """The notebook's wall-clock time ran out (under load, another run may not reach it)."""


class GraderFault(NotebookLimit):
    """The grader failed on this notebook (its kernel would not start, the setup cell failed), not
    the student."""


class KernelSession:
    """The kernel of one notebook, restarted (with the earlier steps replayed) when it is lost."""

    def __init__(self, scratch: Path, limits: Limits, sandbox: bool, timings: dict[str, float],
                 warm_modules: tuple[str, ...] | None = None, deadline: float | None = None):
        self.scratch, self.limits, self.sandbox, self.timings = scratch, limits, sandbox, timings
        # Warm kernels, forked from a template that imported these modules, where the machine allows
        # them.
        self.warm_modules = (warm_modules if warm_modules is not None and warm_available(sandbox)
                             else None)
        # The notebook's (time.monotonic()); reading and planning the submission already counted
        # against it.
        self.deadline = (deadline if deadline is not None else time.monotonic()
                         + limits.notebook_seconds)
        self.kernel: Kernel | None = None
        # setup and answer steps that ran in this notebook, to replay after a restart
        self.done: list[Cell] = []
        self.starts = 0
        # a wall-clock limit was reached: under load, another run may not reach it
        self.timed_out = False

    def timeout(self, seconds: float | None = None) -> float:
        """Seconds the next request may take: the cell's limit (`seconds`, when given) within the
        notebook's."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.timed_out = True
            raise TimeLimit(f"the notebook's time limit of {self.limits.notebook_seconds:g} s was "
                            "reached")
        return min(self.limits.cell_seconds if seconds is None else seconds, left)

    def tick(self, phase: str, start: float) -> None:
        """Add the time since `start` to `phase` ("kernel", "setup", "answers", "tests")."""
        self.timings[phase] = self.timings.get(phase, 0.0) + time.monotonic() - start

    def bridge(self) -> Bridge:
        """The way to the running kernel for a test cell (a kernel is started when there is
        none)."""
        if self.kernel is None:
            self._start()
        return Bridge(self.kernel, self.timeout)

    def _start(self) -> None:
        if self.starts > self.limits.restarts:
            raise NotebookLimit(f"the kernel stopped once more after {self.limits.restarts} "
                                "restarts, the most a notebook may have")
        # no kernel is started for a notebook whose time is up (NotebookLimit: the student's time)
        self.timeout()
        self.starts += 1
        start = time.monotonic()
        kernel = (ForkedKernel(self.scratch, self.limits, self.warm_modules)
                  if self.warm_modules is not None
                  else SandboxedKernel(self.scratch, self.limits, self.sandbox))
        try:
            kernel.start()
        # before any student code runs in it: the grader's failure
        except (KernelDied, OSError) as error:
            raise GraderFault(f"the student's kernel could not be started ({error})") from None
        finally:
            self.tick("kernel", start)
        self.kernel = kernel
        for step in list(self.done):
            if self.kernel is None:
                # a replayed step killed it: it is dropped, and the next start replays the rest
                break
            self.run(step, replay=True)

    def run(self, step: Cell, replay: bool = False) -> AnswerError | None:
        """Run a setup or answer cell in the kernel; its error (it raised, or its kernel was lost),
        or None."""
        bridge = self.bridge()  # a kernel started here counts as "kernel" time, not the step's
        start = time.monotonic()
        try:
            # The setup (the instructor's imports) gets the start-up allowance, not a student's cell
            # limit.
            seconds = self.limits.startup_seconds if step.kind == "setup" else None
            allowed = self.timeout(seconds)
            reply = bridge.kernel.request({"op": "run", "source": step.source}, allowed)
        except KernelDied as error:
            self.lost()
            # the instructor's code, before any of the student's: nothing to skip
            if step.kind == "setup":
                # the notebook's own time ran out
                if self.timed_out and seconds is not None and allowed < seconds:
                    raise NotebookLimit(f"the setup cell did not finish ({error})") from None
                raise GraderFault(f"the setup cell did not finish ({error})") from None
            if replay:
                self.done.remove(step)
            return AnswerError(error.kind, str(error))
        finally:
            self.tick("setup" if step.kind == "setup" else "answers", start)
        if step.kind == "setup" and not reply["ok"]:
            raise GraderFault(f"the setup cell raised {str(reply.get('error'))[:300]}")
        if not replay:
            self.done.append(step)
        return None if reply["ok"] else AnswerError.from_reply(reply)

    def lost(self) -> None:
        """The kernel died: the next step starts a new one."""
        if self.kernel is not None:
            self.timed_out |= bool(self.kernel.timed_out)
        self.kernel = None

    def close(self) -> None:
        if self.kernel is not None:
            self.kernel.stop()
