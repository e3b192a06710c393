"""What a lesson notebook is made of, read from nbgrader's cell metadata.

Conventions every lesson follows (solutions/<lesson>/<lesson>.ipynb):
- the first markdown cell lists the learning objectives as lines `- **O1**: ...`;
- the code cell with grade_id `setup` holds the imports; answer cells (nbgrader `solution`) and
  test cells (nbgrader `grade`, locked, with points) depend only on it and on earlier answers;
- each test cell carries the tag `objective:<id>` of the objective it checks.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

OBJECTIVE_LINE = re.compile(r"^\s*[-*]\s*\*\*(O\d+)\*\*:?\s*(.+?)\s*$", re.MULTILINE)


def lessons(root: Path) -> list[str]:
    """The assignments in `solutions/`, in course order (their folder names start with a number)."""
    return sorted(p.parent.name for p in (root / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name)


def read_lesson(root: Path, lesson: str) -> nbformat.NotebookNode:
    return nbformat.read(root / "solutions" / lesson / f"{lesson}.ipynb", as_version=4)


def nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def objectives(notebook) -> dict[str, str]:
    """{"O1": "state ...", ...} from the lesson's first markdown cell."""
    first = next((c for c in notebook.cells if c.cell_type == "markdown"), None)
    return dict(OBJECTIVE_LINE.findall(first.source)) if first else {}


def objective_of(cell) -> str | None:
    """The objective a test cell checks, from its `objective:<id>` tag."""
    return next((t.split(":", 1)[1] for t in cell.metadata.get("tags", []) if t.startswith("objective:")), None)


def is_setup(cell) -> bool:
    return cell.cell_type == "code" and nbgrader(cell).get("grade_id") == "setup"


def is_answer(cell) -> bool:
    return nbgrader(cell).get("solution", False)


def is_test(cell) -> bool:
    return cell.cell_type == "code" and nbgrader(cell).get("grade", False) and not is_answer(cell)
