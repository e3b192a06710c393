"""Grading on a real Dask cluster, and the default of --jobs.

A Dask scheduler and two workers run here as separate processes on loopback (`dask scheduler`,
`dask worker`, started by the tests), over TLS with the certificates of `autograder cluster-certs`.
The fixture course's demo class graded through them gets the grades of a run on this machine, while
a worker with another CA's certificate and one without any try to join and cannot; a client without
the certificates cannot connect; a plain tcp:// address off this machine is refused. Graded again
while one worker is killed in the middle of the run, it still does, and every notebook's result
arrives once. A worker with other grading code is retired and the run goes on. A rogue worker that
holds the certificate answers with out-of-range points, other students' results and pickle bombs:
none is recorded and no bomb goes off here. A local run listens on loopback only. `usable_cpus` is
read from fake /proc/self/cgroup and cgroup files of both versions.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import nbformat
import psutil
import pytest
from distributed import Client

import autograder
from autograder import gradebook, pool, results
from autograder.cli import main
from autograder.cluster import FILES, client_security, make_certificates
from autograder.course import Course
from autograder.demo_class import build_demo_class, duedates
from autograder.engine import Options, Task
from autograder.environment import tool_env
from autograder.pipeline import grade_class
from autograder.results import CheckResult, NotebookResult
from autograder.tests.conftest import copy_fixture_course
from autograder.tests.gradebook_rows import count_rows, rows
from mlcourse.lessons import lesson_names, parse_lesson

DASK = Path(sys.executable).parent / "dask"
ROGUE = Path(__file__).parent / "rogue_worker.py"
# Dask's servers, and their HTTP servers (health, metrics: on every interface by default, dashboard
# or not)
LOOPBACK = ["--host", "127.0.0.1", "--no-dashboard", "--dashboard-address", "127.0.0.1:0"]


def _started(command: list[str], log: Path, **environment: str) -> subprocess.Popen:
    # each in a session of its own: the test kills it with all it started
    with open(log, "wb") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                env=tool_env(**environment), start_new_session=True)


def _tls(certs: Path | None, role: str) -> list[str]:
    """The options of `dask scheduler` or `dask worker` for TLS with the certificates of `role` in
    `certs`."""
    if certs is None:
        return []
    return ["--tls-ca-file", str(certs / "ca.pem"), "--tls-cert", str(certs / f"{role}.pem"),
            "--tls-key", str(certs / f"{role}-key.pem")]


def _worker(scheduler: str, here: Path, name: str, certs: Path | None, *options: str,
            **environment: str) -> subprocess.Popen:
    """A one-thread `dask worker` named `name` on loopback, joining the scheduler at `scheduler`."""
    return _started([str(DASK), "worker", scheduler, "--name", name, "--nthreads", "1",
                     "--no-nanny", *LOOPBACK, "--local-directory", str(here / name),
                     *_tls(certs, "worker"), *options], here / f"worker-{name}.log", **environment)


@contextmanager
def _dask_cluster(here: Path, workers: dict[str, dict[str, str]], certs: Path | None = None,
                  *options: str) -> Iterator[tuple[str, dict[str, subprocess.Popen]]]:
    """(the scheduler's address, {worker name: its process}) of a scheduler and one-thread workers
    started here (over TLS with `certs`), each worker with its extra environment variables and
    `options`."""
    scheduler_file = here / "scheduler.json"
    processes = [_started([str(DASK), "scheduler", *LOOPBACK, "--port", "0", "--scheduler-file",
                           str(scheduler_file), *(["--protocol", "tls"] if certs else []),
                           *_tls(certs, "scheduler")], here / "scheduler.log")]
    started = {}
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for name, environment in workers.items():
            started[name] = _worker(address, here, name, certs, *options, **environment)
            processes.append(started[name])
        # Closed before the test: a client of the test's own, open meanwhile, would unpickle what
        # workers send.
        with Client(address, timeout=60, security=certs and client_security(certs)) as client:
            client.wait_for_workers(len(workers), timeout=60)
        yield address, started
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:  # a worker the test killed
                pass
            process.wait()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A folder of `autograder cluster-certs`."""
    folder = tmp_path_factory.mktemp("tls") / "certs"
    assert main(["cluster-certs", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, certs):
    """(the scheduler's address, {worker name: its process}) of a TLS Dask cluster of two one-thread
    workers."""
    with _dask_cluster(tmp_path_factory.mktemp("cluster"), {"a": {}, "b": {}}, certs) as running:
        yield running


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(course, submitted, the results of grading the class on this machine with two workers, its
    gradebook URL)."""
    course = copy_fixture_course(tmp_path_factory.mktemp("fixture") / "course")
    submitted = build_demo_class(course, course / "var" / "submitted").submitted
    results, db_url = _grade(course, submitted, course / "var" / "local", scheduler=None)
    return course, submitted, results, db_url


def _grade(course: Path, submitted: Path, out: Path, scheduler: pool.Scheduler | None):
    graded = grade_class(submitted, out, Course(course), Options(), jobs=None if scheduler else 2,
                         scheduler=scheduler, duedates=duedates(lesson_names(course)))
    return graded.results, gradebook.default_db_url(out)


def _grades(results) -> list[tuple]:
    """What two gradings of a class must agree on, per notebook: every check's verdict and message,
    the problems."""
    return [(r.student, r.assignment, r.score, r.problems,
             [(c.grade_id, c.status, c.points, c.message, c.misconception) for c in r.checks])
            for r in results]


def test_a_tls_cluster_grades_the_class_as_this_machine_does_and_no_stranger_joins(demo, cluster,
                                                                                   certs, tmp_path):
    course, submitted, local, local_db = demo
    address, _ = cluster
    # another CA's: a machine the instructor did not trust
    other = make_certificates(tmp_path / "other")[0].parent
    # without a certificate, a worker can only try plain tcp://
    plain = address.replace("tls://", "tcp://")
    strangers = [_worker(address, tmp_path, "other-ca", other, "--death-timeout", "60"),
                 _worker(plain, tmp_path, "no-certificate", None, "--death-timeout", "60")]
    try:
        results, db_url = _grade(course, submitted, course / "var" / "cluster",
                                 pool.Cluster(address, certs))
        with Client(address, timeout=30, security=client_security(certs)) as client:
            joined = {info["name"] for info in client.scheduler_info()["workers"].values()}
    finally:
        for process in strangers:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert address.startswith("tls://127.0.0.1:")
    assert joined == {"a", "b"}
    for name in ("other-ca", "no-certificate"):  # each tried all along, and was never registered
        log = (tmp_path / f"worker-{name}.log").read_text()
        assert "Waiting to connect to" in log and "Registered to" not in log
    assert _grades(results) == _grades(local)
    assert rows(db_url) == rows(local_db)
    assert ((course / "var" / "cluster" / "grades.csv").read_text()
            == (course / "var" / "local" / "grades.csv").read_text())
    # real grading happened, not empty results
    assert {r.student: r.score for r in results}["perfect"] == 3


def test_a_client_without_the_certificates_cannot_connect(cluster, certs, tmp_path):
    address, _ = cluster
    with pytest.raises(pool.ClusterError, match="is a TLS scheduler: give --tls DIR"):
        pool._connect(pool.Cluster(address))
    other = make_certificates(tmp_path / "other")[0].parent
    with pytest.raises(pool.ClusterError, match="cannot reach the Dask scheduler"):
        pool._connect(pool.Cluster(address, other))
    # Dask's own client, without certificates, over plain tcp:// to the TLS port
    with pytest.raises(OSError):
        Client(address.replace("tls://", "tcp://"), timeout=5)


def test_a_worker_killed_in_the_middle_loses_nothing(demo, cluster, certs, monkeypatch):
    course, submitted, local, local_db = demo
    address, workers = cluster
    out = course / "var" / "cluster-killed"
    yielded = []
    grade_all = pool.grade_all

    def counted(*args, **kwargs):  # the real pool, each notebook it yields written down
        for task, outcome in grade_all(*args, **kwargs):
            yielded.append(task.name)
            yield task, outcome

    monkeypatch.setattr(pool, "grade_all", counted)
    killed = {}

    def kill_b_while_it_grades() -> None:
        """Once results arrive, kill worker b (its process, as a lost machine would) while it holds
        a task."""
        with Client(address, timeout=30, security=client_security(certs)) as client:
            b = next(w for w, info in client.scheduler_info()["workers"].items()
                     if info["name"] == "b")
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if yielded and client.processing(workers=[b])[b]:
                    killed["graders"] = psutil.Process(workers["b"].pid).children()
                    killed["results before"] = len(yielded)
                    workers["b"].kill()
                    workers["b"].wait()
                    break
                time.sleep(0.02)
            killed["graders alive after 10 s"] = _alive(killed.get("graders", []), 10)
            killed["workers left"] = len(client.nthreads())

    killer = threading.Thread(target=kill_b_while_it_grades)
    killer.start()
    # a Client given rather than an address (as dask-gateway's is)
    with Client(address, timeout=30, security=client_security(certs)) as client:
        results, db_url = _grade(course, submitted, out, client)
    killer.join()
    graded = [r for r in results if r.submitted]
    # it died in the middle of the run, holding work
    assert 0 < killed["results before"] < len(graded)
    # its grading process died with it
    assert killed["graders"] and killed["graders alive after 10 s"] == []
    assert killed["workers left"] == 1
    assert _grades(results) == _grades(local)
    # each once
    assert sorted(yielded) == sorted(f"{r.student}/{r.assignment}/{r.notebook}" for r in graded)
    assert rows(db_url) == rows(local_db) and count_rows(db_url) == count_rows(local_db)


def test_a_worker_with_other_grading_code_is_retired_and_the_run_goes_on(demo, tmp_path, capsys):
    course, submitted, local, _ = demo
    other = tmp_path / "other"  # the grader as a worker left on an older commit would have it
    shutil.copytree(Path(autograder.__file__).parent, other / "autograder",
                    ignore=shutil.ignore_patterns("tests"))
    with open(other / "autograder" / "verdicts.py", "a") as verdicts:
        verdicts.write("\n# another version\n")
    # plain tcp:// on loopback needs no certificates
    with _dask_cluster(tmp_path, {"old": {"PYTHONPATH": str(other)}, "new": {}}) as (address, _):
        results, _ = _grade(course, submitted, tmp_path / "out", address)
        with Client(address, timeout=30) as client:
            left = {info["name"] for info in client.scheduler_info()["workers"].values()}
    assert _grades(results) == _grades(local)
    assert left == {"new"}
    assert re.search(r"problem: the Dask worker tcp://127\.0\.0\.1:\d+ \(name old\) has other "
                     r"grading code than this run .* it is retired, and its notebooks go to the "
                     r"other workers", capsys.readouterr().err)


def test_a_plain_address_off_this_machine_is_refused_without_insecure():
    # refused before connecting
    for address in ("tcp://192.0.2.1:8786", "192.0.2.1:8786", "ws://192.0.2.1:8786"):
        with pytest.raises(pool.ClusterError,
                           match=r"refusing .*unencrypted and unauthenticated.*--insecure"):
            pool._connect(pool.Cluster(address))
        assert "WARNING (--insecure)" in pool.Cluster(address, insecure=True).warning
    for address in ("tcp://127.0.0.1:8786", "tcp://[::1]:8786", "tcp://localhost:8786",
                    "tls://192.0.2.1:8786"):
        assert pool.Cluster(address).warning is None
    with pytest.raises(pool.ClusterError, match="--tls needs a tls:// scheduler address"):
        pool._connect(pool.Cluster("tcp://127.0.0.1:8786", Path("certs")))


def test_grade_refuses_a_plain_address_off_this_machine(tmp_path, capsys):
    course = copy_fixture_course(tmp_path / "course")
    (tmp_path / "submitted").mkdir()
    grade = ["--root", str(course), "grade", str(tmp_path / "submitted"), "--out",
             str(tmp_path / "out")]
    assert main([*grade, "--scheduler", "tcp://192.0.2.1:8786"]) == 2
    assert "refusing tcp://192.0.2.1:8786" in capsys.readouterr().err
    assert main([*grade, "--scheduler", "tls://127.0.0.1:8786"]) == 2
    assert "is a TLS scheduler: give --tls DIR" in capsys.readouterr().err
    assert main([*grade, "--tls", str(tmp_path)]) == 2
    assert "--tls and --insecure go with --scheduler" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before any work


def test_cluster_certs_writes_keys_for_their_owner_only(tmp_path, capsys):
    folder = tmp_path / "certs"
    assert main(["cluster-certs", str(folder)]) == 0
    modes = {path.name: path.stat().st_mode & 0o777 for path in folder.iterdir()}
    assert modes == {name: 0o600 if name.endswith("-key.pem") else 0o644 for name in FILES}
    assert folder.stat().st_mode & 0o777 == 0o700
    assert "--scheduler tls://HOST:8786 --tls" in capsys.readouterr().out
    assert main(["cluster-certs", str(folder)]) == 2  # never over a trust that exists
    assert "is not empty" in capsys.readouterr().err


def _tasks(course: Path, submitted: Path, students: list[str]) -> list[Task]:
    """Tasks of the fixture lesson for `students`, each with the demo class's perfect notebook."""
    source = (course / "solutions" / "01_fixture" / "01_fixture.ipynb").read_bytes()
    notebook = (submitted / "perfect" / "01_fixture" / "01_fixture.ipynb").read_bytes()
    return [Task(student, "01_fixture", "01_fixture", source, notebook) for student in students]


ATTACKS = ["points", "negative", "infinite", "stranger", "extra-check", "maximum", "not-json",
           "pickle", "warn", "raise"]


def test_a_rogue_worker_with_the_certificate_gets_no_result_out_of_range_recorded_and_runs_no_code_here(  # noqa: E501
        demo, certs, tmp_path):
    course, submitted, _, _ = demo
    marker = tmp_path / "bombs"
    with _dask_cluster(tmp_path, {"rogue": {"ROGUE_MARKER": str(marker)}}, certs, "--preload",
                       str(ROGUE)) as (address, _):
        outcomes = {task.student: outcome for task, outcome in pool.grade_all(
            _tasks(course, submitted, [*ATTACKS, "honest-shape"]), Options(), None,
            tmp_path / "logs", scheduler=pool.Cluster(address, certs))}
    went_off = {int(folder.name) for folder in marker.iterdir()} if marker.exists() else set()
    assert os.getpid() not in went_off
    refused = {attack: outcomes[attack] for attack in ATTACKS}
    assert all(isinstance(reason, str) for reason in refused.values()), refused
    assert ("out of range or malformed" in refused["points"]
            and "out of range" in refused["negative"])
    assert "is not one of this notebook" in refused["stranger"] and "differ" in refused["maximum"]
    assert ("a Dask peer sent a pickle of posix.system, "
            "which this process does not unpickle" in refused["pickle"])
    assert "not readable here" in refused["raise"]
    # What a compromised worker can still do (autograder/README.md): in-range full marks are
    # recorded.
    assert outcomes["honest-shape"].score == outcomes["honest-shape"].max_score == 3
    # the bomb, unpickled as Dask does by default
    pickle.loads(marker.with_suffix(".pickle").read_bytes())
    assert (marker / str(os.getpid())).is_dir()


def test_checked_takes_only_a_result_of_the_lesson_in_plain_types_and_range(tiny_course):
    source = (tiny_course / "solutions" / "01_fixture" / "01_fixture.ipynb").read_bytes()
    task = Task("ada", "01_fixture", "01_fixture", source, b"{}")
    lesson = parse_lesson(nbformat.reads(source.decode(), 4), "01_fixture")
    honest = NotebookResult.blank(lesson, "ada", "01_fixture").to_dict()
    honest["checks"][0].update(points=honest["checks"][0]["max_points"], status="passed")
    assert pool.checked(task, json.loads(json.dumps(honest)), lesson, Options()).score == 2

    def changed(**fields) -> dict:
        return {**json.loads(json.dumps(honest)), **fields}

    def first_check(**fields) -> dict:
        return changed(checks=[{**honest["checks"][0], **fields}, *honest["checks"][1:]])

    for data in [first_check(points=True), first_check(points="1"), first_check(points=2.5),
                 first_check(points=-0.5), first_check(status="excellent"),
                 first_check(message=["x"]),
                 changed(answers={"a": 1}), changed(timings={"tests": "slow"}),
                 changed(problems="text"),
                 changed(submitted="yes"), changed(manual=["extra"]), changed(sandboxed=False),
                 changed(assignment="02_other"), changed(checks=honest["checks"][1:]),
                 changed(grade=1), changed(checks=[{"grade_id": "x"}]), [1, 2]]:
        assert isinstance(pool.checked(task, data, lesson, Options()), str), data
    # each field is checked, by NotebookResult.from_dict
    assert {"checks", *results._SHAPES} == {f.name for f in dataclasses.fields(NotebookResult)}
    assert set(results._CHECK_SHAPES) == {f.name for f in dataclasses.fields(CheckResult)}


def test_a_local_run_listens_on_loopback_only(demo, tmp_path):
    """Dask's scheduler and workers serve HTTP (health, metrics) even without a dashboard: never
    beyond loopback. Sockets in another network namespace (a sandboxed kernel's, which has no
    network) are not counted."""
    course, submitted, _, _ = demo
    here = psutil.Process()
    network = os.readlink("/proc/self/ns/net")
    before = {c.laddr for c in here.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
    others = {process.pid for process in here.children(recursive=True)}  # e.g. the module's cluster
    opened = set()
    for _ in pool.grade_all(_tasks(course, submitted, ["a", "b"]), Options(), 2, tmp_path / "logs"):
        for process in [here, *here.children(recursive=True)]:
            with suppress(psutil.Error, FileNotFoundError):  # a kernel that ended meanwhile
                if (process.pid not in others
                        and os.readlink(f"/proc/{process.pid}/ns/net") == network):
                    opened |= {(process.pid, " ".join(process.cmdline()[:3]), c.laddr)
                               for c in process.net_connections(kind="inet")
                               if c.status == psutil.CONN_LISTEN and c.laddr not in before}
    assert (opened
            and all(ipaddress.ip_address(address.ip).is_loopback for *_, address in opened)), opened


def _alive(processes: list[psutil.Process], within: float) -> list[psutil.Process]:
    """Those of `processes` still running after waiting up to `within` seconds for them to end."""
    _, alive = psutil.wait_procs(processes, timeout=within)
    return alive


# --- --jobs's default: the CPUs this process may use ----------------------------------------------

def _fake(tmp_path: Path, proc_cgroup: str, files: dict[str, str]) -> tuple[Path, Path]:
    proc, root = tmp_path / "proc", tmp_path / "cgroup"
    proc.mkdir()
    (proc / "cgroup").write_text(proc_cgroup)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return proc, root


AFFINITY = len(os.sched_getaffinity(0))


@pytest.mark.parametrize("proc_cgroup, files, cpus", [
    # v2: cpu.max is "<quota> <period>", or "max <period>" for none; a parent's quota binds its
    # children
    ("0::/job\n", {"job/cpu.max": "150000 100000\n"}, 2),
    ("0::/job\n", {"job/cpu.max": "50000 100000\n"}, 1),
    ("0::/job\n", {"job/cpu.max": "max 100000\n"}, AFFINITY),
    ("0::/a/b\n", {"a/cpu.max": "100000 100000\n", "a/b/cpu.max": "max 100000\n"}, 1),
    # a container shown the host's path: only the folders that exist (its own root) are read
    ("0::/system.slice/docker-1.scope\n", {"cpu.max": "100000 100000\n"}, 1),
    # v1: cpu.cfs_quota_us (-1: none) over cpu.cfs_period_us, in the cpu controller's hierarchy
    ("4:memory:/x\n2:cpu,cpuacct:/job\n", {"cpu,cpuacct/job/cpu.cfs_quota_us": "100000\n",
                                           "cpu,cpuacct/job/cpu.cfs_period_us": "100000\n"}, 1),
    ("1:cpu:/job\n", {"cpu/job/cpu.cfs_quota_us": "-1\n", "cpu/job/cpu.cfs_period_us": "100000\n"},
     AFFINITY),
    ("1:cpu:/\n", {"cpu/cpu.cfs_quota_us": "250000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),
    # no cgroup CPU controller at all
    ("1:memory:/job\n", {}, AFFINITY),
])
def test_usable_cpus_is_the_affinity_capped_by_the_cgroup_quota(tmp_path, proc_cgroup, files, cpus):
    proc, root = _fake(tmp_path, proc_cgroup, files)
    assert pool.usable_cpus(proc, root) == min(cpus, AFFINITY)


def test_usable_cpus_without_proc_is_the_affinity(tmp_path):
    assert pool.usable_cpus(tmp_path / "absent", tmp_path) == AFFINITY
