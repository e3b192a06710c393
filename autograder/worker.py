"""A grading worker: `python -m autograder.worker`, started and fed by the orchestrator.

It reads task folders from stdin, one a line; each holds `task.json` (the arguments of
`grade_notebook`). It writes the `NotebookResult` as `result.json` (under a temporary name, then
renamed, so the orchestrator never reads half a result), or `error.txt` if the engine itself failed.
The engine stops a notebook at its time limit and scores what is left 0; the orchestrator kills
this process's group when even that does not happen within a grace period.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

from autograder.engine import Limits, grade_notebook


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_text(text)
    os.replace(partial, path)


def grade_task(folder: Path) -> None:
    spec = json.loads((folder / "task.json").read_text())
    try:
        result = grade_notebook(Path(spec["source"]), Path(spec["submitted"]) if spec["submitted"] else None,
                                student=spec["student"], scratch=Path(spec["scratch"]), sandbox=spec["sandbox"],
                                limits=Limits(notebook_seconds=spec["timeout"]))
    except Exception as error:  # a bug of the grader, not of the student: reported for this notebook only
        traceback.print_exc()
        _write(folder / "error.txt", f"{type(error).__name__}: {error}")
        return
    _write(folder / "result.json", json.dumps(result.to_dict()))


def main() -> None:
    for line in sys.stdin:
        grade_task(Path(line.strip()))


if __name__ == "__main__":
    main()
