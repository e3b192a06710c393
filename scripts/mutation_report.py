"""The mutation pass of issue 22 for every lesson (or those named): per lesson, the mutants of the
solutions rejected out of those that change the output (stillborn ones apart), and the diagnosis
rate (the share of rejected mutants whose feedback names or locates the change; tests/mutants.py
says how). Lists the stand-ins that earned a point, the mutants that survived, the equivalent ones
and the feedback of those not diagnosed. Writes build/mutation_report.md.

    .venv/bin/python scripts/mutation_report.py [01_maximum_likelihood ...]
"""

import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import mutants  # noqa: E402


def main(lessons: list[str]) -> str:
    warnings.filterwarnings("ignore")
    rows = ["| lesson | rejected / non-equivalent | equivalent | stillborn | diagnosed | "
            "diagnosis rate |", "|---|---|---|---|---|---|"]
    notes, total = [], [0, 0, 0, 0, 0]
    for lesson in lessons:
        counts = [0, 0, 0, 0, 0]  # rejected, non-equivalent, equivalent, stillborn, diagnosed
        for answer in mutants.function_answers(lesson):
            result = mutants.mutation_pass(answer)
            counts[0] += len(result.rejected)
            counts[1] += len(result.rejected) + len(result.survivors)
            counts[2] += len(result.equivalent)
            counts[3] += len(result.stillborn)
            counts[4] += len(result.diagnosed)
            notes += [f"- stand-in earned a point: {lesson} `{answer.name}`, {name}, passed "
                      f"`{test}`" for name, test in result.free_points]
            notes += [f"- mutant survived: {lesson} `{answer.name}`, {name}"
                      for name in result.survivors]
            notes += [f"- equivalent: {lesson} `{answer.name}`, {name}"
                      for name in result.equivalent]
            notes += [f"- stillborn: {lesson} `{answer.name}`, {name}"
                      for name in result.stillborn]
            notes += [f"- not diagnosed: {lesson} `{answer.name}`, {name}: "
                      f"{next(m for m in result.mutants[name].failures.values() if m)!r}"
                      for name in result.rejected if name not in result.diagnosed]
        run = mutants.lesson_run(lesson)
        notes += [f"- stand-in earned a point: {lesson} `{answer.name} = {value}`"
                  for answer in mutants.value_answers(lesson) for value in mutants.VALUE_STAND_INS
                  if not run.run(answer, f"{answer.name} = {value}").rejected]
        total = [t + c for t, c in zip(total, counts)]
        rows.append(_row(lesson, counts))
    rows.append(_row("all", total))
    report = "\n".join(["# Mutation pass", "", *rows, "", *notes]) + "\n"
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "mutation_report.md").write_text(report)
    return report


def _row(name: str, counts: list[int]) -> str:
    rejected, changed, equivalent, stillborn, diagnosed = counts
    rate = f"{diagnosed / rejected:.0%}" if rejected else "-"
    return (f"| {name} | {rejected} / {changed} | {equivalent} | {stillborn} | {diagnosed} | "
            f"{rate} |")


if __name__ == "__main__":
    print(main(sys.argv[1:] or mutants.lesson_names(mutants.ROOT)))
