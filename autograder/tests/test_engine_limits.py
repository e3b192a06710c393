"""Limits and the sandbox: a runaway answer costs its own checks, a notebook-wide limit the rest,
with reasons."""

from __future__ import annotations

import ast
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from autograder.sandbox import kernels as sandbox  # noqa: I001
from autograder.sandbox.kernels import Limits
from autograder.tests.catalogue.kit import grade_file, in_processes, student_copy, write

TINY = Path(__file__).parent / "fixtures" / "engine" / "solutions" / "00_tiny" / "00_tiny.ipynb"


def grade(tmp_path: Path, answers: dict[str, str], limits: Limits, **kwargs):
    path = write(nbformat.writes(student_copy(TINY, answers)), tmp_path / "student" / TINY.name)
    return grade_file(TINY, path, student="student", scratch=tmp_path / "scratch", limits=limits,
                      **kwargs)


def by_id(result):
    return {c.grade_id: c for c in result.checks}


def test_a_notebook_wide_time_limit_scores_the_rest_zero_and_keeps_earlier_points(tmp_path):
    result = grade(tmp_path, {"count_tokens": "import time\ntime.sleep(600)"},
                   Limits(cell_seconds=60, notebook_seconds=20))
    checks = by_id(result)
    assert ((checks["test_mean_log_prob"].status, checks["test_mean_log_prob"].points)
            == ("passed", 2.0))
    assert ((checks["test_count_tokens"].status, checks["test_count_tokens"].points)
            == ("not-run", 0.0))
    assert (checks["test_count_tokens"].message
            == "not run: the notebook's time limit of 20 s was reached")
    assert (result.problems[-1]
            == "the notebook's time limit of 20 s was reached; the remaining checks score 0")


def test_too_many_kernel_restarts_stop_the_notebook_with_the_reason(tmp_path):
    crash = "import os\nos._exit(7)"
    result = grade(tmp_path, {"mean_log_prob": crash, "count_tokens": crash}, Limits(restarts=1))
    assert [c.status for c in result.checks] == ["error", "not-run"]
    assert ("`mean_log_prob` did not finish: the kernel stopped: it exited (code 7)"
            in result.checks[0].message)
    assert result.checks[1].message == ("not run: the kernel stopped once more after 1 restarts, "
                                        "the most a notebook may have")


def test_cpu_time_is_limited_per_kernel(tmp_path):
    spin = "def count_tokens(text):\n    while True:\n        pass"
    result = grade(tmp_path, {"count_tokens": spin}, Limits(cpu_seconds=12, cell_seconds=120))
    checks = by_id(result)
    assert checks["test_mean_log_prob"].points == 2.0
    assert checks["test_count_tokens"].message == (
        "the student's code did not finish: the kernel stopped: it used more than 12 s of CPU time")


def test_without_bubblewrap_grading_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    monkeypatch.setattr(sandbox, "check_available", sandbox.check_available.__wrapped__)
    with pytest.raises(sandbox.SandboxUnavailable, match="install it .*or grade with --no-sandbox"):
        sandbox.check_available()
    monkeypatch.setattr("autograder.engine.check_available", sandbox.check_available)
    result = grade(tmp_path, {}, Limits())
    assert ({c.status for c in result.checks} == {"not-run"}
            and "bubblewrap (bwrap) is not installed" in result.problems[0])


@pytest.mark.parametrize("privileged", [None, False], ids=["as-this-user", "in-a-user-namespace"])
def test_the_sandbox_shows_the_kernel_only_what_it_needs(tmp_path, privileged):
    command = sandbox.bwrap_command(1 << 20, privileged)
    root = Path(__file__).resolve().parents[2]
    # Every file of the grader's the kernel can see; compiled modules are named by their source, so
    # that a stale one (of a module no longer there) shows up too.
    probe = ("import os, socket\n"
             f"print(sorted(os.listdir('{root}')))\n"
             f"print(sorted({{os.path.relpath(os.path.join(d.removesuffix('/__pycache__'),\n"
             f"                                              f.split('.')[0] + '.py'), '{root}')\n"
             f"              for d, _, fs in os.walk('{root / 'autograder'}') for f in fs}}))\n"
             "print(os.access('/usr', os.W_OK), os.access('/scratch', os.W_OK))\n"
             "try:\n    open('/tmp/big', 'wb').write(bytes(2 << 20))\n"
             "except OSError as e:\n    print(e.strerror)\n"
             "try:\n    socket.create_connection(('127.0.0.1', 22), timeout=2)\n"
             "except OSError as e:\n    print(type(e).__name__)\n")
    command[command.index("-m"):] = ["-c", probe]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    inside = [f"autograder/sandbox/inside/{name}.py"
              for name in ("__init__", "codec", "framing", "kernel_template", "limits",
                           "student_kernel", "syscalls")]
    assert done.stdout.splitlines() == [
        "['.venv', 'autograder', 'shared']",
        str(["autograder/__init__.py", "autograder/sandbox/__init__.py", *inside]),
        "False True", "No space left on device", "ConnectionRefusedError"]


def test_the_code_mounted_inside_imports_nothing_of_the_grader_from_outside_it():
    """Only sandbox/inside/ of the grader exists in the sandbox: a module there that imported the
    grader's other code would fail in every kernel, or, mounted too to make it work, widen the
    wall."""
    imported = set()
    for path in (Path(sandbox.__file__).parent / "inside").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module or "")  # "from . import x": within the folder
    grader = {name for name in imported if name.split(".")[0] == "autograder"}
    assert "autograder.sandbox.inside.codec" in grader  # the walk did read the imports
    assert {name for name in grader if not name.startswith("autograder.sandbox.inside")} == set()


FLOOD = ("import os, time\nwhile True:\n    try:\n        if os.fork() == 0:\n"
         "            time.sleep(60)\n            os._exit(0)\n    except OSError:\n        break\n"
         "time.sleep(25)\n")
THREADED = ("import threading\ndef count_tokens(text):\n    out = []\n"
            "    worker = threading.Thread(target=lambda: out.append(len(text.split())))\n"
            "    worker.start()\n    worker.join()\n    return out[0]")


def test_a_fork_flood_does_not_starve_a_kernel_graded_beside_it(tmp_path):
    def grade_one(number: int) -> float:
        if number == 1:
            time.sleep(6)  # while the flood holds every process it could make
        answers = ({"count_tokens": FLOOD + "def count_tokens(text):\n    return 0"} if number == 0
                   else {"count_tokens": THREADED})
        return grade(tmp_path / str(number), answers, Limits(cell_seconds=40)).score

    assert in_processes(grade_one, 2) == [2.0, 3.0]


def _kernel(tmp_path: Path, limits: Limits) -> sandbox.SandboxedKernel:
    kernel = sandbox.SandboxedKernel(tmp_path / "kernel", limits)
    kernel.start()
    return kernel


def test_a_kernel_that_stops_reading_cannot_hold_the_grader(tmp_path):
    kernel = _kernel(tmp_path, Limits())
    # A thread that, after a second, holds the interpreter lock in one C call: the kernel's loop can
    # no longer read, so a request larger than the pipe's buffer cannot be written in full.
    stuck = ("import re, threading, time\n"
             "threading.Thread(target=lambda: (time.sleep(1), re.match('(a+)+$', 'a' * 64 + 'b')))"
             ".start()")
    assert kernel.request({"op": "run", "source": stuck}, 10)["ok"]
    time.sleep(1.5)
    start = time.monotonic()
    with pytest.raises(sandbox.KernelDied, match="did not read its request in time"):
        kernel.request({"op": "get", "name": "x" * (8 << 20)}, 3)
    assert time.monotonic() - start < 8
    kernel.stop()


@pytest.mark.skipif(sandbox.Cgroup.create(Limits(memory_bytes=1 << 20, processes=8)) is None,
                    reason="this machine gives the grader no cgroups")
def test_shared_and_system_v_memory_count_against_the_kernels_cap(tmp_path):
    limits = Limits(memory_bytes=512 << 20)
    kernel = _kernel(tmp_path, limits)
    assert kernel.cgroup is not None
    segments = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                "libc.shmat.restype = ctypes.c_void_p\n"
                "held = 0\nfor _ in range(6):\n"
                "    segment = libc.shmget(0, ctypes.c_size_t(200 << 20), 0o1600)\n"
                "    if segment < 0:\n        break\n    address = libc.shmat(segment, None, 0)\n"
                "    ctypes.memset(address, 1, 200 << 20)\n"
                "    libc.shmdt(ctypes.c_void_p(address))\n"
                "    held += 200\nprint(held)")
    try:
        reply = kernel.request({"op": "run", "source": segments}, 60)
    except sandbox.KernelDied as died:  # killed at its cap
        assert "SIGKILL" in str(died) or "exited" in str(died)
    else:
        # Or its IPC namespace refused the segments beyond its cap: either way it never held more.
        output = (tmp_path / "kernel" / sandbox.OUTPUT_FILE).read_text().split()
        assert reply["ok"] and int(output[-1]) <= 512
    finally:
        kernel.stop()
    mapped = ("import mmap\nblock = mmap.mmap(-1, 1 << 30)\n"
              "for i in range(0, len(block), 4096):\n    block[i] = 1")
    kernel = _kernel(tmp_path / "again", limits)
    try:
        reply = kernel.request({"op": "run", "source": mapped}, 60)
        # The address-space limit refuses the mapping.
        assert not reply["ok"] and "Error" in reply["error"]
    except sandbox.KernelDied:
        pass
    finally:
        kernel.stop()
