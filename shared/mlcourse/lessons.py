"""The lesson format, read in one place: what each cell of a lesson notebook is for.

A lesson is an nbgrader notebook, `solutions/<name>/<name>.ipynb`. By its nbgrader metadata each
cell is one of:

- `setup`: the read-only code cell with grade id `setup` (imports, seeds);
- `answer`: a code cell the student writes (`solution: true`; its grade id is the name it defines);
- `written`: a markdown answer graded by hand (`solution: true`, `grade: true`, points);
- `test`: a locked code cell with points (`grade: true`), tagged `objective:O<n>`; a visible part,
  then a hidden part between `### BEGIN HIDDEN TESTS` and `### END HIDDEN TESTS`;
- `narrative`: every other cell (explanations, figures, read-only examples).

The first markdown cell holds the title (`# ...`), the learning objectives (lines `- **O1**: ...`)
and the prerequisites (`**Prerequisites.** ...`). Answer and test cells depend only on the setup
and on earlier answers, never on the narrative, so a grader may run just those.

The grader, the lesson tests, the demo class and the reader read lessons through `read_lesson`;
a submitted notebook (untrusted JSON) is read through `submitted_cells`, which never raises.
Nothing here knows any answer: it reads structure, not content.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
# nbgrader's keys that decide what a cell is and what it is worth (a student must not change them).
GRADED_KEYS = ("grade", "solution", "locked", "points")

Kind = Literal["setup", "answer", "written", "test", "narrative"]

OBJECTIVE_LINE = re.compile(r"^\s*[-*]\s*\*\*(O\d+)\*\*:?\s*(.+?)\s*$", re.MULTILINE)
PREREQUISITES = re.compile(r"^\W*prerequisites?\W*?[:.]\**\s*", re.IGNORECASE)
SOLUTION_MARKER = re.compile(r"^\s*#+\s*(BEGIN|END) SOLUTION\s*$")


@dataclass(frozen=True)
class Cell:
    """One cell of a lesson, as the course's conventions define it."""

    kind: Kind
    cell_type: str  # "code", "markdown" or "raw"
    source: str
    grade_id: str | None = None
    points: float = 0.0
    objective: str | None = None  # tests: the `objective:<id>` tag
    graded: dict = field(default_factory=dict)  # nbgrader's GRADED_KEYS as the source sets them

    @property
    def locked(self) -> bool:
        return bool(self.graded.get("locked"))

    @property
    def visible(self) -> str:
        """A test's visible part (what the student sees); the whole source for other cells."""
        return split_hidden(self.source)[0] if self.kind == "test" else self.source

    @property
    def hidden(self) -> str:
        return split_hidden(self.source)[1] if self.kind == "test" else ""

    @property
    def defines(self) -> set[str]:
        """The names an answer cell defines (its functions, classes and assigned variables)."""
        return names_defined(self.source) if self.cell_type == "code" else set()


@dataclass(frozen=True)
class Lesson:
    """A lesson notebook read into its parts; `cells` are the notebook's cells, in order."""

    name: str
    cells: tuple[Cell, ...]

    @property
    def setup(self) -> str:
        return next((c.source for c in self.cells if c.kind == "setup"), "")

    @property
    def answers(self) -> list[Cell]:
        """The code answers, in notebook order."""
        return [c for c in self.cells if c.kind == "answer"]

    @property
    def written(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == "written"]

    @property
    def tests(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == "test"]

    @property
    def steps(self) -> list[Cell]:
        """What grading runs, in order: the setup, the code answers and the tests (never the
        narrative)."""
        return [c for c in self.cells if c.kind in ("setup", "answer", "test")]

    @property
    def answer_names(self) -> set[str]:
        """Every name the answer cells define."""
        return set().union(*(c.defines for c in self.answers))

    def cell(self, grade_id: str) -> Cell:
        found = [c for c in self.cells if c.grade_id == grade_id]
        if not found:
            raise KeyError(f"{self.name} has no cell with grade id {grade_id!r}")
        return found[0]

    @property
    def _intro(self) -> str:
        return next((c.source for c in self.cells if c.cell_type == "markdown"), "")

    @property
    def title(self) -> str:
        heading = re.search(r"^#\s+(.+?)\s*$", self._intro, re.MULTILINE)
        return heading.group(1) if heading else self.name

    @property
    def objectives(self) -> dict[str, str]:
        """{"O1": "write ...", ...} from the first markdown cell."""
        return dict(OBJECTIVE_LINE.findall(self._intro))

    @property
    def prerequisites(self) -> str:
        """The markdown after "Prerequisites." in the first markdown cell, up to a blank line or
        heading."""
        lines = self._intro.splitlines()
        start = next((i for i, line in enumerate(lines) if PREREQUISITES.match(line)), None)
        if start is None:
            return ""
        found = [PREREQUISITES.sub("", lines[start])]
        for line in lines[start + 1:]:
            if not line.strip() or line.lstrip().startswith("#"):
                break
            found.append(line)
        return "\n".join(found).strip()


def _kind(cell_type: str, meta: dict) -> Kind:
    if cell_type == "code" and meta.get("grade_id") == "setup":
        return "setup"
    if meta.get("solution"):
        return "answer" if cell_type == "code" else "written" if meta.get("grade") else "narrative"
    if cell_type == "code" and meta.get("grade"):
        return "test"
    return "narrative"


def _text(source: Any) -> str:
    """A cell's source as one string (notebook JSON may hold a list of lines)."""
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def _objective(tags: Any) -> str | None:
    tags = tags if isinstance(tags, list) else []
    return next((t.split(":", 1)[1] for t in tags
                 if isinstance(t, str) and t.startswith("objective:")), None)


def parse_lesson(notebook: dict, name: str) -> Lesson:
    """A lesson from notebook JSON (a dict or an nbformat node) written by the course's authors."""
    cells = []
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        kind = _kind(cell["cell_type"], meta)
        cells.append(Cell(kind, cell["cell_type"], _text(cell.get("source", "")),
                          meta.get("grade_id"), float(meta.get("points", 0) or 0),
                          _objective(cell.get("metadata", {}).get("tags")),
                          {k: meta[k] for k in GRADED_KEYS if k in meta}))
    return Lesson(name, tuple(cells))


@lru_cache(maxsize=64)
def _read_cached(path: Path, mtime_ns: int, size: int) -> Lesson:
    import nbformat  # here: `import mlcourse` stays cheap, and most kernels never read a lesson

    return parse_lesson(nbformat.read(path, as_version=4), path.stem)


def read_lesson(path: Path) -> Lesson:
    """The lesson notebook at `path`, read once while the file is unchanged."""
    path = Path(path).resolve()
    info = path.stat()
    return _read_cached(path, info.st_mtime_ns, info.st_size)


def lesson_names(root: Path) -> list[str]:
    """The lessons of the course folder `root`, in course order (their folder names start with a
    number)."""
    return sorted(p.parent.name for p in (Path(root) / "solutions").glob("*/*.ipynb")
                  if p.stem == p.parent.name)


def lesson_path(root: Path, name: str) -> Path:
    return Path(root) / "solutions" / name / f"{name}.ipynb"


def split_hidden(source: str) -> tuple[str, str]:
    """(visible part, hidden part) of a test cell; both keep every line's number (tracebacks point
    right)."""
    visible, hidden, inside = [], [], False
    for line in source.splitlines():
        marker = line.strip()
        if marker == HIDDEN_BEGIN:
            inside = True
        elif marker == HIDDEN_END:
            inside = False
        (hidden if inside else visible).append("" if marker in (HIDDEN_BEGIN, HIDDEN_END) else line)
        (visible if inside else hidden).append("")
    return "\n".join(visible), "\n".join(hidden)


def solution_text(source: str) -> str:
    """An answer cell's solution without nbgrader's BEGIN/END SOLUTION marker lines."""
    return "\n".join(line for line in source.splitlines() if not SOLUTION_MARKER.match(line))


def names_defined(source: str) -> set[str]:
    """Names a cell binds at its top level: functions, classes and assigned variables."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def modules_imported(source: str) -> list[str]:
    """The modules a cell imports (`import a.b` gives a and a.b), in order; [] if it is not
    Python."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module] if (
            isinstance(node, ast.ImportFrom) and node.module and not node.level) else []
        for name in names:
            parts = name.split(".")
            found += [".".join(parts[: i + 1]) for i in range(len(parts))]
    return list(dict.fromkeys(found))


def names_read(source: str) -> set[str]:
    """Global names `source` reads and does not bind itself (builtins left out); SyntaxError if it
    is not Python."""
    loaded, bound = set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
    return loaded - bound - set(dir(builtins))


# --- submitted notebooks: untrusted JSON ----------------------------------------------------------

@dataclass(frozen=True)
class SubmittedCell:
    """A cell of a submitted notebook, read without trusting its shape: absent or malformed parts
    are empty."""

    cell_type: str | None
    source: str
    grade_id: str | None
    graded: dict  # the student's copy of GRADED_KEYS (they may have changed it)


def submitted_cells(notebook: Any) -> list[SubmittedCell]:
    """The cells of a submitted notebook (parsed JSON of any shape); never raises."""
    cells = notebook.get("cells", []) if isinstance(notebook, dict) else []
    out = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict):
            continue
        metadata = cell.get("metadata")
        meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
        meta = meta if isinstance(meta, dict) else {}
        grade_id = meta.get("grade_id")
        cell_type = cell.get("cell_type")
        out.append(SubmittedCell(cell_type if isinstance(cell_type, str) else None,
                                 _text(cell.get("source", "")),
                                 grade_id if isinstance(grade_id, str) else None,
                                 {k: meta[k] for k in GRADED_KEYS if k in meta}))
    return out


# --- kept answers: the lesson's typical mistakes and differently written correct answers ----------

KEPT_ANSWERS = "kept_answers.py"


@dataclass(frozen=True)
class Wrong:
    """A typical wrong answer: with `source` in the answer cell `answer_id`, the test `test_id`
    must fail and name a misconception containing `phrase`."""

    answer_id: str
    test_id: str
    phrase: str
    source: str


@dataclass(frozen=True)
class KeptAnswers:
    wrong: list[Wrong]
    # (answer_id, a correct answer written differently from the solution)
    alternative: list[tuple[str, str]]


def kept_answers(root: Path, name: str) -> KeptAnswers:
    """`solutions/<name>/kept_answers.py`, or none when the lesson has no such file. It defines
    WRONG, a list of (answer_id, test_id, phrase, source), and ALTERNATIVE, {answer_id: source or
    [sources]}.

    nbgrader leaves the file out of the student version (nbgrader_config.py ignores it)."""
    import runpy

    path = Path(root) / "solutions" / name / KEPT_ANSWERS
    found = runpy.run_path(str(path)) if path.exists() else {}
    alternative = [(answer_id, source)
                   for answer_id, sources in found.get("ALTERNATIVE", {}).items()
                   for source in ([sources] if isinstance(sources, str) else sources)]
    return KeptAnswers([Wrong(*entry) for entry in found.get("WRONG", [])], alternative)
