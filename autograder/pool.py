"""The worker pool: many notebooks graded at once, each in a long-lived worker process.

Both halves of the protocol are here. The orchestrator (`grade_all`) starts up to `jobs` workers,
`python -m autograder.pool`, each in a process group of its own, and sends each a task at a time;
a worker (`serve`) grades it with `autograder.engine.grade_task` and answers with the result.
Messages are frames on the worker's stdin and stdout: an 8-byte length and JSON (tasks carry
their notebooks as base64), never pickle. A worker keeps the grader's own imports (torch, numpy,
the engine) between notebooks; student code never runs in it (the engine runs that in a
sandboxed kernel), so nothing a student does carries over. A worker that dies, or overruns the
notebook's time limit by more than GRACE_SECONDS, is killed with everything it started and
replaced; only its notebook is affected.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm.auto import tqdm

from autograder.engine import Options, Task, grade_task
from autograder.environment import tool_env
from autograder.results import NotebookResult

GRACE_SECONDS = 20.0  # beyond the engine's own notebook limit, before a worker is killed


def _send(fd: int, message: dict) -> None:
    raw = json.dumps(message).encode()
    data = len(raw).to_bytes(8, "big") + raw
    while data:
        data = data[os.write(fd, data):]


def _receive(fd: int) -> dict | None:
    """The next frame on `fd`, or None at end of file (the other side is gone)."""
    def exactly(n: int) -> bytes | None:
        chunks = []
        while n:
            chunk = os.read(fd, min(n, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    header = exactly(8)
    body = exactly(int.from_bytes(header, "big")) if header else None
    return json.loads(body) if body is not None else None


# --- the worker's half -------------------------------------------------------------------------------

def serve() -> None:
    """A worker: grade each task that arrives on stdin, answer on stdout, until stdin closes."""
    workdir = Path(tempfile.mkdtemp(prefix="autograder-worker-"))
    requests, replies = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # anything printed while grading goes to the log, not into the frames
    while (request := _receive(requests)) is not None:
        try:
            result = grade_task(Task.from_dict(request["task"]), Options(**request["options"]), workdir)
            reply = {"result": result.to_dict()}
        except Exception as error:  # a bug of the grader, not of the student: reported for this notebook only
            traceback.print_exc()
            reply = {"error": f"the grader failed on this notebook: {type(error).__name__}: {error}"}
        sys.stderr.flush()
        _send(replies, reply)


# --- the orchestrator's half ----------------------------------------------------------------------

class Worker:
    """One worker process, grading at most one task at a time."""

    def __init__(self, log: Path):
        self.log = log
        with open(log, "ab") as output:
            self.process = subprocess.Popen([sys.executable, "-m", "autograder.pool"], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=output, env=tool_env(),
                                            start_new_session=True)
        self.task: Task | None = None
        self.started = 0.0

    def submit(self, task: Task, options: Options) -> None:
        self.task, self.started = task, time.monotonic()
        try:
            _send(self.process.stdin.fileno(), {"task": task.to_dict(), "options": options.__dict__})
        except OSError:
            pass  # it died: the next poll says so

    def reply(self) -> NotebookResult | str:
        """Read the finished task's reply: its result, or a sentence saying why there is none."""
        reply = _receive(self.process.stdout.fileno())
        self.task = None
        if reply is None:
            self.process.wait()
            lines = self.log.read_text(errors="replace").strip().splitlines()
            return (f"the grader's worker stopped (exit code {self.process.returncode}): "
                    f"{lines[-1] if lines else 'no message'}")
        return NotebookResult.from_dict(reply["result"]) if "result" in reply else reply["error"]

    def overdue(self, timeout: float) -> bool:
        return self.task is not None and time.monotonic() - self.started > timeout + GRACE_SECONDS

    def stop(self) -> None:
        """Kill the worker and everything it started (its own process group)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()


def grade_all(tasks: Iterable[Task], options: Options, jobs: int, logs: Path, total: int | None = None
              ) -> Iterator[tuple[Task, NotebookResult | str]]:
    """Grade `tasks` in at most `jobs` workers; yield (task, its result or why there is none) as each finishes."""
    pending = iter(tasks)
    if total == 0:
        return
    logs.mkdir(parents=True, exist_ok=True)
    workers = [Worker(logs / f"worker-{i}.log") for i in range(max(1, min(jobs, total or jobs)))]
    selector = selectors.DefaultSelector()
    try:
        with tqdm(total=total, desc="grading", unit="notebook") as bar:
            for worker in workers:
                _next(worker, pending, options, selector)
            while any(w.task for w in workers):
                finished = [(workers.index(key.data), None) for key, _ in selector.select(timeout=1.0)]
                finished += [(i, f"time limit: grading this notebook took longer than {options.timeout:g} s; its "
                                 "tests score 0") for i, w in enumerate(workers) if w.overdue(options.timeout)]
                for i, overdue in finished:
                    worker = workers[i]
                    selector.unregister(worker.process.stdout)
                    task, outcome = worker.task, overdue or worker.reply()
                    if overdue or worker.process.poll() is not None:  # dead or stuck: a new one takes its place
                        worker.stop()
                        workers[i] = Worker(worker.log)
                    bar.update()
                    yield task, outcome
                    _next(workers[i], pending, options, selector)
    finally:
        for worker in workers:
            worker.stop()


def _next(worker: Worker, pending: Iterator[Task], options: Options, selector) -> None:
    task = next(pending, None)
    if task is not None:
        worker.submit(task, options)
        selector.register(worker.process.stdout, selectors.EVENT_READ, worker)


if __name__ == "__main__":
    serve()
