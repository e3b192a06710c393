"""Where grading time goes, and how much faster `autograder grade` is than nbgrader alone.

    .venv/bin/python scripts/benchmark_grading.py [--students perfect,empty,...] [--jobs N]

On the bundled demo class (or the students named), it measures:
- sequential `nbgrader autograde` of every lesson (the baseline: one kernel per notebook, every
  cell run, narrative included) against `autograder grade` with 1 worker and with --jobs workers;
- the floor of any per-notebook grading: starting a bare kernel and importing the course's modules;
- per notebook, the engine's phases (kernel start, setup imports, student answers, tests), the
  rest of the worker's time (overhead), and the narrative cells nbgrader runs but the engine skips;
- the extra cost of the sandbox (the same students graded with --no-sandbox);
- the time to grade one student's whole course.
It prints ratios; nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograder.course import Course
from autograder.demo_class import build_demo_class
from autograder.engine import Options
from autograder.environment import ROOT, tool_env, use_tool_env
from autograder.pipeline import grade_class
from autograder.release import run_notebook
from mlcourse.lessons import lesson_names as lessons

IMPORTS = "import numpy, torch, matplotlib.pyplot, mlcourse, mlcourse.checking"


def kernel_floor(repeats: int = 3) -> float:
    """Seconds to start a bare kernel and import the course's modules (best of `repeats`)."""
    times = []
    for _ in range(repeats):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(IMPORTS)])
        start = time.perf_counter()
        NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
        times.append(time.perf_counter() - start)
    return min(times)


def nbgrader_sequential(submitted: Path, work: Path) -> float:
    """Seconds for plain nbgrader to autograde every lesson, one notebook after another."""
    course = work / "nbgrader_course"
    course.mkdir()
    (course / "solutions").symlink_to(ROOT / "solutions")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(submitted, course / "submitted")
    env = tool_env()
    for lesson in lessons(ROOT):  # records the assignment in nbgrader's gradebook (not timed)
        subprocess.run(["nbgrader", "generate_assignment", lesson, "--force"], cwd=course, env=env,
                       capture_output=True, check=True)
    start = time.perf_counter()
    for lesson in lessons(ROOT):
        subprocess.run(["nbgrader", "autograde", lesson, "--create", "--force"], cwd=course, env=env,
                       capture_output=True, check=True)
    return time.perf_counter() - start


def ours(submitted: Path, out: Path, jobs: int, sandbox: bool = True) -> tuple[float, list]:
    start = time.perf_counter()
    results = grade_class(submitted, out, Course(ROOT), Options(sandbox=sandbox), jobs=jobs).results
    return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", help="comma-separated demo students (default: the whole demo class)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-nbgrader", action="store_true", help="leave out the (slow) nbgrader baseline")
    args = parser.parse_args()
    use_tool_env()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        submitted = build_demo_class(ROOT, work / "class" / "submitted").submitted
        if args.students:
            keep = set(args.students.split(","))
            for folder in submitted.iterdir():
                if folder.name not in keep:
                    shutil.rmtree(folder)
        students = sorted(p.name for p in submitted.iterdir())
        notebooks = sum(1 for _ in submitted.glob("*/*/*.ipynb"))
        print(f"{len(students)} students, {len(lessons(ROOT))} lessons, {notebooks} submitted notebooks, "
              f"{os.cpu_count()} cores, --jobs {args.jobs}\n")

        floor = kernel_floor()
        full = {lesson: run_notebook(ROOT / "solutions" / lesson / f"{lesson}.ipynb")[0] for lesson in lessons(ROOT)}
        one_wall, results = ours(submitted, work / "out1", jobs=1)
        many_wall, _ = ours(submitted, work / "outN", jobs=args.jobs)
        bare_wall, _ = ours(submitted, work / "out_nosandbox", jobs=1, sandbox=False)
        base = None if args.skip_nbgrader else nbgrader_sequential(submitted, work)

        graded = [r for r in results if r.timings]
        phases = {k: statistics.mean(r.timings.get(k, 0.0) for r in graded)
                  for k in ("kernel", "setup", "answers", "tests")}
        per_notebook = one_wall / len(graded)
        narrative = statistics.mean(full.values()) - sum(phases.values())
        print("per notebook, seconds (autograder grade, 1 worker):")
        print(f"  floor: bare kernel + imports            {floor:6.2f}")
        for name, seconds in phases.items():
            print(f"  engine: {name:<31}{seconds:6.2f}")
        print(f"  worker overhead (the rest)             {per_notebook - sum(phases.values()):6.2f}")
        print(f"  total                                  {per_notebook:6.2f}   "
              f"({per_notebook / floor:.2f} x the floor)")
        print(f"  narrative cells (run by nbgrader only) {narrative:6.2f}   (solution run top to bottom: "
              f"{statistics.mean(full.values()):.2f})")
        print(f"  sandbox extra cost                     {(one_wall - bare_wall) / len(graded):6.2f}   "
              f"(unsandboxed: {bare_wall / len(graded):.2f})\n")
        print("whole class, seconds:")
        print(f"  autograder grade --jobs 1              {one_wall:7.1f}")
        print(f"  autograder grade --jobs {args.jobs:<15}{many_wall:7.1f}   ({one_wall / many_wall:.2f} x --jobs 1)")
        if base is not None:
            print(f"  nbgrader autograde, sequential         {base:7.1f}")
            print(f"  speed-up vs nbgrader: {base / many_wall:.2f} x with --jobs {args.jobs}, "
                  f"{base / one_wall:.2f} x with --jobs 1")
        print(f"\none student's whole course ({len(lessons(ROOT))} notebooks): {one_wall / len(students):.1f} s "
              f"with 1 worker, {many_wall / len(students):.1f} s of a {args.jobs}-worker run")


if __name__ == "__main__":
    main()
