"""The sandbox's one limits table (autograder/sandbox/inside/limits.py): cold and warm kernels apply
the same limits from it, and `autograder grade --memory/--processes/--cell-timeout` set them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main
from autograder.engine import Options
from autograder.results import result_key
from autograder.sandbox.kernels import (
    OUTPUT_FILE,
    ForkedKernel,
    Limits,
    SandboxedKernel,
    warm_available,
)
from autograder.tests.catalogue.kit import student_copy, write

AS_ROOT = pytest.mark.skipif(
    os.geteuid() != 0 or not warm_available(True),
    reason="needs root: only there is each kernel's process limit its own (a user per kernel), "
           "and only there do warm kernels run")
READ_LIMITS = """
import json, resource
names = ("RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_CORE")
seen = {name: list(resource.getrlimit(getattr(resource, name))) for name in names}
seen["shmmax"] = int(open("/proc/sys/kernel/shmmax").read())
print(json.dumps(seen))
"""


def limits_seen(kernel) -> dict:
    """What the kernel's own process reads of its limits."""
    kernel.start()
    try:
        reply = kernel.request({"op": "run", "source": READ_LIMITS}, 60)
    finally:
        kernel.stop()
    assert reply["ok"], reply
    return json.loads((kernel.scratch / OUTPUT_FILE).read_text().strip().splitlines()[-1])


@AS_ROOT
@pytest.mark.parametrize("kind", ["warm", "cold"])
def test_cold_and_warm_kernels_apply_the_same_limits_from_one_table(tmp_path, kind):
    # None of them the default, so that a limit set anywhere but from this table shows.
    limits = Limits(memory_bytes=(2 << 30) + (1 << 20), processes=40, cpu_seconds=77,
                    output_bytes=3 << 20)
    kernel = (ForkedKernel(tmp_path, limits, ("numpy",)) if kind == "warm"
              else SandboxedKernel(tmp_path, limits))
    assert limits_seen(kernel) == {
        "RLIMIT_AS": [limits.memory_bytes] * 2, "RLIMIT_NPROC": [40, 40], "RLIMIT_CPU": [77, 82],
        "RLIMIT_FSIZE": [3 << 20] * 2, "RLIMIT_CORE": [0, 0], "shmmax": limits.memory_bytes}


def test_the_options_of_a_run_hold_its_kernels_limits_and_key_its_results():
    options = Options(timeout=90, cell_seconds=20, memory_bytes=2 << 30, processes=32)
    assert options.limits == Limits(notebook_seconds=90, cell_seconds=20, memory_bytes=2 << 30,
                                    processes=32)
    assert Options().limits == Limits()
    # A kept result graded under other limits is not reused.
    keys = {result_key(b"source", b"submission", "ada", o.key())
            for o in (Options(), Options(memory_bytes=2 << 30), Options(processes=32),
                      Options(cell_seconds=20))}
    assert len(keys) == 4


# The answers of the fixture course's student, each correct only under the command line's limits:
# answer_objective is right only in a kernel of 2 GiB and 40 processes; every call of
# total_log_prob outlasts a --cell-timeout of 2 s (its 2 points are lost), not the default 60 s.
PROBE = {
    "answer_objective": "import resource\n"
                        "answer_objective = ('b' if resource.getrlimit(resource.RLIMIT_AS)[0] == "
                        "2 << 30 and resource.getrlimit(resource.RLIMIT_NPROC)[0] == 40 else 'a')",
    "total_log_prob": "import time\ndef total_log_prob(log_probs):\n    time.sleep(6)\n"
                      "    return float(np.sum(log_probs))",
}


@AS_ROOT
@pytest.mark.parametrize("kernels", [[], ["--cold-kernels"]], ids=["warm", "cold"])
def test_the_command_line_limits_reach_the_kernel(tiny_course, tmp_path, capsys, kernels):
    source = tiny_course / "solutions" / "01_fixture" / "01_fixture.ipynb"
    write(nbformat.writes(student_copy(source, PROBE)),
          tmp_path / "submitted" / "ada" / "01_fixture" / "01_fixture.ipynb")
    code = main(["--root", str(tiny_course), "grade", str(tmp_path / "submitted"), "--out",
                 str(tmp_path / "out"), "--jobs", "1", "--memory", "2G", "--processes", "40",
                 "--cell-timeout", "2", *kernels])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "(1 of 3 autograded points)" in out, out


@pytest.mark.parametrize(("flag", "value", "says"), [
    ("--memory", "3X", "argument --memory: '3X' is not a size"),
    ("--memory", "512M", "argument --memory: 512M is less than the 1G a kernel needs"),
    ("--processes", "two", "argument --processes: 'two' is not a whole number"),
    ("--processes", "4", "argument --processes: 4 is less than the 8 processes"),
    ("--cell-timeout", "0", "argument --cell-timeout: 0 is not more than 0 seconds"),
    ("--cell-timeout", "soon", "argument --cell-timeout: 'soon' is not a number of seconds"),
])
def test_a_bad_limit_is_refused_naming_its_flag(tmp_path: Path, capsys, flag, value, says):
    with pytest.raises(SystemExit) as refused:
        main(["grade", str(tmp_path), "--out", str(tmp_path / "out"), flag, value])
    assert refused.value.code == 2
    assert says in capsys.readouterr().err
