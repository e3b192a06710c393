"""Compare two graded class folders: the score columns of grades.csv and every check's feedback.

    python scripts/compare_grading.py OUT_A OUT_B

Used to show that a change of the grader changes no grade and no message: grade the same
SUBMISSIONS with the old and the new grader into OUT_A and OUT_B, then run this. It prints
each difference and exits 1 if there is one.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from autograder.results import ResultStore

SCORES = ("assignment", "student_id", "timestamp", "raw_score", "late_submission_penalty", "score",
          "max_score")


def scores(out: Path) -> list[tuple]:
    with open(out / "grades.csv", newline="") as file:
        return sorted(tuple(row[k] for k in SCORES) for row in csv.DictReader(file))


def messages(out: Path) -> dict[str, tuple]:
    """{student/assignment/notebook: ((check, points, status, message, misconception), ...),
    problems}."""
    found = {}
    for (student, assignment, notebook), result in ResultStore(out / "results").every().items():
        checks = tuple((c.grade_id, c.points, c.status, c.message, c.misconception)
                       for c in result.checks)
        found[f"{student}/{assignment}/{notebook}"] = (checks, tuple(result.problems))
    return found


def main(a: Path, b: Path) -> int:
    differences = [f"grades.csv: {row} only in {a}"
                   for row in sorted(set(scores(a)) - set(scores(b)))]
    differences += [f"grades.csv: {row} only in {b}"
                    for row in sorted(set(scores(b)) - set(scores(a)))]
    left, right = messages(a), messages(b)
    for name in sorted(left.keys() | right.keys()):
        if left.get(name) != right.get(name):
            differences.append(f"{name}: {left.get(name)} != {right.get(name)}")
    for line in differences:
        print(line)
    print(f"{len(scores(a))} grade rows and {len(left)} results compared: "
          f"{len(differences)} difference(s)")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
