"""Many notebooks graded at once, by Dask distributed: on this machine, or on an existing cluster.

`grade_all` is the one scheduling path for both. It starts a Dask `LocalCluster` of `jobs` one-thread
workers in this process, or connects to a running cluster (`scheduler`, e.g. tcp://host:8786); then it
submits the tasks a window at a time (the class need not fit in memory) and yields each result as
it completes, to this process, the only one that writes the gradebook. A task carries its
notebooks as bytes, so a worker needs the course's environment and bubblewrap, not this machine's
files. A Dask worker that dies (its machine is lost, it is killed) takes nothing with it: the
scheduler hands its tasks to the other workers, and each result still arrives here once.

On a Dask worker, a notebook is graded in a *grading process* (`python -m autograder.pool`, `serve`),
one per worker thread and run, long-lived so that it keeps the grader's own imports (torch, the
engine) between notebooks, in a process group of its own. It exists because Dask runs tasks in
threads, while the engine needs a main thread (its SIGALRM timer bounds the grader's own work on a
notebook) and forks the sandbox. The worker thread waits for its reply at most the notebook's limit
plus GRACE_SECONDS: a grading process that overruns that, or dies, is killed with its process group
and replaced, and only its notebook gets the reason. Student code never runs in it (the engine runs
that in a sandboxed kernel), so nothing a student does carries over. A worker and its grading
process speak in frames on the grading process's stdin and stdout: an 8-byte length and JSON (tasks
carry their notebooks as base64), never pickle. Between this process and the Dask workers, Dask's
own protocol carries the same plain dicts: the cluster is trusted grader code (autograder/README.md,
"Grading on a cluster").
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from distributed import Client, Future, LocalCluster, as_completed, get_worker
from distributed.client import FutureCancelledError
from distributed.scheduler import KilledWorker
from tqdm.auto import tqdm

from autograder.environment import tool_env
from autograder.results import NotebookResult

if TYPE_CHECKING:  # the engine (and torch) is imported by grading processes only, never by a Dask worker itself
    from autograder.engine import Options, Task

GRACE_SECONDS = 20.0  # beyond the engine's own notebook limit, before a grading process is killed
IDLE_SECONDS = 600.0  # a grading process with no work this long exits (its run ended without stopping it)
PR_SET_PDEATHSIG = 1  # prctl(2): the signal this process gets when its parent ends
Scheduler = str | Client  # a Dask cluster: its scheduler's address (tcp://HOST:PORT), or a Client of it


class ClusterError(RuntimeError):
    """The Dask cluster cannot grade this run (unreachable, lost, or a worker with other code)."""


def usable_cpus(proc_self: Path = Path("/proc/self"), cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process may use: its affinity, capped by a cgroup CPU quota where one is set (rounded up).

    The quota is the lowest along the process's cgroup path (a parent's quota binds its children). In a
    container whose /proc/self/cgroup names the host's path, that path does not exist under cgroup_root;
    only its existing ancestors, down to the container's own root, are read."""
    cpus = len(os.sched_getaffinity(0))
    try:
        lines = (proc_self / "cgroup").read_text().splitlines()
    except OSError:
        return cpus
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2: "<quota|max> <period>" in cpu.max
            mount, quota_of = cgroup_root, _v2_quota
        elif "cpu" in controllers.split(","):  # v1: cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us
            mount, quota_of = next((cgroup_root / name for name in ("cpu", controllers)
                                    if (cgroup_root / name).is_dir()), cgroup_root / "cpu"), _v1_quota
        else:
            continue
        folder = mount / path.lstrip("/")
        for level in [folder, *folder.parents]:
            quota = quota_of(level)
            if quota is not None:
                cpus = min(cpus, max(1, math.ceil(quota)))
            if level == mount:
                break
    return cpus


def _v2_quota(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


def _v1_quota(folder: Path) -> float | None:
    try:
        quota, period = (int((folder / f"cpu.cfs_{name}_us").read_text()) for name in ("quota", "period"))
    except (OSError, ValueError):
        return None
    return None if quota < 0 else quota / period


# --- a grading process ----------------------------------------------------------------------------

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


def serve(parent: int) -> None:
    """A grading process: grade each task that arrives on stdin, answer on stdout, until stdin closes,
    IDLE_SECONDS pass without a task, or `parent` (the Dask worker that started it) ends."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the line above took effect
        return
    from autograder.engine import Options, Task, grade_task

    workdir = Path(tempfile.mkdtemp(prefix="autograder-grader-"))
    requests, replies = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # anything printed while grading goes to the log, not into the frames
    while select.select([requests], [], [], IDLE_SECONDS)[0] and (request := _receive(requests)) is not None:
        try:
            result = grade_task(Task.from_dict(request["task"]), Options(**request["options"]), workdir)
            reply = {"result": result.to_dict()}
        except Exception as error:  # a bug of the grader, not of the student: reported for this notebook only
            traceback.print_exc()
            reply = {"error": f"the grader failed on this notebook: {type(error).__name__}: {error}"}
        sys.stderr.flush()
        _send(replies, reply)


class Grader:
    """One grading process, grading one task at a time; started by (and dying with) a Dask worker."""

    def __init__(self, log: Path):
        self.log = log
        self.code = code_fingerprint()  # of the code it is about to import
        with open(log, "ab") as output:
            self.process = subprocess.Popen([sys.executable, "-m", "autograder.pool", str(os.getpid())],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=output,
                                            env=tool_env(), start_new_session=True)

    def grade(self, task: dict, options: dict) -> dict | str:
        """The task's result (a NotebookResult as a dict), or a sentence saying why there is none."""
        try:
            _send(self.process.stdin.fileno(), {"task": task, "options": options})
        except OSError:
            pass  # it died: reading says so
        if not select.select([self.process.stdout], [], [], options["timeout"] + GRACE_SECONDS)[0]:
            self.stop()
            return f"time limit: grading this notebook took longer than {options['timeout']:g} s; its tests score 0"
        reply = _receive(self.process.stdout.fileno())
        if reply is None:
            self.stop()
            lines = self.log.read_text(errors="replace").strip().splitlines()
            return (f"the grader's worker stopped (exit code {self.process.returncode}): "
                    f"{lines[-1] if lines else 'no message'}")
        return reply.get("result", reply.get("error"))

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Kill the grading process and everything it started (its own process group)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()


# --- on a Dask worker ------------------------------------------------------------------------------

_graders: dict[tuple[str, int], Grader] = {}  # (run, worker thread) -> its grading process
_graders_lock = threading.Lock()


def _grade_on_worker(run: str, code: str, task: dict, options: dict) -> dict | str:
    """The Dask task: grade `task` in this worker thread's grading process for `run` (started at its first task),
    if that process runs the code (`code_fingerprint`) the run was started with."""
    key = (run, threading.get_ident())
    with _graders_lock:
        grader = _graders.get(key)
        if grader is None or not grader.running():
            grader = _graders[key] = Grader(Path(get_worker().local_directory) / f"grader-{run}-{key[1]}.log")
    if grader.code != code:
        raise ClusterError(f"the Dask worker {get_worker().address} has other grading code than the run was started "
                           "with (autograder, mlcourse, torch or numpy differ): install the same checkout and "
                           "requirements there, and do not change them while grading")
    return grader.grade(task, options)


def _stop_graders(run: str) -> None:
    """Stop this worker's grading processes of `run` (the run is over)."""
    with _graders_lock:
        for key in [key for key in _graders if key[0] == run]:
            _graders.pop(key).stop()


def code_fingerprint() -> str:
    """A hash of what grades depend on besides a task: the code of autograder and mlcourse (their tests left
    out), and the versions of torch and numpy."""
    digest = hashlib.sha256()
    for package in ("autograder", "mlcourse"):
        folder = Path(importlib.util.find_spec(package).submodule_search_locations[0])  # found, not imported
        for path in sorted(p for p in folder.rglob("*.py") if "tests" not in p.relative_to(folder).parts):
            digest.update(f"{path.relative_to(folder)}\0".encode() + path.read_bytes())
    for distribution in ("torch", "numpy"):
        digest.update(f"{distribution}=={importlib.metadata.version(distribution)}\0".encode())
    return digest.hexdigest()


# --- the orchestrator ----------------------------------------------------------------------------

@contextmanager
def _client(scheduler: Scheduler | None, workers: int, logs: Path) -> Iterator[Client]:
    """A Dask client: of a new LocalCluster of `workers` one-thread workers here (`scheduler` None), of the
    cluster at the address `scheduler`, or `scheduler` itself (a Client, e.g. dask-gateway's: left open)."""
    if scheduler is None:
        # The local workers are threads of this process: each one's grading process is the process that does
        # the work, so a Dask worker process in between would only cost start-up time and memory. Dask's
        # scheduler serves HTTP (health checks) even without a dashboard: on loopback, any free port.
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=False, dashboard_address=None,
                          scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}, local_directory=logs) as cluster, \
                Client(cluster) as client:
            yield client
        return
    if isinstance(scheduler, Client):
        client, opened = scheduler, nullcontext(scheduler)
    else:
        try:
            client = opened = Client(scheduler, timeout=30)
        except OSError as error:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
    with opened:
        threads = client.nthreads()
        print(f"grading on the Dask cluster at {client.scheduler.address}: {len(threads)} worker(s), "
              f"{sum(threads.values())} thread(s)" + ("" if threads else "; grading starts when a worker joins"))
        yield client


def grade_all(tasks: Iterable[Task], options: Options, jobs: int | None, logs: Path, total: int | None = None,
              scheduler: Scheduler | None = None) -> Iterator[tuple[Task, NotebookResult | str]]:
    """Grade `tasks`; yield (task, its result or why there is none) as each finishes.

    Without `scheduler`: in `jobs` workers on this machine (None: one per usable CPU). On the cluster at
    `scheduler` (its address, or a Client of it): at most `jobs` notebooks at once (None: as many as its
    workers have threads)."""
    if total == 0:
        return
    logs.mkdir(parents=True, exist_ok=True)
    local = scheduler is None
    workers = min(jobs or usable_cpus(), total or sys.maxsize)
    run, code, pending, settings = uuid.uuid4().hex[:12], code_fingerprint(), iter(tasks), options.__dict__
    with _client(scheduler, workers, logs) as client:
        in_flight, finished = {}, as_completed()

        def submit_more() -> None:
            # Two per worker thread keep every worker busy while results travel; on a cluster `jobs` caps it.
            window = 2 * sum(client.nthreads().values()) if local or jobs is None else jobs
            while len(in_flight) < max(window, 1) and (task := next(pending, None)) is not None:
                future = client.submit(_grade_on_worker, run, code, task.to_dict(), settings, pure=False)
                in_flight[future.key] = (future, task)
                finished.add(future)

        try:
            with tqdm(total=total, desc="grading", unit="notebook") as bar:
                submit_more()
                for future in finished:
                    _, task = in_flight.pop(future.key)
                    outcome = _outcome(future)
                    bar.update()
                    yield task, NotebookResult.from_dict(outcome) if isinstance(outcome, dict) else outcome
                    submit_more()
        finally:
            client.cancel([future for future, _ in in_flight.values()])
            with suppress(OSError, TimeoutError):  # a lost cluster: its grading processes end when idle
                client.run(_stop_graders, run)


def _outcome(future: Future) -> dict | str:
    """A finished task's result, or why there is none; ClusterError when the cluster cannot grade at all."""
    try:
        return future.result()
    except KilledWorker as error:  # the notebook itself, likely: every worker that took it died
        return f"the grader's Dask workers died while grading this notebook ({error})"
    except FutureCancelledError as error:
        raise ClusterError(f"grading on the Dask cluster stopped: {error}") from None
    except ClusterError:
        raise
    except Exception as error:  # the task raised outside the grading process: the worker cannot grade
        raise ClusterError(f"a Dask worker cannot grade: {type(error).__name__}: {error}") from None


if __name__ == "__main__":
    serve(int(sys.argv[1]))
