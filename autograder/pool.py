"""Many notebooks graded at once, by Dask distributed: on this machine, or on an existing cluster.

`grade_all` is the one scheduling path for both. It starts a Dask `LocalCluster` of `jobs`
one-thread workers in this process, or connects to a running cluster (`scheduler`, e.g.
tls://host:8786 with the certificates of `autograder cluster-certs`: Dask's TLS, both ends
authenticated); then it submits the tasks a window at a time (the class need not fit in memory) and
yields each result as it completes, to this process, the only one that writes the gradebook. A task
carries its notebooks as bytes, so a worker needs the course's environment and bubblewrap, not this
machine's files. A Dask worker that dies (its machine is lost, it is killed) takes nothing with it:
the scheduler hands its tasks to the other workers, and each result still arrives here once.

On a Dask worker, a notebook is graded in a *grading process* (`python -m autograder.pool`,
`serve`), one per worker thread and run, long-lived so that it keeps the grader's own imports
(torch, the engine) and its kernel template between notebooks, in a process group of its own; it
pays those fixed costs once, before its first notebook (`_warm_up`: the template with every module
the run's lessons import, those modules imported here meanwhile). It exists because Dask runs
tasks in threads, while the engine needs a main thread (its SIGALRM timer bounds the grader's own
work on a notebook) and forks the sandbox. The worker thread waits for its reply at most the
notebook's limit plus GRACE_SECONDS: a grading process that overruns that, or dies, is killed with
its process group and replaced, and only its notebook gets the reason. Student code never runs in it
(the engine runs that in a sandboxed kernel), so nothing a student does carries over. A worker and
its grading process speak in frames on the grading process's stdin and stdout: an 8-byte length and
JSON (tasks carry their notebooks as base64), never pickle.

A worker's result comes back to this process as JSON text. On a cluster, this process unpickles
nothing a peer sends that names a function or class (`_plain_data_only`: Dask's protocol would), and
`checked` holds each result to the lesson this process knows: the task's student and notebook, the
lesson's checks, each check's points within [0, its maximum]. Anything else is the grader's failure
on that notebook (a reason, never a grade). A worker with other grading code is retired, and its
notebooks go to the others (autograder/README.md, "Grading on a cluster").
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.metadata
import importlib.util
import io
import ipaddress
import json
import math
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from distributed import Client, Future, LocalCluster, as_completed, get_worker
from distributed.client import FutureCancelledError
from distributed.comm.addressing import parse_address, parse_host_port
from distributed.protocol import pickle as dask_pickle
from distributed.scheduler import KilledWorker
from distributed.security import Security
from tqdm.auto import tqdm

from autograder.cluster import client_security
from autograder.environment import tool_env
from autograder.results import MalformedResult, NotebookResult
from autograder.sandbox.inside import framing
from mlcourse.lessons import Lesson, modules_imported, parse_lesson

# the engine (and torch) is imported by grading processes only, never by a Dask worker itself
if TYPE_CHECKING:
    from autograder.engine import Options, Task

GRACE_SECONDS = 20.0  # beyond the engine's own notebook limit, before a grading process is killed
# a grading process with no work this long exits (its run ended without stopping it)
IDLE_SECONDS = 600.0
PR_SET_PDEATHSIG = 1  # prctl(2): the signal this process gets when its parent ends


class ClusterError(RuntimeError):
    """The Dask cluster cannot grade this run (unreachable, lost, refused as unsafe)."""


@dataclass(frozen=True)
class Cluster:
    """A running Dask cluster: its scheduler's address, the folder of `autograder cluster-certs`
    (for a tls:// address), and whether an unencrypted address on another machine is allowed
    (--insecure)."""

    address: str
    tls: Path | None = None
    insecure: bool = False

    @property
    def warning(self) -> str | None:
        """What the instructor must read when this run grades over plain tcp:// off this machine."""
        scheme, location = parse_address(self.address)
        if scheme == "tls" or _loopback(parse_host_port(location)[0]):
            return None
        return (f"WARNING (--insecure): graded over {scheme}://, unencrypted and unauthenticated, "
                "to another machine: anyone who could reach the scheduler could join a worker, "
                "read every submission and hidden test, and send results")

    def security(self) -> Security | None:
        """Dask's TLS settings for this client, or None for plain tcp:// where it is allowed;
        ClusterError (before any connection) where it is not."""
        scheme, _ = parse_address(self.address)
        if scheme == "tls":
            if self.tls is None:
                raise ClusterError(f"{self.address} is a TLS scheduler: give --tls DIR, the folder "
                                   "of `autograder cluster-certs DIR` (its ca.pem, client.pem and "
                                   "client-key.pem)")
            try:
                return client_security(self.tls)
            except FileNotFoundError as error:
                raise ClusterError(str(error)) from None
        if self.tls is not None:
            raise ClusterError(f"--tls needs a tls:// scheduler address, not {self.address}")
        if self.warning and not self.insecure:
            raise ClusterError(f"refusing {self.address}: {scheme}:// is unencrypted and "
                               "unauthenticated, so anyone who can reach the scheduler could join "
                               "a worker, read every submission and hidden test and send results. "
                               "Use tls://HOST:PORT with --tls DIR (`autograder cluster-certs "
                               "DIR`; autograder/README.md, 'Grading on a cluster'), or pass "
                               "--insecure on a network only trusted machines can reach")
        return None


# a Dask cluster: its scheduler's address, a Cluster, or a Client of it
Scheduler = str | Cluster | Client


def usable_cpus(proc_self: Path = Path("/proc/self"),
                cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process may use: its affinity, capped by a cgroup CPU quota where one is set
    (rounded up).

    The quota is the lowest along the process's cgroup path (a parent's quota binds its children).
    In a container whose /proc/self/cgroup names the host's path, that path does not exist under
    cgroup_root; only its existing ancestors, down to the container's own root, are read.

    Not `dask.system.cpu_count()`, which reads a v1 quota only at the hierarchy's root (not this
    process's own cgroup) and a v2 quota only in this process's own group (not a parent's, and not
    at all in a container whose /proc/self/cgroup names the host's path): a grader in a limited
    cgroup would start a worker per host CPU (test_dask.py's `test_usable_cpus_*` cover the cases it
    misses)."""
    cpus = len(os.sched_getaffinity(0))
    try:
        lines = (proc_self / "cgroup").read_text().splitlines()
    except OSError:
        return cpus
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2: "<quota|max> <period>" in cpu.max
            mount, quota_of = cgroup_root, _v2_quota
        # v1: cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us
        elif "cpu" in controllers.split(","):
            mount, quota_of = next((cgroup_root / name for name in ("cpu", controllers)
                                    if (cgroup_root / name).is_dir()),
                                   cgroup_root / "cpu"), _v1_quota
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
        quota, period = (int((folder / f"cpu.cfs_{name}_us").read_text())
                         for name in ("quota", "period"))
    except (OSError, ValueError):
        return None
    return None if quota < 0 else quota / period


# --- a grading process ----------------------------------------------------------------------------

def _send(fd: int, message: dict) -> None:
    """One message on a grading process's pipe, in the sandbox's framing (one framing for every
    channel)."""
    framing.send(fd, message)


def _receive(fd: int) -> dict | None:
    """The next message on `fd`, or None at end of file (the other side is gone)."""
    try:
        return framing.receive(fd)
    except EOFError:
        return None


def serve(parent: int) -> None:
    """A grading process: grade each task that arrives on stdin, answer on stdout, until stdin
    closes, IDLE_SECONDS pass without a task, or `parent` (the Dask worker that started it) ends."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the line above took effect
        return
    from autograder.engine import Options, Task, grade_task

    workdir = Path(tempfile.mkdtemp(prefix="autograder-grader-"))
    requests, replies = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # anything printed while grading goes to the log, not into the frames
    while (select.select([requests], [], [], IDLE_SECONDS)[0]
           and (request := _receive(requests)) is not None):
        try:
            if "warm" in request:
                _warm_up(request["warm"], Options(**request["options"]))
                reply = {"warmed": True}
            else:
                result = grade_task(Task.from_dict(request["task"]),
                                    Options(**request["options"]), workdir)
                reply = {"result": result.to_dict()}
        # a bug of the grader, not of the student: reported for this notebook only
        except Exception as error:
            traceback.print_exc()
            reply = {"error": f"the grader failed on this notebook: {type(error).__name__}: "
                              f"{error}"}
        sys.stderr.flush()
        _send(replies, reply)


def _warm_up(modules: list[str], options: Options) -> None:
    """Pay a grading process's fixed costs once, before its first notebook and side by side: the
    kernel template, started with every module the run's lessons' setups import (a template that
    lacks one is started again, a few seconds each time, as the lessons come), and meanwhile the
    same modules imported here, where each notebook's tests run their lesson's setup and
    `mlcourse.checking.reference` runs the solution's (the imports are most of the 1 to 2 s its
    first call takes; the reference values themselves stay in this process, and each lesson's still
    takes a few milliseconds at its first notebook here). A failure is left to the notebooks, which
    meet it again and say so."""
    from autograder.sandbox import kernels

    def import_all() -> None:
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception:  # noqa: BLE001 - the lesson's setup fails the same way in each notebook
                traceback.print_exc()

    imports = threading.Thread(target=import_all)
    imports.start()
    # In this thread: the template's sandbox dies with the thread that started it (bubblewrap's
    # --die-with-parent is the parent thread's death). A retry after a grader error starts a fresh
    # template at each notebook: none is started here.
    if options.warm and not options.fresh_template and kernels.warm_available(options.sandbox):
        try:
            kernels.template(tuple(modules), options.limits)
        except Exception:  # noqa: BLE001 - the first warm kernel starts it again, or reports why
            traceback.print_exc()
    imports.join()


class Grader:
    """One grading process, grading one task at a time; started by (and dying with) a Dask
    worker. Given the `modules` the run's lessons' setups import, it starts paying its fixed costs
    at once (`_warm_up`), before its first task arrives."""

    def __init__(self, log: Path, modules: list[str] | None = None, options: dict | None = None):
        self.log = log
        self.code = code_fingerprint()  # of the code it is about to import
        with open(log, "ab") as output:
            self.process = subprocess.Popen([sys.executable, "-m", "autograder.pool",
                                             str(os.getpid())],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=output, env=tool_env(), start_new_session=True)
        self.warming = bool(modules)
        if self.warming:
            self._send({"warm": modules, "options": options})

    def grade(self, task: dict, options: dict) -> dict | str:
        """The task's result (a NotebookResult as a dict), or a sentence saying why there is
        none."""
        limit = options["timeout"] + GRACE_SECONDS
        # The warm-up's end is awaited apart: the notebook's own wait starts when it is sent, as the
        # engine counts it.
        if self.warming:
            self.warming = False
            warmed = self._reply(limit, f"starting the grading process took longer than {limit:g} "
                                        "s; this notebook was not graded")
            if isinstance(warmed, str):
                return warmed
        self._send({"task": task, "options": options})
        reply = self._reply(limit, f"time limit: grading this notebook took longer than "
                                   f"{options['timeout']:g} s; its tests score 0")
        return reply if isinstance(reply, str) else reply.get("result", reply.get("error"))

    def _send(self, message: dict) -> None:
        try:
            _send(self.process.stdin.fileno(), message)
        except OSError:
            pass  # it died: reading says so

    def _reply(self, seconds: float, late: str) -> dict | str:
        """The grading process's next reply within `seconds`, or why there is none (`late`, or its
        end) once it has been stopped."""
        if not select.select([self.process.stdout], [], [], seconds)[0]:
            self.stop()
            return late
        reply = _receive(self.process.stdout.fileno())
        if reply is None:
            self.stop()
            lines = self.log.read_text(errors="replace").strip().splitlines()
            return (f"the grader's worker stopped (exit code {self.process.returncode}): "
                    f"{lines[-1] if lines else 'no message'}")
        return reply

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


# --- on a Dask worker -----------------------------------------------------------------------------

_graders: dict[tuple[str, int], Grader] = {}  # (run, worker thread) -> its grading process
_graders_lock = threading.Lock()


def _grade_on_worker(run: str, code: str, task: dict, options: dict, modules: list[str]) -> str:
    """The Dask task: grade `task` in this worker thread's grading process for `run` (started at its
    first task, warmed up with the run's setup `modules`), if that process runs the code
    (`code_fingerprint`) the run was started with. As JSON text: {"result": a NotebookResult as a
    dict}, {"error": why there is none} or {"other code": this worker's address}."""
    key = (run, threading.get_ident())
    with _graders_lock:
        grader = _graders.get(key)
        if grader is None or not grader.running():
            grader = _graders[key] = Grader(Path(get_worker().local_directory)
                                            / f"grader-{run}-{key[1]}.log", modules, options)
    if grader.code != code:
        return json.dumps({"other code": get_worker().address})
    outcome = grader.grade(task, options)
    return json.dumps({"result": outcome} if isinstance(outcome, dict) else {"error": outcome})


def _stop_graders(run: str) -> None:
    """Stop this worker's grading processes of `run` (the run is over)."""
    with _graders_lock:
        for key in [key for key in _graders if key[0] == run]:
            _graders.pop(key).stop()


def code_fingerprint() -> str:
    """A hash of what grades depend on besides a task: the code of autograder and mlcourse (their
    tests left out), and the versions of torch and numpy."""
    digest = hashlib.sha256()
    for package in ("autograder", "mlcourse"):
        # found, not imported
        folder = Path(importlib.util.find_spec(package).submodule_search_locations[0])
        for path in sorted(p for p in folder.rglob("*.py")
                           if "tests" not in p.relative_to(folder).parts):
            digest.update(f"{path.relative_to(folder)}\0".encode() + path.read_bytes())
    for distribution in ("torch", "numpy"):
        digest.update(f"{distribution}=={importlib.metadata.version(distribution)}\0".encode())
    return digest.hexdigest()


# --- the orchestrator ----------------------------------------------------------------------------

@contextmanager
def _client(scheduler: Scheduler | None, workers: int, logs: Path) -> Iterator[Client]:
    """A Dask client: of a new LocalCluster of `workers` one-thread workers here (`scheduler` None),
    of the cluster `scheduler` (an address or a Cluster), or `scheduler` itself (a Client, e.g.
    dask-gateway's: left open)."""
    if scheduler is None:
        # The local workers are threads of this process: each one's grading process is the process
        # that does the work, so a Dask worker process in between would only cost start-up time and
        # memory. Dask's scheduler and workers serve HTTP (health checks, metrics) even without a
        # dashboard: on loopback.
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=False,
                          dashboard_address=None, worker_dashboard_address="127.0.0.1:0",
                          scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                          local_directory=logs) as cluster, Client(cluster) as client:
            yield client
        return
    with _plain_data_only():
        if isinstance(scheduler, Client):  # made before: subscribed to the events that unpickle
            client, opened = scheduler, nullcontext(scheduler)
            for topic in ("print", "warn"):
                with suppress(ValueError):  # not subscribed
                    client.unsubscribe_topic(topic)
        else:
            client = opened = _connect(Cluster(scheduler) if isinstance(scheduler, str)
                                       else scheduler)
        with opened:
            threads = client.nthreads()
            print(f"grading on the Dask cluster at {client.scheduler.address}: {len(threads)} "
                  f"worker(s), {sum(threads.values())} thread(s)"
                  + ("" if threads else "; grading starts when a worker joins"))
            yield client


def _connect(cluster: Cluster) -> Client:
    """A client of `cluster`: over TLS with its certificates, or over plain tcp:// to this machine,
    or to another one if the instructor said --insecure."""
    security = cluster.security()
    if cluster.warning:
        print(cluster.warning)
    try:
        return Client(cluster.address, timeout=30, security=security)
    except OSError as error:  # TimeoutError and ssl.SSLError among them
        raise ClusterError(f"cannot reach the Dask scheduler at {cluster.address}: "
                           f"{error}") from None


def _loopback(host: str) -> bool:
    """Whether every address `host` names is this machine's loopback (an address, or a name such as
    localhost)."""
    try:
        return all(ipaddress.ip_address(info[4][0]).is_loopback
                   for info in socket.getaddrinfo(host, None))
    except (OSError, ValueError):
        return False


class _Refused(pickle.UnpicklingError, TypeError):
    """A TypeError too: Dask's clean_exception leaves out a traceback that fails so, rather than
    failing itself."""


class _PlainData(pickle.Unpickler):
    """Loads plain data (str, bytes, numbers, lists, dicts) and refuses every global: a pickle can
    then name no function to call. bytes and bytearray are the classes allowed: Dask pickles the
    type of a bytes payload."""

    def find_class(self, module: str, name: str):
        if module == "builtins" and name in ("bytes", "bytearray"):
            return super().find_class(module, name)
        raise _Refused(f"a Dask peer sent a pickle of {module}.{name}, which this process does not "
                       "unpickle")


def _plain_loads(data, *, buffers=()):
    return _PlainData(io.BytesIO(data), buffers=buffers).load()


@contextmanager
def _plain_data_only() -> Iterator[None]:
    """While this process is a client of a cluster, unpickle nothing a peer sends that names a
    function or class.

    Dask unpickles results, errors and events with pickle, which calls whatever a pickle names: a
    worker's reply could run code here, where the gradebook is written (as root, often). Every
    unpickling of Dask's protocol goes through `distributed.protocol.pickle.loads`, but for the
    client's default "print" and "warn" event handlers (plain `pickle.loads`), which are not
    subscribed meanwhile (a Client given is unsubscribed from them). Results are JSON text, errors
    become their bytes: nothing this process needs is lost. The workers of a LocalCluster are this
    process's threads, which unpickle their tasks: there, nothing changes."""
    loads, handlers = dask_pickle.loads, dict(Client._default_event_handlers)
    dask_pickle.loads = _plain_loads
    Client._default_event_handlers.clear()
    try:
        yield
    finally:
        dask_pickle.loads = loads
        Client._default_event_handlers.update(handlers)


def grade_all(tasks: Iterable[Task], options: Options, jobs: int | None, logs: Path,
              total: int | None = None, scheduler: Scheduler | None = None,
              lessons: Iterable[Lesson] = ()) -> Iterator[tuple[Task, NotebookResult | str]]:
    """Grade `tasks`; yield (task, its result or why there is none) as each finishes.

    Without `scheduler`: in `jobs` workers on this machine (None: one per usable CPU). On the
    cluster `scheduler` (its address, a Cluster or a Client of it): at most `jobs` notebooks at once
    (None: as many as its workers have threads). `lessons`, those of the tasks (known before the
    tasks are read), let each grading process start its kernel template once, with every module
    their setups import, before its first notebook."""
    if total == 0:
        return
    logs.mkdir(parents=True, exist_ok=True)
    local = scheduler is None
    workers = min(jobs or usable_cpus(), total or sys.maxsize)
    run, code, pending, settings = (uuid.uuid4().hex[:12], code_fingerprint(), iter(tasks),
                                    options.__dict__)
    modules = sorted({module for lesson in lessons for module in modules_imported(lesson.setup)})
    # a source notebook's digest -> its lesson and _lesson_form, computed once
    parsed: dict[bytes, tuple[Lesson, tuple]] = {}
    import nbformat  # here, not at the top: see this module's end
    with _client(scheduler, workers, logs) as client:
        in_flight, finished, again, retired = {}, as_completed(), [], set()

        def submit_more() -> None:
            # Two per worker thread keep every worker busy while results travel; on a cluster `jobs`
            # caps it.
            window = 2 * sum(client.nthreads().values()) if local or jobs is None else jobs
            while (len(in_flight) < max(window, 1)
                   and (task := again.pop() if again else next(pending, None))):
                future = client.submit(_grade_on_worker, run, code, task.to_dict(), settings,
                                       modules, pure=False)
                in_flight[future.key] = (future, task)
                finished.add(future)

        try:
            with tqdm(total=total, desc="grading", unit="notebook") as bar:
                submit_more()
                for future in finished:
                    _, task = in_flight.pop(future.key)
                    reply = _outcome(future)
                    if isinstance(reply, _OtherCode):
                        _retire(client, reply.worker, retired)
                        again.append(task)
                    else:
                        bar.update()
                        digest = hashlib.sha256(task.source).digest()
                        if digest not in parsed:
                            lesson = parse_lesson(nbformat.reads(task.source.decode(), 4),
                                                  task.notebook)
                            parsed[digest] = lesson, _lesson_form(lesson, options)
                        lesson, form = parsed[digest]
                        yield task, (reply if isinstance(reply, str)
                                     else checked(task, reply, lesson, options, form))
                    submit_more()
        finally:
            client.cancel([future for future, _ in in_flight.values()])
            # a lost cluster: its grading processes end when idle
            with suppress(OSError, TimeoutError):
                client.run(_stop_graders, run)


@dataclass(frozen=True)
class _OtherCode:
    """The reply of a worker whose grading process runs other code than this run's."""

    # its address, as it says (where its reply is kept is no evidence: Dask moves data between
    # workers)
    worker: str


def _retire(client: Client, address: str, retired: set[str]) -> None:
    """Retire the worker at `address`, which has other grading code, once, if it is one of the
    cluster's."""
    workers = client.scheduler_info().get("workers", {})
    if address in workers and address not in retired:
        retired.add(address)
        name = workers[address].get("name", address)
        print(f"problem: the Dask worker {address} (name {name}) has other grading code than this "
              "run (autograder, mlcourse, torch or numpy differ): it is retired, and its "
              "notebooks go to the other workers; install the same checkout and requirements "
              "there before it joins again", file=sys.stderr)
        client.retire_workers([address], close_workers=True)


def _outcome(future: Future) -> dict | str | _OtherCode:
    """A finished task's result (decoded from JSON), or why there is none, or that its worker has
    other grading code; ClusterError when the cluster stopped."""
    try:
        reply = future.result()
    except KilledWorker as error:  # the notebook itself, likely: every worker that took it died
        return f"the grader's Dask workers died while grading this notebook ({error})"
    except FutureCancelledError as error:
        raise ClusterError(f"grading on the Dask cluster stopped: {error}") from None
    except Exception as error:  # raised on a worker (perhaps not ours), or a reply refused here
        text = ("not readable here" if any(isinstance(a, bytes) for a in error.args)
                else str(error)[:300])
        return ("a Dask worker failed on this notebook, or sent what is not a result: "
                f"{type(error).__name__}: {text}")
    try:
        reply = json.loads(reply) if isinstance(reply, str) else None
    except ValueError:
        reply = None
    if isinstance(reply, dict) and len(reply) == 1:
        if isinstance(reply.get("error"), str):
            return reply["error"]
        if isinstance(reply.get("result"), dict):
            return reply["result"]
        if isinstance(reply.get("other code"), str):
            return _OtherCode(reply["other code"])
    return "a Dask worker sent what is not a result of this grader"


def _form(result: NotebookResult) -> tuple:
    """What every result of a lesson says alike, but for its student and assignment: its notebook,
    written answers, sandboxing, and checks with their maximum points."""
    return (result.notebook, result.manual, result.sandboxed,
            [(c.grade_id, c.objective, c.max_points, c.answers) for c in result.checks])


def _lesson_form(lesson: Lesson, options: Options) -> tuple:
    """`_form` of every result of `lesson` (it parses each test: worth computing once a lesson)."""
    return _form(NotebookResult.blank(lesson, "", "", sandboxed=options.sandbox))


def checked(task: Task, data: dict, lesson: Lesson, options: Options,
            form: tuple | None = None) -> NotebookResult | str:
    """`data`, a worker's result for `task`, as a NotebookResult if it is one of `lesson` (the
    task's source notebook; `form`: its `_lesson_form`, if known) for that student, in JSON's plain
    types (`NotebookResult.from_dict` holds it to them): its checks, each within [0, its maximum];
    else why not."""
    try:
        result = NotebookResult.from_dict(data)
    except MalformedResult as error:
        return f"a Dask worker's result is out of range or malformed in {error}: not recorded"
    except (TypeError, KeyError, AttributeError, ValueError) as error:
        return (f"a Dask worker's result for this notebook is malformed ({type(error).__name__}: "
                f"{str(error)[:200]})")
    if ((result.student, result.assignment) != (task.student, task.assignment)
            or _form(result) != (form or _lesson_form(lesson, options))):
        return ("a Dask worker's result is not one of this notebook: its student, notebook, checks "
                "or their maximum points differ from the lesson's")
    wrong = [c.grade_id for c in result.checks if not 0 <= c.points <= c.max_points]
    if wrong:
        return (f"a Dask worker's result is out of range or malformed in {', '.join(wrong[:5])}: "
                "not recorded")
    return result


if __name__ == "__main__":
    # jsonschema, below nbformat (which the engine reads notebooks with), imports rfc3987_syntax
    # where it is installed, for a format checker that neither nbformat nor the grader asks for:
    # that import builds a grammar, and cost each grading process about as much as the rest of the
    # engine's imports together.
    sys.modules.setdefault("rfc3987_syntax", None)
    serve(int(sys.argv[1]))
