"""The class report: what an instructor can act on, as Markdown with PNG figures.

OUT/report.md and OUT/report/*.png: first, every notebook that is NOT GRADED because the grader
failed on it (these are no grades, and count in no figure); then autograded score distributions per
assignment and per exercise, pass rates per learning objective, the exercises failed most often, the
misconceptions named most often in failed checks (counted across the class), late submissions and
where the submission times came from, and every notebook that was missing or had a problem.
Everything a student controls is escaped (`md`): an id, a file name or a grade id cannot add markup.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from statistics import mean, median
from textwrap import shorten

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from autograder.intake import UNKNOWN  # noqa: E402
from autograder.results import NotebookResult, misconception_counts  # noqa: E402

TOP = 10


def _assignment_scores(results: list[NotebookResult]) -> dict[str, dict[str, tuple[float, float]]]:
    """{assignment: {student: (score, max score)}} summed over the assignment's notebooks."""
    scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    for r in results:
        scores[r.assignment][r.student][0] += r.score
        scores[r.assignment][r.student][1] += r.max_score
    return {a: {s: tuple(v) for s, v in by.items()} for a, by in sorted(scores.items())}


def _exercises(results: list[NotebookResult]) -> dict[tuple[str, str], list]:
    """{(assignment, check grade_id): [CheckResult of each student]} in course order."""
    out: dict[tuple[str, str], list] = defaultdict(list)
    for r in sorted(results, key=lambda r: r.assignment):
        for c in r.checks:
            out[r.assignment, c.grade_id].append(c)
    return out


def _pass_rate(checks: list) -> float:
    return sum(c.status == "passed" for c in checks) / len(checks)


def _figure_scores(scores: dict, path: Path) -> None:
    fig, axes = plt.subplots(1, len(scores), figsize=(3.2 * len(scores), 2.8), squeeze=False,
                             sharey=True)
    for ax, (assignment, by_student) in zip(axes[0], scores.items()):
        percent = [100 * s / m if m else 0 for s, m in by_student.values()]
        ax.hist(percent, bins=[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100.001], color="#4c72b0",
                edgecolor="white")
        ax.set(title=assignment, xlabel="autograded score (%)", xlim=(0, 100))
    axes[0][0].set_ylabel("students")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _figure_bars(labels: list[str], values: list[float], xlabel: str, path: Path,
                 xlim=(0, 100)) -> None:
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(labels) + 1.2))
    ax.barh(range(len(labels)), values, color="#55a868")
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel=xlabel, xlim=xlim)
    ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _objective_rates(objectives: dict[str, dict[str, str]],
                     exercises: dict) -> dict[tuple[str, str], tuple]:
    """{(assignment, objective id): (its text, pass rate, checks counted)}."""
    grouped: dict[tuple[str, str], list] = defaultdict(list)
    for (assignment, _), checks in exercises.items():
        for c in checks:
            grouped[assignment, c.objective or "?"].append(c)
    return {k: (objectives.get(k[0], {}).get(k[1], ""), _pass_rate(v), len(v))
            for k, v in sorted(grouped.items())}


def md(text: object) -> str:
    """Text a student controls (ids, file names, their grade ids quoted in problems), safe in
    Markdown: one line (so no heading or list of its own: it always follows our text on its line),
    no inline markup, no HTML (a forged section, or an opened comment hiding the rest, would rewrite
    the report)."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # An underscore inside a word (01_fixture) cannot start emphasis in CommonMark: left as it
    # reads.
    inside = lambda i: (0 < i < len(text) - 1  # noqa: E731
                        and text[i - 1].isalnum() and text[i + 1].isalnum())
    return "".join("\\" + ch if ch in "\\`*[]|~" or (ch == "_" and not inside(i)) else ch
                   for i, ch in enumerate(text))


def write_report(results: list[NotebookResult], out: Path, objectives: dict[str, dict[str, str]], *,
                 intake_problems: list[str] = (), timestamps: dict | None = None,
                 duedates: dict | None = None, time_sources: dict | None = None) -> Path:
    """Write OUT/report.md and its figures; returns the report's path. `objectives`: {assignment:
    {id: text}}; `timestamps` and `duedates` as the gradebook holds them; `time_sources`: where each
    time came from."""
    figures = out / "report"
    figures.mkdir(parents=True, exist_ok=True)
    # a grader failure is no grade: in no figure
    graded = [r for r in results if r.grader_error is None]
    exercises = _exercises(graded)
    sections = [
        _summary(results),
        _scores_section(graded, figures),
        _exercises_section(exercises, figures),
        _objectives_section(objectives, exercises, figures),
        _failed_section(exercises),
        _misconceptions_section(graded, figures),
        _late_section(results, timestamps or {}, duedates or {}, time_sources or {}),
        _times_section(results, time_sources or {}),
        _problems_section(results, intake_problems),
    ]
    path = out / "report.md"
    path.write_text("\n".join(line for section in sections for line in section) + "\n")
    return path


def _summary(results: list[NotebookResult]) -> list[str]:
    students = {r.student for r in results}
    lines = ["# Class report", "", *grader_errors(results),
             f"{len(students)} students, {len({r.assignment for r in results})} assignments, "
             f"{len(results)} notebooks graded ({datetime.now():%Y-%m-%d %H:%M}). Scores are "
             "autograded points; written answers are graded by hand.", ""]
    unsandboxed = {f"{r.student}/{r.assignment}" for r in results if not r.sandboxed}
    if unsandboxed:
        lines += [f"**Graded WITHOUT the sandbox** (opt-out): {len(unsandboxed)} notebooks; these "
                  "grades are marked as unsandboxed in their feedback.", ""]
    return lines


def grader_errors(results: list[NotebookResult]) -> list[str]:
    """The notebooks the grader failed on (not graded: no score recorded), first in the report and
    the command's summary; and how many a retry got past."""
    failed = [r for r in results if r.grader_error is not None]
    retried = sum(1 for r in results if r.retried and r.grader_error is None)
    lines = []
    if failed:
        lines += [f"**NOT GRADED (grader error): {len(failed)} notebook(s).** The grader failed on "
                  "each, on a fresh kernel template and on a cold kernel too; no autograded score "
                  "is recorded (the gradebook flags them as needing a grade, grades.csv leaves "
                  "their score empty). Grade them again once the cause is fixed.", ""]
        lines += [f"- {md(r.student)} / {r.assignment} / {r.notebook}: {md(r.grader_error)}"
                  for r in failed] + [""]
    if retried:
        lines += [f"The grader failed on {retried} notebook(s) at first and graded them on a "
                  "retry; their grades count (the failures are listed with the problems "
                  "below).", ""]
    return lines


def _scores_section(results: list[NotebookResult], figures: Path) -> list[str]:
    scores = _assignment_scores(results)
    lines = ["## Scores per assignment", "", "![score distributions](report/scores.png)", "",
             "| assignment | max | mean | median | min | max reached | full marks | 0 points |",
             "|---|---|---|---|---|---|---|---|"]
    for assignment, by_student in scores.items():
        values = [s for s, _ in by_student.values()]
        top = max(m for _, m in by_student.values())
        lines.append(f"| {assignment} | {top:g} | {mean(values):.2f} | {median(values):g} | "
                     f"{min(values):g} | {max(values):g} | {sum(v == top for v in values)} | "
                     f"{sum(v == 0 for v in values)} |")
    if scores:
        _figure_scores(scores, figures / "scores.png")
    return lines


def _exercises_section(exercises: dict, figures: Path) -> list[str]:
    lines = ["", "## Exercises", "", "![pass rate per exercise](report/exercises.png)", "",
             "| assignment | check | points | pass rate | mean points |", "|---|---|---|---|---|"]
    for (assignment, grade_id), checks in exercises.items():
        lines.append(f"| {assignment} | {grade_id} | {checks[0].max_points:g} | "
                     f"{100 * _pass_rate(checks):.0f}% | {mean(c.points for c in checks):.2f} |")
    if exercises:
        _figure_bars([f"{a}: {g}" for a, g in exercises],
                     [100 * _pass_rate(c) for c in exercises.values()],
                     "students passing (%)", figures / "exercises.png")
    return lines


def _objectives_section(objectives: dict, exercises: dict, figures: Path) -> list[str]:
    rates = _objective_rates(objectives, exercises)
    lines = ["", "## Learning objectives", "", "![pass rate per objective](report/objectives.png)",
             "", "| assignment | objective | pass rate | checks counted |", "|---|---|---|---|"]
    lines += [f"| {a} | {o}: {text} | {100 * rate:.0f}% | {n} |"
              for (a, o), (text, rate, n) in rates.items()]
    if rates:
        _figure_bars([f"{a} {o}" for a, o in rates], [100 * r for _, r, _ in rates.values()],
                     "checks passed (%)", figures / "objectives.png")
    return lines


def _failed_section(exercises: dict) -> list[str]:
    failed = sorted(exercises.items(), key=lambda kv: (_pass_rate(kv[1]), kv[0]))[:TOP]
    lines = ["", "## Most often failed", "", "| assignment | check | students failing |",
             "|---|---|---|"]
    return lines + [f"| {a} | {g} | {sum(c.status != 'passed' for c in cs)} of {len(cs)} |"
                    for (a, g), cs in failed
                    if any(c.status != "passed" for c in cs)]


def _misconceptions_section(results: list[NotebookResult], figures: Path) -> list[str]:
    counts = misconception_counts(results)
    lines = ["", "## Misconceptions named in failed checks", ""]
    if not counts:
        return lines + ["No failed check named a misconception."]
    lines += ["![misconceptions](report/misconceptions.png)", "",
              "| students | assignment | check | misconception |", "|---|---|---|---|"]
    lines += [f"| {n} | {a} | {g} | {md(m)} |" for (a, g, m), n in counts.most_common()]
    common = counts.most_common(TOP)
    _figure_bars([f"{shorten(m, 55, placeholder='...')} ({a[:2]}: {g})" for (a, g, m), _ in common],
                 [n for _, n in common], "students", figures / "misconceptions.png",
                 xlim=(0, max(n for _, n in common) + 0.5))
    return lines


def _handed_in(results: list[NotebookResult]) -> set[tuple[str, str]]:
    """(student, assignment) with a notebook handed in: one not submitted is never late, nor
    timed."""
    return {(r.student, r.assignment) for r in results if r.submitted}


def _late_section(results: list[NotebookResult], timestamps: dict, duedates: dict,
                  time_sources: dict) -> list[str]:
    handed_in = _handed_in(results)
    late = [(s, a, t) for (s, a), t in sorted(timestamps.items())
            if (s, a) in handed_in and t and duedates.get(a) and t > duedates[a]]
    lines = ["", "## Late submissions", ""]
    lines += [f"- {md(s)}: {a} submitted {t:%Y-%m-%d %H:%M} UTC, "
              f"{(t - duedates[a]).total_seconds() / 3600:.1f} h after the due "
              "date" for s, a, t in late] or ["None."]
    unknown = sum(1 for key in handed_in if time_sources.get(key) == UNKNOWN)
    if unknown:
        lines += ["",
                  f"The submission times of {unknown} handed-in assignment(s) are unknown (no "
                  "timestamp.txt from nbgrader collect, no --times file): none of them can be "
                  "late."]
    return lines


def _times_section(results: list[NotebookResult], time_sources: dict) -> list[str]:
    """Where the submission times came from: lateness is only as good as this evidence."""
    handed_in = _handed_in(results)
    counts = Counter(source for key, source in time_sources.items() if key in handed_in)
    lines = ["", "## Where the submission times come from", ""]
    if not counts:
        return lines + ["No submissions."]
    return lines + [f"- {n} submission(s): {md(source)}" for source, n in sorted(counts.items())]


def _problems_section(results: list[NotebookResult], intake_problems: list[str]) -> list[str]:
    problems = [f"- {md(r.student)} / {r.assignment} / {r.notebook}: {md(p)}" for r in results
                for p in r.problems  # already bounded: every result passes pipeline.keep
                + [f"graded again after a grader error: {e}" for e in r.retried]]
    problems += [f"- submissions: {md(p)}" for p in intake_problems]
    return ["", "## Missing notebooks and problems", ""] + (
        problems or ["None: every notebook of every student was submitted and graded normally."])
