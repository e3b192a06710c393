"""Bookkeeping at scale: what recording a class in the gradebook and exporting it cost per notebook.

    .venv/bin/python scripts/benchmark_bookkeeping.py [--students 500] [--notebooks 5] [--postgres]
        [--demo]

Builds a synthetic class without grading anything (autograder/tests/synthetic_class.py): the fixture
lesson copied as NOTEBOOKS assignments with due dates, STUDENTS students who each submitted every
one (a fifth of them late), and a kept result for every notebook in OUT/results (as an earlier run
would have left it). Then it times, on SQLite (and with --postgres on a throw-away PostgreSQL server
as well):
- intake, defining the course (assignments, cells, students), recording every result into a new
  gradebook, recording them again (a re-run: every row is updated, none added), and nbgrader's CSV
  export (grades.csv);
- the outputs stage as a whole (grades.csv, feedback and student pages, formgrader's autograded/
  notebooks, the class report), which is not bookkeeping but follows it;
- `autograder grade` end to end with every result cached, the whole run an instructor waits for;
- with --demo, the bundled demo class graded for real (nothing kept) into each database.
It prints seconds and milliseconds per notebook; nothing here is a test.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
import tracemalloc
from pathlib import Path

from nbgrader.api import Gradebook

from autograder import gradebook, intake
from autograder.course import Course
from autograder.demo_class import build_demo_class
from autograder.engine import Options
from autograder.environment import ROOT, use_tool_env
from autograder.exports import export_nbgrader
from autograder.outputs import write_outputs
from autograder.pipeline import grade_class
from autograder.pool import code_fingerprint
from autograder.results import ResultStore, result_key
from autograder.tests import synthetic_class


@contextlib.contextmanager
def timed(figures: dict[str, float], phase: str):
    start = time.perf_counter()
    yield
    figures[phase] = time.perf_counter() - start


def phases(course: Course, submitted: Path, out: Path, db_url: str,
           duedates: dict) -> dict[str, float]:
    """Seconds per bookkeeping phase, each as the pipeline runs it; also the recording's peak memory
    in MB."""
    figures: dict[str, float] = {}
    store = ResultStore(out / "results", code_fingerprint())
    with tempfile.TemporaryDirectory() as tmp:
        with timed(figures, "intake (find every submission)"):
            found = intake.discover(submitted, course, Path(tmp), None)
        options = Options().key()
        results = []
        for s in found.submissions:
            data = s.source.read_bytes()
            results.append((store.get(s.name, result_key(data, s.read(), s.student, options)),
                            found.times[s.student, s.assignment].when))
        plugin = course.late_plugin()
        with gradebook.open_gradebook(db_url) as gb:
            with timed(figures, "define the course and its students"):
                gradebook.define_course(gb, course, found.students, duedates)
            for phase in ("record every result (new gradebook)",
                          "record again (a re-run: updates only)"):
                with timed(figures, phase):
                    record(gb, plugin, results)
            tracemalloc.start()  # a pass of its own: tracing slows everything down
            record(gb, plugin, results)
            figures["peak MB while recording (traced, beyond the results)"] = (
                tracemalloc.get_traced_memory()[1] / 1e6)
            tracemalloc.stop()
        with Gradebook(db_url) as gb, timed(figures, "grades.csv (nbgrader's export)"):
            export_nbgrader(gb, out / "grades.csv", course.assignments)
        with timed(figures,
                   "all outputs (grades.csv, feedback, student pages, autograded/, report)"):
            write_outputs([result for result, _ in results], out, course, db_url, found)
    return figures


def record(gb: Gradebook, plugin, results: list) -> None:
    recorder = gradebook.Recorder(gb, plugin)
    for result, when in results:
        recorder.add(result, when)
    recorder.flush()


def whole_run(course: Course, submitted: Path, out: Path, db_url: str, duedates: dict) -> float:
    start = time.perf_counter()
    grade_class(submitted, out, course, Options(), jobs=1, db_url=db_url, duedates=duedates)
    return time.perf_counter() - start


def demo_runs(folder: Path, databases: dict) -> dict[str, float]:
    """Seconds to grade the bundled demo class for real (nothing kept) into each database."""
    demo = build_demo_class(ROOT, folder / "demo-submitted")
    figures = {}
    for backend, new_db in databases.items():
        with timed(figures, f"autograder grade, the demo class into {backend}"):
            grade_class(demo.submitted, folder / f"demo-{backend}", Course(ROOT), Options(),
                        jobs=None,
                        db_url=new_db("demo"), duedates=demo.duedates)
    return figures


def report(title: str, figures: dict[str, float], notebooks: int) -> None:
    print(f"\n{title}")
    width = max(map(len, figures))
    print(f"{'phase':<{width}}  {'seconds':>8}  {'ms per notebook':>15}")
    for phase, seconds in figures.items():
        if phase.startswith("peak"):
            print(f"{phase:<{width}}  {seconds:8.1f}")
        else:
            print(f"{phase:<{width}}  {seconds:8.2f}  {1000 * seconds / notebooks:15.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--notebooks", type=int, default=5,
                        help="assignments of one notebook each (default 5)")
    parser.add_argument("--postgres", action="store_true",
                        help="also on a throw-away PostgreSQL server (Debian's postgresql package)")
    parser.add_argument("--demo", action="store_true",
                        help="also grade the bundled demo class for real into each database "
                             "(minutes)")
    args = parser.parse_args()
    use_tool_env()
    count = args.students * args.notebooks
    with tempfile.TemporaryDirectory(prefix="bookkeeping-") as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        start = time.perf_counter()
        klass = synthetic_class.build(folder, args.students, args.notebooks, [folder / "out"])
        course, submitted, duedates = klass.course, klass.submitted, klass.duedates
        print(f"synthetic class: {args.students} students x {args.notebooks} notebooks = "
              f"{count} cached results "
              f"(built in {time.perf_counter() - start:.0f} s)")
        databases = {"SQLite": lambda name: gradebook.default_db_url(folder / "sqlite" / name)}
        for name in ("phases", "whole", "demo"):
            (folder / "sqlite" / name).mkdir(parents=True)
        if args.postgres:
            from autograder.tests.postgres_server import running

            server = stack.enter_context(running())
            databases["PostgreSQL"] = server.database
        for backend, new_db in databases.items():
            out = folder / "out"
            figures = phases(course, submitted, out, new_db("phases"), duedates)
            figures["autograder grade, every result cached (whole run)"] = whole_run(
                course, submitted, out, new_db("whole"), duedates)
            report(f"{backend}:", figures, count)
        if args.demo:
            figures = demo_runs(folder, databases)
            print()
            for phase, seconds in figures.items():
                print(f"{phase}: {seconds:.1f} s")


if __name__ == "__main__":
    main()
