"""One grading worker: `python -m autograder.worker TASK.json RESULT.json`.

Grades one notebook with the engine and writes its `NotebookResult` as JSON (written to a temporary
name, then renamed, so the orchestrator never reads half a result). The engine stops the notebook at
the time limit and scores what is left 0; the orchestrator kills this process's group when even
that does not happen within a grace period.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(task_file: str, result_file: str) -> None:
    from autograder.engine import Limits, grade_notebook

    spec = json.loads(Path(task_file).read_text())
    submitted = Path(spec["submitted"]) if spec["submitted"] else None
    result = grade_notebook(Path(spec["source"]), submitted, student=spec["student"], scratch=Path(spec["scratch"]),
                            sandbox=spec["sandbox"], limits=Limits(notebook_seconds=spec["timeout"]))
    partial = Path(result_file + ".part")
    partial.write_text(json.dumps(result.to_dict()))
    os.replace(partial, result_file)


if __name__ == "__main__":
    main(*sys.argv[1:3])
