"""Submissions made from a source notebook, for the engine's and the catalogue's tests."""

from __future__ import annotations

import copy
import hashlib
import http.server
import json
import multiprocessing
import threading
from pathlib import Path

import nbformat

from autograder import intake
from autograder.engine import grade_notebook
from autograder.results import NotebookResult
from autograder.tests.catalogue.entries import Entry, target_of
from mlcourse.lessons import parse_lesson, read_lesson

FIXTURE = (Path(__file__).parents[1] / "fixtures" / "engine" / "solutions" / "00_fixture"
           / "00_fixture.ipynb")
UNANSWERED = "# YOUR CODE HERE\nraise NotImplementedError()"


def student_copy(source: Path, answers: dict[str, str] | None = None,
                 blank: bool = False) -> nbformat.NotebookNode:
    """The notebook as released (hidden tests removed) with the solution's answers, `answers`
    swapped in by grade_id, or every answer left unanswered when `blank`."""
    notebook = copy.deepcopy(nbformat.read(source, as_version=4))
    answers = answers or {}
    for cell, meta in zip(notebook.cells, parse_lesson(notebook, source.stem).cells):
        if meta.kind == "test":
            cell.source = meta.visible.rstrip()
        elif meta.kind == "answer":
            cell.source = answers.get(meta.grade_id, UNANSWERED if blank else cell.source)
    return notebook


def grade_file(source: Path, path: Path | None, **kwargs) -> NotebookResult:
    """Grade the file at `path` as `autograder grade` does: read by intake (a refused file is
    recorded with its reason), then graded by the engine."""
    try:
        content = None if path is None else intake.read_file(path.parent, (path.name,))
    except intake.IntakeError as error:
        lesson = read_lesson(source)
        return NotebookResult.blank(lesson, kwargs["student"],
                                    source.parent.name).not_graded(str(error),
                                                                   f"not graded: {error}")
    return grade_notebook(source, content, **kwargs)


def fingerprint(folders: list[Path]) -> dict[str, str]:
    """sha256 of every file below `folders` (the instructor's course, the gradebook, other
    students)."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


def serve(text: str) -> http.server.HTTPServer:
    """A web server on this machine that hands the solution's code to whoever asks."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def placeholders(source: Path, **paths) -> dict:
    """What fills an entry's placeholders for the lesson at `source` (see entries.py), `paths`
    included."""
    lesson = read_lesson(source)
    target = target_of(lesson)
    solution = lesson.cell(target).source
    visible = sum(c.visible.count(f"{target}(") for c in lesson.tests)
    return dict(name=target, solution=solution, visible_calls=visible, solution_file=source,
                **paths)


def submit(entry: Entry, folder: Path, source: Path, target: str, fill: dict) -> Path:
    """The entry's submission, written to `folder`; the submitted notebook's path."""
    path = folder / source.name
    folder.mkdir(parents=True)
    if entry.symlink:
        path.symlink_to(source)
    elif entry.raw is not None:
        path.write_bytes(entry.raw)
    else:
        answers = {target: entry.answer.format(**fill)} if entry.answer is not None else {}
        notebook = student_copy(source, answers)
        if entry.edit:
            entry.edit(notebook, target)
        # as a student's tool might: no validation, ids repeated
        write(json.dumps(notebook, indent=1), path)
    for name, text in entry.files.items():
        (folder / name).write_text(text.format(**fill))
    return path


def write(notebook, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook) if isinstance(notebook, dict) else notebook)
    return path


_JOB = None


def _run(index: int):
    return _JOB(index)


def in_processes(job, count: int, processes: int = 2) -> list:
    """[job(0), ..., job(count - 1)] computed by `processes` forked processes (results must
    pickle)."""
    global _JOB
    _JOB = job
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return pool.map(_run, range(count), chunksize=1)


TABLE = Path(__file__).parents[2] / "catalogue.md"


def update_table(section: str, text: str) -> None:
    """Replace one generated section of autograder/catalogue.md (between its two markers) with
    `text`."""
    begin, end = f"<!-- {section} -->", f"<!-- end of {section} -->"
    old = TABLE.read_text() if TABLE.exists() else ""
    before, _, rest = old.partition(begin)
    after = rest.partition(end)[2] if rest else ""
    TABLE.write_text(f"{before.rstrip()}\n\n{begin}\n{text.rstrip()}\n{end}\n"
                     f"{after.lstrip()}".lstrip())
