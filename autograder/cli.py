"""`autograder`: the instructor's and the student's command line.

    autograder run-solutions        execute every solution notebook, report each one's run time
    autograder release [--check]    regenerate notebooks/ from solutions/ (or check it is current)
    autograder check NOTEBOOK       a student's honest local check: visible tests run, hidden ones counted
    autograder grade [SUBMISSIONS]  grade a class (no SUBMISSIONS: the bundled demo class)
    autograder lab                  JupyterLab 4 on notebooks/, with nbgrader's validate
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.environment import ROOT, use_tool_env


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
            print(f"{len(differ)} file(s) in notebooks/ differ from what nbgrader generates from solutions/; "
                  "run `autograder release` and commit notebooks/", file=sys.stderr)
            return 1
        print("notebooks/ is what nbgrader generates from solutions/")
        return 0
    written = release(args.root, args.lessons or None)
    print(f"released {len(written)} lesson(s) into {args.root / 'notebooks'}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="autograder", description=__doc__.split("\n\n")[0],
                                  formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    top.add_argument("--root", type=Path, default=ROOT, help="the course folder (holds solutions/ and nbgrader_config.py)")
    sub = top.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run-solutions", help="execute every solution notebook and report its run time",
                         description="Execute each solutions/<lesson>/<lesson>.ipynb top to bottom in a fresh "
                                     "kernel, one after another, and print a table of run times. Fails when a "
                                     "notebook raises.")
    run.add_argument("lessons", nargs="*", help="only these lessons (default: all)")
    run.set_defaults(func=cmd_run_solutions)

    rel = sub.add_parser("release", help="regenerate notebooks/ from solutions/",
                         description="Regenerate the student versions notebooks/<lesson>/ with "
                                     "`nbgrader generate_assignment`. With --check, write nothing and fail, naming "
                                     "them, when the committed files differ from a fresh generation.")
    rel.add_argument("lessons", nargs="*", help="only these lessons (default: all; --check always checks all)")
    rel.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a difference")
    rel.set_defaults(func=cmd_release)
    return top


def main(argv: list[str] | None = None) -> int:
    use_tool_env()
    args = parser().parse_args(argv)
    args.root = args.root.resolve()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
