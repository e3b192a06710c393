"""Grading on a real Dask cluster, and the default of --jobs.

A Dask scheduler and two workers run here as separate processes on loopback (`dask scheduler`,
`dask worker`, started by the tests). The fixture course's demo class graded through them gets the
grades of a run on this machine; graded again while one worker is killed in the middle of the run,
it still does, and every notebook's result arrives once. A worker with other grading code stops the
run. `usable_cpus` is read from fake /proc/self/cgroup and cgroup files of both versions.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from distributed import Client

import autograder
from autograder import gradebook, pool
from autograder.course import Course
from autograder.demo_class import build_demo_class, duedates
from autograder.engine import Options
from autograder.environment import tool_env
from autograder.pipeline import grade_class
from autograder.tests.conftest import copy_fixture_course
from autograder.tests.gradebook_rows import count_rows, rows
from mlcourse.lessons import lesson_names

DASK = Path(sys.executable).parent / "dask"


def _started(command: list[str], log: Path, **environment: str) -> subprocess.Popen:
    with open(log, "wb") as output:  # each in a session of its own: the test kills it with all it started
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=tool_env(**environment),
                                start_new_session=True)


@contextmanager
def _dask_cluster(here: Path, workers: dict[str, dict[str, str]]) -> Iterator[tuple[str, dict[str, subprocess.Popen]]]:
    """(the scheduler's address, {worker name: its process}) of a scheduler and one-thread workers started
    here, each worker with its extra environment variables."""
    scheduler_file = here / "scheduler.json"
    processes = [_started([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                           "--scheduler-file", str(scheduler_file)], here / "scheduler.log")]
    started = {}
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        for name, environment in workers.items():
            started[name] = _started([str(DASK), "worker", "--scheduler-file", str(scheduler_file), "--name", name,
                                      "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                      "--local-directory", str(here / name)], here / f"worker-{name}.log",
                                     **environment)
            processes.append(started[name])
        with Client(scheduler_file=str(scheduler_file), timeout=60) as client:
            client.wait_for_workers(len(workers), timeout=60)
            yield client.scheduler.address, started
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:  # a worker the test killed
                pass
            process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(the scheduler's address, {worker name: its process}) of a Dask cluster of two one-thread workers."""
    with _dask_cluster(tmp_path_factory.mktemp("cluster"), {"a": {}, "b": {}}) as running:
        yield running


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(course, submitted, the results of grading the class on this machine with two workers, its gradebook URL)."""
    course = copy_fixture_course(tmp_path_factory.mktemp("fixture") / "course")
    submitted = build_demo_class(course, course / "var" / "submitted").submitted
    results, db_url = _grade(course, submitted, course / "var" / "local", scheduler=None)
    return course, submitted, results, db_url


def _grade(course: Path, submitted: Path, out: Path, scheduler: pool.Scheduler | None):
    graded = grade_class(submitted, out, Course(course), Options(), jobs=None if scheduler else 2,
                         scheduler=scheduler, duedates=duedates(lesson_names(course)))
    return graded.results, gradebook.default_db_url(out)


def _grades(results) -> list[tuple]:
    """What two gradings of a class must agree on, per notebook: every check's verdict and message, the problems."""
    return [(r.student, r.assignment, r.score, r.problems,
             [(c.grade_id, c.status, c.points, c.message, c.misconception) for c in r.checks]) for r in results]


def test_a_cluster_grades_the_class_as_this_machine_does(demo, cluster):
    course, submitted, local, local_db = demo
    address, _ = cluster
    results, db_url = _grade(course, submitted, course / "var" / "cluster", address)
    assert _grades(results) == _grades(local)
    assert rows(db_url) == rows(local_db)
    assert ((course / "var" / "cluster" / "grades.csv").read_text()
            == (course / "var" / "local" / "grades.csv").read_text())
    assert {r.student: r.score for r in results}["perfect"] == 3  # real grading happened, not empty results


def test_a_worker_killed_in_the_middle_loses_nothing(demo, cluster, monkeypatch):
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
        """Once results arrive, kill worker b (its process, as a lost machine would) while it holds a task."""
        with Client(address, timeout=30) as client:
            b = next(w for w, info in client.scheduler_info()["workers"].items() if info["name"] == "b")
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
    with Client(address, timeout=30) as client:  # a Client given rather than an address (as dask-gateway's is)
        results, db_url = _grade(course, submitted, out, client)
    killer.join()
    graded = [r for r in results if r.submitted]
    assert 0 < killed["results before"] < len(graded)  # it died in the middle of the run, holding work
    assert killed["graders"] and killed["graders alive after 10 s"] == []  # its grading process died with it
    assert killed["workers left"] == 1
    assert _grades(results) == _grades(local)
    assert sorted(yielded) == sorted(f"{r.student}/{r.assignment}/{r.notebook}" for r in graded)  # each once
    assert rows(db_url) == rows(local_db) and count_rows(db_url) == count_rows(local_db)


def test_a_worker_with_other_grading_code_stops_the_run_naming_it(demo, tmp_path):
    course, submitted, _, _ = demo
    other = tmp_path / "other"  # the grader as a worker left on an older commit would have it
    shutil.copytree(Path(autograder.__file__).parent, other / "autograder", ignore=shutil.ignore_patterns("tests"))
    with open(other / "autograder" / "verdicts.py", "a") as verdicts:
        verdicts.write("\n# another version\n")
    with _dask_cluster(tmp_path, {"old": {"PYTHONPATH": str(other)}}) as (address, _):
        with pytest.raises(pool.ClusterError, match=r"the Dask worker tcp://127\.0\.0\.1:\d+ has other grading code"):
            _grade(course, submitted, tmp_path / "out", address)


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
    # v2: cpu.max is "<quota> <period>", or "max <period>" for none; a parent's quota binds its children
    ("0::/job\n", {"job/cpu.max": "150000 100000\n"}, 2),
    ("0::/job\n", {"job/cpu.max": "50000 100000\n"}, 1),
    ("0::/job\n", {"job/cpu.max": "max 100000\n"}, AFFINITY),
    ("0::/a/b\n", {"a/cpu.max": "100000 100000\n", "a/b/cpu.max": "max 100000\n"}, 1),
    # a container shown the host's path: only the folders that exist (its own root) are read
    ("0::/system.slice/docker-1.scope\n", {"cpu.max": "100000 100000\n"}, 1),
    # v1: cpu.cfs_quota_us (-1: none) over cpu.cfs_period_us, in the cpu controller's hierarchy
    ("4:memory:/x\n2:cpu,cpuacct:/job\n", {"cpu,cpuacct/job/cpu.cfs_quota_us": "100000\n",
                                           "cpu,cpuacct/job/cpu.cfs_period_us": "100000\n"}, 1),
    ("1:cpu:/job\n", {"cpu/job/cpu.cfs_quota_us": "-1\n", "cpu/job/cpu.cfs_period_us": "100000\n"}, AFFINITY),
    ("1:cpu:/\n", {"cpu/cpu.cfs_quota_us": "250000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),
    # no cgroup CPU controller at all
    ("1:memory:/job\n", {}, AFFINITY),
])
def test_usable_cpus_is_the_affinity_capped_by_the_cgroup_quota(tmp_path, proc_cgroup, files, cpus):
    proc, root = _fake(tmp_path, proc_cgroup, files)
    assert pool.usable_cpus(proc, root) == min(cpus, AFFINITY)


def test_usable_cpus_without_proc_is_the_affinity(tmp_path):
    assert pool.usable_cpus(tmp_path / "absent", tmp_path) == AFFINITY
