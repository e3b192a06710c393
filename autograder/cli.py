"""`autograder`: the instructor's and the student's command line.

    autograder run-solutions        execute every solution notebook, report each one's run time
    autograder release [--check]    regenerate notebooks/ from solutions/ (or check it is current)
    autograder check NOTEBOOK       a student's honest local check: visible tests run, hidden ones counted
    autograder grade [SUBMISSIONS]  grade a class (no SUBMISSIONS: the bundled demo class)
    autograder export OUT --format F --to FILE   the grades for Canvas, Moodle, Gradescope or as nbgrader's CSV
    autograder lab                  JupyterLab 4 on notebooks/, with nbgrader's validate
    autograder formgrader OUT       JupyterLab with nbgrader's formgrader on a graded class: written answers
    autograder cluster-certs DIR    the TLS certificates of a Dask cluster only trusted machines can join
"""  # noqa: E501 - the command table is printed as --help's epilog, one command a line

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.environment import ROOT, use_tool_env
from autograder.sandbox.inside.limits import Limits


def cmd_run_solutions(args: argparse.Namespace) -> int:
    from autograder.release import run_solutions

    rows = run_solutions(args.root, args.lessons or None)
    if not rows:
        print(f"no solution notebooks in {args.root / 'solutions'}")
        return 1
    width = max(len(lesson) for lesson, _, _ in rows)
    print(f"\n{'notebook':<{width}}  seconds  status")
    for lesson, seconds, errors in rows:
        status = "ok" if not errors else f"{len(errors)} error(s): {errors[0]}"
        print(f"{lesson:<{width}}  {seconds:7.1f}  {status}")
    print(f"{'total':<{width}}  {sum(s for _, s, _ in rows):7.1f}")
    return 1 if any(errors for _, _, errors in rows) else 0


def cmd_release(args: argparse.Namespace) -> int:
    from autograder.release import release, stale_files

    if args.check:
        differ = stale_files(args.root)
        for line in differ:
            print(line)
        if differ:
            print(f"{len(differ)} file(s) in notebooks/ differ from what nbgrader generates from "
                  "solutions/; run `autograder release` and commit notebooks/", file=sys.stderr)
            return 1
        print("notebooks/ is what nbgrader generates from solutions/")
        return 0
    written = release(args.root, args.lessons or None)
    print(f"released {len(written)} lesson(s) into {args.root / 'notebooks'}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from autograder.local_check import check_file

    tests, text = check_file(args.notebook, timeout=args.timeout)
    print(text)
    return 0 if tests and all(t.passed for t in tests) else 1


def cmd_grade(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from autograder.course import Course
    from autograder.engine import Options
    from autograder.gradebook import GradebookError, default_db_url, failure, redacted
    from autograder.pipeline import Busy, grade_class
    from autograder.pool import Cluster, ClusterError
    from autograder.report import grader_errors

    try:
        course = Course(args.root, tuple(args.assignment or ()))
    except ValueError as error:
        print(f"grade: {error}", file=sys.stderr)
        return 2
    duedates = None
    if args.submissions is None:  # the bundled demo class, built from the current lessons
        from autograder.demo_class import build_demo_class

        out = (args.out or args.root / "var" / "demo").resolve()
        demo = build_demo_class(args.root, out / "submitted")
        submissions, duedates = demo.submitted, demo.duedates
    elif args.out is None:
        print("grade: --out OUT is required with SUBMISSIONS", file=sys.stderr)
        return 2
    else:
        submissions, out = args.submissions.resolve(), args.out.resolve()
    try:
        options = Options(args.timeout, sandbox=not args.no_sandbox, warm=not args.cold_kernels,
                          cell_seconds=args.cell_timeout, memory_bytes=args.memory,
                          processes=args.processes)
        if (args.tls or args.insecure) and not args.scheduler:
            raise ValueError("--tls and --insecure go with --scheduler")
        cluster = (Cluster(args.scheduler, args.tls and args.tls.resolve(), args.insecure)
                   if args.scheduler else None)
        if cluster is not None:
            # refused before any work: a plain address off this machine, missing certificates
            cluster.security()
        graded = grade_class(submissions, out, course, options, jobs=args.jobs, scheduler=cluster,
                             db_url=args.db, duedates=duedates, regrade=args.regrade,
                             times_file=args.times, keep_other_code=args.keep_other_code)
    except (FileNotFoundError, NotADirectoryError, ValueError, Busy, ClusterError,
            GradebookError) as error:
        print(f"grade: {error}", file=sys.stderr)
        return 2
    except SQLAlchemyError as error:  # the gradebook's database: unreachable, a wrong password, ...
        print(f"grade: {failure(error, args.db or default_db_url(out))}", file=sys.stderr)
        return 2
    results = graded.results
    # first: these are not grades, and the run fails because of them
    for line in grader_errors(results):
        print(line)
    score, top = sum(r.score for r in results), sum(r.max_score for r in results)
    manual = sum(len(r.manual) for r in results if r.submitted)
    print(f"graded {len(results)} notebooks of {len({r.student for r in results})} students in "
          f"{', '.join(course.assignments)} ({score:g} of {top:g} autograded points)")
    print(f"gradebook: {redacted(args.db or default_db_url(out))}")
    for name, path in graded.outputs.items():
        print(f"{name}: {path}")
    print(f"Open first: {graded.outputs['report']} (the class), then the feedback pages to hand "
          f"back ({out / 'feedback'}/<student>/index.html: each student's grades, with links to "
          "the rest)."
          + (f" {manual} written answer(s) wait for a human: autograder formgrader {out}" if manual
             else ""))
    if cluster is not None and cluster.warning:
        print(cluster.warning, file=sys.stderr)
    failed = sum(1 for r in results if r.grader_error is not None)
    if failed:
        print(f"grade: {failed} notebook(s) NOT GRADED because the grader failed on them (listed "
              f"first above and in {graded.outputs['report']}); exit code 3", file=sys.stderr)
    return 3 if failed else 0


def cmd_export(args: argparse.Namespace) -> int:
    from nbgrader.api import Gradebook

    from autograder.exports import export
    from autograder.gradebook import default_db_url, redacted

    out = args.out.resolve()
    # opening it would create an empty one
    if args.db is None and not (out / "gradebook.db").is_file():
        print(f"export: no gradebook at {out / 'gradebook.db'}: grade into {out} first, or give "
              "--db URL", file=sys.stderr)
        return 2
    db_url = args.db or default_db_url(out)
    try:
        with Gradebook(db_url) as gb:
            covered = export(gb, args.format, args.to.resolve(), out, args.assignment)
    except (ValueError, IsADirectoryError, NotADirectoryError) as error:
        print(f"export: {error}", file=sys.stderr)
        return 2
    print(f"{args.format}: {args.to} ({', '.join(covered)}, from {redacted(db_url)})")
    return 0


class _ExportFormats:
    """The names in autograder.exports.FORMATS, as --format's choices: read when `export` checks its
    arguments or shows its help, not when the parser is built, since importing exports imports
    nbgrader, seconds that every other command (`autograder check` included) would pay."""

    def __iter__(self):
        from autograder.exports import FORMATS

        return iter(FORMATS)

    def __contains__(self, name: object) -> bool:
        return name in list(self)


class _ExportHelp(argparse.HelpFormatter):
    """`autograder export --help`: --format's help is each format's name and description."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if not isinstance(action.choices, _ExportFormats):
            return super()._get_help_string(action)
        from autograder.exports import FORMATS

        # the help is a %-format string
        return "; ".join(f"{name}: {form.description}"
                         for name, form in FORMATS.items()).replace("%", "%%")


def cmd_lab(args: argparse.Namespace) -> int:
    from autograder.lab import Exchange, run_lab

    if (args.exchange is None) != (args.course_id is None):
        print("lab: --exchange and --course-id go together (the exchange folder and the course's "
              "id in it)", file=sys.stderr)
        return 2
    exchange = Exchange(args.exchange.resolve(), args.course_id) if args.exchange else None
    try:
        return run_lab(args.root, args.port, args.no_browser, args.jupyter_args, exchange)
    except FileNotFoundError as error:
        print(f"lab: {error}", file=sys.stderr)
        return 1


def cmd_formgrader(args: argparse.Namespace) -> int:
    from autograder.formgrader import run_formgrader

    try:
        run_formgrader(args.root, args.out.resolve(), args.port, args.db, args.no_browser,
                       args.allow_root)
    except (FileNotFoundError, PermissionError) as error:
        print(f"formgrader: {error}", file=sys.stderr)
        return 2
    return 0  # not reached: run_formgrader becomes the server


def cmd_cluster_certs(args: argparse.Namespace) -> int:
    from autograder.cluster import make_certificates

    try:
        written = make_certificates(args.dir.resolve(), args.days)
    except FileExistsError as error:
        print(f"cluster-certs: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"{oct(path.stat().st_mode & 0o777)[2:]}  {path}")
    print("ca.pem goes to every machine; scheduler*.pem to the scheduler's, worker*.pem to each "
          "worker's, client*.pem stays here: autograder grade ... --scheduler tls://HOST:8786 "
          f"--tls {args.dir}")
    return 0


def positive(text: str) -> int:
    """An argparse type: a whole number, at least 1 (argparse names the option when it is not)."""
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text} is not at least 1")
    return number


SIZE_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
# A kernel imports torch in its setup cell, which needs between 0.5 and 1 GiB of address space
# (measured under `ulimit -v`): less would fail every notebook, so it is refused at the start.
MIN_MEMORY_BYTES = 1 << 30
# The kernel itself, IPython and torch start a few threads, which the process limit counts.
MIN_PROCESSES = 8


def memory_size(text: str) -> int:
    """An argparse type: a size in bytes, or with a unit K, M, G or T (powers of 1024), at least
    MIN_MEMORY_BYTES (argparse names the option when it is not)."""
    number = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = number[-1:] if number[-1:] in SIZE_UNITS else ""
    try:
        size = int(float(number.removesuffix(unit)) * SIZE_UNITS.get(unit, 1))
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size (a number of bytes, or with K, M, G or T: 3G)") from None
    if size < MIN_MEMORY_BYTES:
        raise argparse.ArgumentTypeError(
            f"{text} is less than the 1G a kernel needs to import torch")
    return size


def _parsed(text: str, convert, what: str):
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def processes_limit(text: str) -> int:
    """An argparse type: a whole number of processes and threads, at least MIN_PROCESSES."""
    number = _parsed(text, int, "a whole number")
    if number < MIN_PROCESSES:
        raise argparse.ArgumentTypeError(
            f"{text} is less than the {MIN_PROCESSES} processes and threads a kernel starts with")
    return number


def seconds(text: str) -> float:
    """An argparse type: a number of seconds, more than 0."""
    number = _parsed(text, float, "a number of seconds")
    if not number > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is not more than 0 seconds")
    return number


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="autograder", description=__doc__.split("\n\n")[0],
                                  formatter_class=argparse.RawDescriptionHelpFormatter,
                                  epilog=__doc__.split("\n\n", 1)[1])
    top.add_argument("--root", type=Path, default=ROOT,
                     help="the course folder (holds solutions/ and nbgrader_config.py)")
    sub = top.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run-solutions",
                         help="execute every solution notebook and report its run time",
                         description="Execute each solutions/<lesson>/<lesson>.ipynb top to bottom "
                                     "in a fresh kernel, one after another, and print a table of "
                                     "run times. Fails when a notebook raises.")
    run.add_argument("lessons", nargs="*", help="only these lessons (default: all)")
    run.set_defaults(func=cmd_run_solutions)

    rel = sub.add_parser("release", help="regenerate notebooks/ from solutions/",
                         description="Regenerate the student versions notebooks/<lesson>/ with "
                                     "`nbgrader generate_assignment`. With --check, write nothing "
                                     "and fail, naming them, when the committed files differ from "
                                     "a fresh generation.")
    rel.add_argument("lessons", nargs="*",
                     help="only these lessons (default: all; --check always checks all)")
    rel.add_argument("--check", action="store_true",
                     help="compare instead of writing; exit 1 on a difference")
    rel.set_defaults(func=cmd_release)

    chk = sub.add_parser("check",
                         help="a student's local check: run the visible tests, count the hidden "
                              "ones",
                         description="Run the setup, answer and test cells of a saved notebook in "
                                     "a fresh kernel (the narrative is skipped, as in grading) and "
                                     "say which test cells' visible tests pass, and how many "
                                     "hidden checks and points only the grader runs. Exit 1 unless "
                                     "every visible test passes. In a notebook: `from "
                                     "autograder.local_check import check; check()`.")
    chk.add_argument("notebook", type=Path,
                     help="the notebook, e.g. notebooks/<lesson>/<lesson>.ipynb")
    chk.add_argument("--timeout", type=int, default=300,
                     help="seconds allowed per cell (default 300)")
    chk.set_defaults(func=cmd_check)

    grd = sub.add_parser("grade",
                         help="grade a class: gradebook, grades.csv, feedback, class report",
                         description="Autograde every notebook of every student in SUBMISSIONS "
                                     "(nbgrader's submitted layout "
                                     "<student_id>/<assignment>/<notebook>.ipynb, or a folder of "
                                     "<student_id>.zip files in that layout) in parallel, record "
                                     "the grades in the gradebook and write OUT/grades.csv "
                                     "(nbgrader's export columns), "
                                     "OUT/feedback/<student>/<assignment>/<notebook>.html and "
                                     "OUT/report.md. Without SUBMISSIONS, build and grade the "
                                     "bundled demo class into var/demo/. Grading again is "
                                     "idempotent: unchanged notebooks reuse OUT/results/.")
    grd.add_argument("submissions", type=Path, nargs="?",
                     help="the submitted folder (default: the demo class)")
    grd.add_argument("--out", type=Path,
                     help="where to write the outputs (default for the demo: var/demo)")
    grd.add_argument("--jobs", type=positive,
                     help="notebooks graded at once (default: one per CPU this process may use, "
                          "counting its affinity and cgroup quota; with --scheduler, as many as "
                          "the cluster's workers have threads)")
    grd.add_argument("--tls", type=Path, metavar="DIR",
                     help="the TLS certificates of `autograder cluster-certs DIR`, for a tls:// "
                          "--scheduler")
    grd.add_argument("--insecure", action="store_true",
                     help="allow a plain tcp:// --scheduler on another machine (unencrypted, "
                          "unauthenticated: anyone who reaches it can join a worker); the summary "
                          "repeats the warning")
    grd.add_argument("--scheduler", metavar="tls://HOST:PORT",
                     help="grade on this running Dask cluster (autograder/README.md, 'Grading on a "
                          "cluster'); default: workers on this machine")
    grd.add_argument("--timeout", type=seconds, default=300.0,
                     help="seconds allowed per notebook before it is stopped and its remaining "
                          "tests score 0 (default %(default)g)")
    grd.add_argument("--cell-timeout", type=seconds, default=Limits.cell_seconds,
                     metavar="SECONDS",
                     help="seconds allowed per answer cell, and per call of the student's code "
                          "from a test, before the kernel is stopped and that check scores 0 "
                          "(default %(default)g)")
    grd.add_argument("--memory", type=memory_size, default=Limits.memory_bytes, metavar="SIZE",
                     help="memory of each student's kernel, all its processes together, e.g. "
                          f"2G or 1536M (default {Limits.memory_bytes >> 30}G; at least 1G)")
    grd.add_argument("--processes", type=processes_limit, default=Limits.processes, metavar="N",
                     help="processes and threads each student's kernel may run at once "
                          f"(default %(default)s; at least {MIN_PROCESSES})")
    grd.add_argument("--db",
                     help="the gradebook's SQLAlchemy URL (default: sqlite:///OUT/gradebook.db)")
    grd.add_argument("--cold-kernels", action="store_true",
                     help="start every student kernel afresh, importing the setup's modules "
                          "itself, instead of forking it from a warm template (slower; for "
                          "comparison)")
    grd.add_argument("--no-sandbox", action="store_true",
                     help="run student code without the bubblewrap sandbox (machines that cannot "
                          "sandbox); every grade is then marked as unsandboxed")
    grd.add_argument("--regrade", action="store_true",
                     help="grade again even notebooks whose result is kept")
    grd.add_argument("--keep-other-code", action="store_true",
                     help="reuse kept results even when they were graded by other grading code "
                          "(after a change that alters no verdict); by default they are graded "
                          "again")
    grd.add_argument("--assignment", action="append", metavar="NAME",
                     help="grade only this assignment (repeat for several; default: every "
                          "assignment in solutions/)")
    grd.add_argument("--times", type=Path,
                     help="an LMS's submission times: a CSV with the columns student, time and "
                          "optionally assignment (file times are never evidence)")
    grd.set_defaults(func=cmd_grade)

    crt = sub.add_parser("cluster-certs",
                         help="the TLS certificates of a Dask cluster only trusted machines can "
                              "join",
                         description="Make a certificate authority for one Dask cluster and sign a "
                                     "key and certificate for its scheduler, its workers and "
                                     "`autograder grade` (the client) into DIR (new, or empty; "
                                     "keys readable by their owner only). The CA's own key is not "
                                     "kept: to trust other machines, make a new DIR. "
                                     "autograder/README.md, 'Grading on a cluster', says which "
                                     "files go where.")
    crt.add_argument("dir", type=Path, help="the folder to write (e.g. ~/.autograder-certs)")
    crt.add_argument("--days", type=positive, default=365,
                     help="how long the certificates are valid (default 365)")
    crt.set_defaults(func=cmd_cluster_certs)

    exp = sub.add_parser("export",
                         help="the gradebook's grades as files an LMS imports (Canvas, Moodle, "
                              "Gradescope, ...)",
                         description="Write the grades of the gradebook of OUT (every graded "
                                     "assignment, earlier runs included) in a format another "
                                     "system imports (--format). Names, emails and LMS user ids "
                                     "come from the gradebook's roster (`nbgrader db student "
                                     "import`; autograder/README.md, 'Exports'). nbgrader's own "
                                     "`nbgrader export --exporter=autograder.exports."
                                     "CanvasExporter` (and the others) writes the same files.",
                         formatter_class=_ExportHelp)
    exp.add_argument("out", type=Path,
                     help="the folder graded into (holds gradebook.db and results/)")
    exp.add_argument("--format", required=True, choices=_ExportFormats(), metavar="FORMAT",
                     help="one of %(choices)s")
    exp.add_argument("--to", type=Path, required=True, metavar="FILE",
                     help="the file to write (for gradescope: a folder)")
    exp.add_argument("--db",
                     help="the gradebook's SQLAlchemy URL (default: sqlite:///OUT/gradebook.db)")
    exp.add_argument("--assignment", action="append", metavar="NAME",
                     help="export only this assignment (repeat for several; default: every graded "
                          "one)")
    exp.set_defaults(func=cmd_export)

    lab = sub.add_parser("lab", help="JupyterLab 4 on notebooks/, with nbgrader's Validate button",
                         description="Start JupyterLab on the student notebooks (notebooks/) with "
                                     "the student's nbgrader tools only: the Validate button (it "
                                     "runs the notebook and reports failing visible tests) and, "
                                     "with --exchange and --course-id, the Assignment List; the "
                                     "instructor's Formgrader, Create Assignment and Course List "
                                     "are off. Further arguments go to `jupyter lab`, e.g. "
                                     "`autograder lab --port 8890 -- --ServerApp.ip=0.0.0.0`. Stop "
                                     "it with Ctrl-C.")
    lab.add_argument("--port", type=int, default=8888,
                     help="the server's port (default %(default)s)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.add_argument("--exchange", type=Path, metavar="DIR",
                     help="nbgrader's exchange folder: adds the Assignment List (Fetch, Submit, "
                          "Fetch Feedback) and opens the lab on the current folder, where "
                          "assignments are fetched to (with --course-id)")
    lab.add_argument("--course-id", metavar="ID",
                     help="the course's id in the exchange (nbgrader's course_id)")
    lab.set_defaults(func=cmd_lab)

    fgr = sub.add_parser("formgrader",
                         help="JupyterLab with nbgrader's formgrader on a graded class (written "
                              "answers)",
                         description="Start JupyterLab with nbgrader's formgrader on the class "
                                     "`autograder grade` wrote into OUT (its autograded notebooks, "
                                     "gradebook and feedback folder; the course folder as "
                                     "nbgrader's root), to score the written answers by hand: "
                                     "Nbgrader > Formgrader, or <server>/formgrader. Writes "
                                     "OUT/nbgrader_config.py. The next `autograder grade` into OUT "
                                     "exports the scores. Stop it with Ctrl-C.")
    fgr.add_argument("out", type=Path,
                     help="the output folder of `autograder grade` (e.g. var/demo)")
    fgr.add_argument("--port", type=int, default=8889,
                     help="the server's port (default %(default)s)")
    fgr.add_argument("--db",
                     help="the gradebook's SQLAlchemy URL (default: sqlite:///OUT/gradebook.db)")
    fgr.add_argument("--no-browser", action="store_true", help="do not open a browser")
    fgr.add_argument("--allow-root", action="store_true",
                     help="run as root (by default, as root it runs as the user who ran sudo, or "
                          "refuses): every kernel and terminal the server starts then runs as root")
    fgr.set_defaults(func=cmd_formgrader)
    return top


def main(argv: list[str] | None = None) -> int:
    use_tool_env()
    top = parser()
    args, extra = top.parse_known_args(argv)
    if extra and args.command != "lab":  # only `lab` passes unknown options on (to jupyter lab)
        top.error(f"unrecognized arguments: {' '.join(extra)}")
    args.jupyter_args = extra
    args.root = args.root.resolve()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
