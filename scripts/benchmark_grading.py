"""Where grading time goes, and how much faster `autograder grade` is than nbgrader alone.

    .venv/bin/python scripts/benchmark_grading.py [--students perfect,empty,...] [--jobs N]
        [--skip-nbgrader]
    .venv/bin/python scripts/benchmark_grading.py --scale 2000 [--real 100] [--jobs N]
    .venv/bin/python scripts/benchmark_grading.py --floor 300 [--jobs N]
    .venv/bin/python scripts/benchmark_grading.py --sleepers 30 [--jobs N]
    .venv/bin/python scripts/benchmark_grading.py --huge

Class mode (default), on the bundled demo class (or the students named), in one run:
- sequential `nbgrader autograde` of every lesson (one kernel per notebook, every cell run,
  narrative included), the baseline;
- `autograder grade --jobs 1` with cold kernels (each started afresh, importing torch itself) and
  with warm kernels (forked from a template that imported the setup's modules), then warm with
  --jobs N;
- per notebook, the engine's phases (kernel start and stop, setup cell, answers, tests) for cold
  and warm, the median notebook's time, and the ratios: against nbgrader, and warm against cold.
Scale mode: a synthetic class of SCALE students on the fixture lesson, every result kept from an
earlier run but for REAL students', whose notebooks are graded for real on the local Dask cluster;
the run's stages per notebook (intake, reusing kept results, grading, recording into the gradebook,
outputs), then the same run again with everything kept (what a re-run costs).
Floor mode: the demo class's students copied (perfect_2, crash_2, ...) until the class has at least
FLOOR real notebooks, every one graded for real with --jobs N: the run's wall time, and the
engine's floor, the sum of every notebook's engine time (kernel start and stop, setup, answers,
tests) / N: what the run would take if the workers did nothing but grade. Their ratio (floor /
wall) is the share of the run the engine's own work fills; the rest is fixed costs (starting
grading processes and templates), scheduling, recording and outputs.
Sleepers mode: two students whose answer sleeps past --timeout SLEEPERS beside two honest ones, on
the fixture lesson: the run's wall time (notebooks that time out beside others are graded again
together).
Huge mode: the fixture lesson's perfect student beside one who added 300,000 cells with grade ids of
their own (about 64 MB) and one who added 60,000 (13 MB, under the size cap, read within the
notebook's time): the run's time and the size of each one's result, feedback page and report lines.
It prints ratios from one run; nothing here is a test.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from autograder.course import Course
from autograder.demo_class import build_demo_class
from autograder.engine import Options
from autograder.environment import ROOT, tool_env, use_tool_env
from autograder.pipeline import grade_class
from autograder.pool import usable_cpus
from autograder.tests import synthetic_class
from mlcourse.lessons import lesson_names

PHASES = ("kernel", "setup", "answers", "tests")


def nbgrader_sequential(submitted: Path, work: Path) -> float:
    """Seconds for plain nbgrader to autograde every lesson, one notebook after another."""
    course = work / "nbgrader_course"
    course.mkdir()
    (course / "solutions").symlink_to(ROOT / "solutions")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(submitted, course / "submitted")
    env = tool_env()
    for lesson in lesson_names(ROOT):  # records the assignment in nbgrader's gradebook (not timed)
        subprocess.run(["nbgrader", "generate_assignment", lesson, "--force"], cwd=course, env=env,
                       capture_output=True, check=True)
    start = time.perf_counter()
    for lesson in lesson_names(ROOT):
        subprocess.run(["nbgrader", "autograde", lesson, "--create", "--force"], cwd=course,
                       env=env,
                       capture_output=True, check=True)
    return time.perf_counter() - start


def grade(submitted: Path, out: Path, jobs: int, warm: bool) -> tuple[float, list]:
    start = time.perf_counter()
    graded = grade_class(submitted, out, Course(ROOT), Options(warm=warm), jobs=jobs)
    return time.perf_counter() - start, [r for r in graded.results if r.timings]


def per_notebook(results: list) -> dict[str, float]:
    """Median seconds of each engine phase, and of the whole engine time, over the graded
    notebooks."""
    figures = {phase: statistics.median(r.timings.get(phase, 0.0) for r in results)
               for phase in PHASES}
    figures["engine"] = statistics.median(sum(r.timings.get(p, 0.0) for p in PHASES)
                                          for r in results)
    return figures


def class_mode(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        submitted = build_demo_class(ROOT, work / "class" / "submitted").submitted
        if args.students:
            keep = set(args.students.split(","))
            for folder in submitted.iterdir():
                if folder.name not in keep:
                    shutil.rmtree(folder)
        notebooks = sum(1 for _ in submitted.glob("*/*/*.ipynb"))
        print(f"{sum(1 for _ in submitted.iterdir())} students, {len(lesson_names(ROOT))} lessons, "
              f"{notebooks} "
              f"submitted notebooks, {usable_cpus()} usable CPUs, --jobs {args.jobs}\n")
        cold_wall, cold = grade(submitted, work / "cold", 1, warm=False)
        warm_wall, warm = grade(submitted, work / "warm", 1, warm=True)
        many_wall, _ = grade(submitted, work / "many", args.jobs, warm=True)
        base = None if args.skip_nbgrader else nbgrader_sequential(submitted, work)
        cold_phases, warm_phases = per_notebook(cold), per_notebook(warm)
        print("per notebook, median seconds (autograder grade, 1 worker):   cold    warm")
        for phase in PHASES:
            print(f"  engine: {phase:<48}{cold_phases[phase]:6.2f}  {warm_phases[phase]:6.2f}")
        print("  the engine's whole time on the median notebook      "
              f"{cold_phases['engine']:6.2f}  {warm_phases['engine']:6.2f}   "
              f"({cold_phases['engine'] / warm_phases['engine']:.1f} x faster warm)")
        print("  the run's wall time per notebook (worker included)  "
              f"{cold_wall / len(cold):6.2f}  "
              f"{warm_wall / len(warm):6.2f}   ({cold_wall / warm_wall:.1f} x faster warm)\n")
        print("whole class, seconds:")
        print(f"  autograder grade --jobs 1, cold kernels       {cold_wall:7.1f}")
        print(f"  autograder grade --jobs 1, warm kernels       {warm_wall:7.1f}   "
              f"({cold_wall / warm_wall:.2f} x cold)")
        print(f"  autograder grade --jobs {args.jobs}, warm kernels       {many_wall:7.1f}   "
              f"({warm_wall / many_wall:.2f} x --jobs 1)")
        if base is not None:
            print(f"  nbgrader autograde, sequential                {base:7.1f}")
            print(f"  speed-up against nbgrader: {base / many_wall:.1f} x with --jobs {args.jobs}, "
                  f"{base / warm_wall:.1f} x with --jobs 1 warm, "
                  f"{base / cold_wall:.1f} x with --jobs 1 cold")


def scale_mode(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work, out = Path(tmp), Path(tmp) / "out"
        start = time.perf_counter()
        made = synthetic_class.build(work, args.scale, 1, [out])
        # these are graded for real, on the local cluster
        for student in made.students[: args.real]:
            shutil.rmtree(out / "results" / student)
        print(f"{args.scale} students x 1 notebook (the fixture lesson), {args.real} graded for "
              f"real, the rest kept; built in {time.perf_counter() - start:.0f} s; "
              f"{usable_cpus()} usable CPUs, --jobs {args.jobs}\n")
        for label in ("first run", "run again (everything kept)"):
            start = time.perf_counter()
            graded = grade_class(made.submitted, out, made.course, Options(), jobs=args.jobs,
                                 duedates=made.duedates)
            wall, n = time.perf_counter() - start, len(graded.results)
            stages = graded.seconds
            print(f"{label}: {wall:.1f} s for {n} notebooks, {1000 * wall / n:.2f} ms per notebook")
            for stage in ("intake", "kept", "grading", "recording", "outputs"):
                print(f"  {stage:<26} {stages[stage]:7.2f} s  "
                      f"{1000 * stages[stage] / n:7.2f} ms per notebook")
                for part in (k for k in stages if k.startswith(f"{stage}: ")):
                    print(f"    {part:<24} {stages[part]:7.2f} s  "
                          f"{1000 * stages[part] / n:7.2f} ms per notebook")
            bookkeeping = stages["recording"] + stages["outputs: grades.csv"]
            print(f"  bookkeeping (recording, and exporting grades.csv): {bookkeeping:.2f} s, "
                  f"{1000 * bookkeeping / n:.2f} ms per notebook\n")


def floor_mode(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        demo = build_demo_class(ROOT, work / "class" / "submitted")
        originals = sorted(demo.submitted.iterdir())
        per_copy = sum(1 for _ in demo.submitted.glob("*/*/*.ipynb"))
        for copy in range(2, -(-args.floor // per_copy) + 1):
            for folder in originals:
                shutil.copytree(folder, demo.submitted / f"{folder.name}_{copy}")
        start = time.perf_counter()
        graded = grade_class(demo.submitted, work / "out", Course(ROOT), Options(), jobs=args.jobs,
                             duedates=demo.duedates)
        wall = time.perf_counter() - start
        results = [r for r in graded.results if r.timings]
        engine = sum(sum(r.timings.get(p, 0.0) for p in PHASES) for r in results)
        floor, grading = engine / args.jobs, graded.seconds["grading"]
        print(f"{len(results)} notebooks graded of {len(graded.results)} "
              f"({sum(1 for _ in demo.submitted.iterdir())} students), --jobs {args.jobs}, "
              f"{usable_cpus()} usable CPUs")
        print(f"  engine time, all notebooks       {engine:7.1f} s")
        print(f"  the engine's floor (/ {args.jobs})         {floor:7.1f} s")
        print(f"  grading stage, wall              {grading:7.1f} s   "
              f"floor / wall {floor / grading:.0%}")
        print(f"  whole run, wall                  {wall:7.1f} s   "
              f"floor / wall {floor / wall:.0%}")


def _fixture_class(work: Path, answers: dict[str, str],
                   extra_cells: dict[str, int]) -> tuple[Path, Course]:
    """The fixture course and a class of it: `perfect`, students with `answers[student]` as their
    objective answer, and students with `extra_cells[student]` code cells of grade ids of their own
    added."""
    import json

    from autograder.tests.conftest import copy_fixture_course

    course = copy_fixture_course(work / "course")
    submitted = build_demo_class(course, work / "demo").submitted
    folder = submitted / "perfect" / "01_fixture"
    for student in [*answers, *extra_cells]:
        notebook = json.loads((folder / "01_fixture.ipynb").read_text())
        for cell in notebook["cells"]:
            if (cell["metadata"].get("nbgrader", {}).get("grade_id") == "answer_objective"
                    and student in answers):
                cell["source"] = answers[student]
        nbgrader = {"grade": False, "solution": True, "locked": False, "schema_version": 3}
        notebook["cells"] += [{"cell_type": "code", "id": f"c{i}", "execution_count": None,
                               "outputs": [], "source": "pass",
                               "metadata": {"nbgrader": {**nbgrader, "grade_id": f"cell_{i}"}}}
                              for i in range(extra_cells.get(student, 0))]
        (work / "class" / student / "01_fixture").mkdir(parents=True)
        (work / "class" / student / "01_fixture" / "01_fixture.ipynb").write_text(
            json.dumps(notebook))
    for student in ("perfect", "partial"):
        shutil.copytree(submitted / student, work / "class" / student)
    return work / "class", Course(course)


def sleepers_mode(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sleep = f"import time\ntime.sleep({10 * args.sleepers:g})"
        submitted, course = _fixture_class(Path(tmp), {"sleeper_1": sleep, "sleeper_2": sleep}, {})
        start = time.perf_counter()
        graded = grade_class(submitted, Path(tmp) / "out", course, Options(timeout=args.sleepers),
                             jobs=args.jobs)
        print(f"2 sleepers and 2 honest students, --timeout {args.sleepers:g}, --jobs {args.jobs}: "
              f"{time.perf_counter() - start:.1f} s (grading {graded.seconds['grading']:.1f} s); "
              "scores "
              + ", ".join(f"{r.student} {r.score:g}" for r in graded.results))


def huge_mode(args) -> None:
    import resource

    with tempfile.TemporaryDirectory() as tmp:
        submitted, course = _fixture_class(Path(tmp), {}, {"huge": 300_000, "large": 60_000})
        for student in ("huge", "large"):
            size = (submitted / student / "01_fixture" / "01_fixture.ipynb").stat().st_size
            print(f"{student}: a notebook of {size / 2**20:.1f} MB")
        out, start = Path(tmp) / "out", time.perf_counter()
        graded = grade_class(submitted, out, course, Options(), jobs=args.jobs)
        print(f"graded in {time.perf_counter() - start:.1f} s "
              f"(grading {graded.seconds['grading']:.1f} s); this process's peak resident memory "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        report = (out / "report.md").read_text()
        for result in graded.results:
            name = f"{result.student}/01_fixture/01_fixture"
            sizes = [(out / folder / f"{name}.{ext}").stat().st_size for folder, ext in
                     (("results", "json"), ("feedback", "html"))]
            lines = [line for line in report.splitlines() if f"- {result.student} /" in line]
            print(f"  {result.student}: score {result.score:g}, "
                  f"engine {sum(result.timings.values()):.1f} s, result "
                  f"{sizes[0] / 1024:.0f} KB, feedback {sizes[1] / 1024:.0f} KB, "
                  f"{len(lines)} report lines; "
                  f"{result.problems[0][:90] if result.problems else 'no problem'}")
        print(f"report.md: {len(report) / 1024:.0f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students",
                        help="comma-separated demo students (default: the whole demo class)")
    parser.add_argument("--jobs", type=int, default=usable_cpus())
    parser.add_argument("--skip-nbgrader", action="store_true",
                        help="leave out the (slow) nbgrader baseline")
    parser.add_argument("--scale", type=int,
                        help="scale mode: a synthetic class of this many students")
    parser.add_argument("--real", type=int, default=100,
                        help="scale mode: students graded for real (default 100)")
    parser.add_argument("--floor", type=int, metavar="NOTEBOOKS",
                        help="floor mode: the demo class copied to at least this many notebooks")
    parser.add_argument("--sleepers", type=float, metavar="TIMEOUT",
                        help="sleepers mode, with this --timeout")
    parser.add_argument("--huge", action="store_true",
                        help="huge mode: notebooks of 300,000 and 60,000 cells")
    args = parser.parse_args()
    use_tool_env()
    mode = (scale_mode if args.scale else floor_mode if args.floor
            else sleepers_mode if args.sleepers
            else huge_mode if args.huge else class_mode)
    mode(args)


if __name__ == "__main__":
    main()
