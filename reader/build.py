"""Build the reader's edition: the course as a static website, from the lessons in `solutions/`.

    python -m reader.build [--root .] [--out build/site] [--jobs N]

Each lesson is executed fresh (nbclient) with its hidden tests already removed, then rendered with
nbconvert's HTML exporter through the `reader` template (nbconvert's `lab` template plus
navigation). Every answer cell shows what the student gets (nbgrader's stub) and keeps the worked
solution behind a <details> reveal. MathJax comes from the `jupyter-server-mathjax` package and is
copied into the site, so the pages need no network: any static file server (or a folder) will do.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import jupyter_server_mathjax
import nbformat
from markupsafe import Markup
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter
from nbconvert.filters import markdown2html
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

from mlcourse.lessons import lesson_names, lesson_path, parse_lesson, read_lesson, solution_text
from mlcourse.notebooks import execute_notebook

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = Path(__file__).parent / "templates"
ASSETS = Path(__file__).parent / "assets"
MATHJAX = Path(jupyter_server_mathjax.__file__).parent / "static"
CELL_TIMEOUT = 120  # seconds; a lesson runs in under 60 s in all
# ipykernel picks matplotlib's inline backend only when MPLBACKEND is unset; a caller's
# MPLBACKEND=Agg (as test suites set) would silently drop every figure from the site.
KERNEL_ENV = {**os.environ, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


@dataclass
class Page:
    """One lesson's page of the site: what the course map and the navigation show of it."""

    name: str  # the folder name, e.g. "01_maximum_likelihood"
    title: str
    objectives: dict[str, str]
    prerequisites: str  # markdown; "" when the lesson states none
    previous: Page | None = field(default=None, repr=False)
    next: Page | None = field(default=None, repr=False)

    @property
    def page(self) -> str:
        return f"{self.name}.html"

    @property
    def student_notebook(self) -> str:
        return f"notebooks/{self.name}/{self.name}.ipynb"


def describe(root: Path, name: str) -> Page:
    lesson = read_lesson(lesson_path(root, name))
    return Page(name, lesson.title, lesson.objectives, lesson.prerequisites)


def execute(path: Path) -> str:
    """The lesson at `path`, hidden tests removed, executed top to bottom (as notebook JSON).

    Returns a string so that it crosses process boundaries cheaply."""
    notebook = nbformat.read(path, as_version=4)
    ClearHiddenTests().preprocess(notebook, {})
    try:
        execute_notebook(notebook, path.parent, timeout=CELL_TIMEOUT, env=KERNEL_ENV)
    except CellExecutionError as error:
        raise RuntimeError(f"{path.name} failed while building the site:\n{error}") from None
    return nbformat.writes(notebook)


def hide_solutions(notebook, name: str) -> None:
    """Answer cells get nbgrader's student stub; the worked solution moves to metadata.reader."""
    for cell, meta in zip(notebook.cells, parse_lesson(notebook, name).cells):
        if meta.kind in ("answer", "written"):
            cell.metadata["reader"] = {"solution": solution_text(cell.source)}
    ClearSolutions().preprocess(notebook, {})


def lesson_exporter() -> HTMLExporter:
    return HTMLExporter(template_name="reader", extra_template_basedirs=[str(TEMPLATES)],
                        exclude_input_prompt=True, exclude_output_prompt=True)


def render_lesson(notebook, lesson: Page, exporter: HTMLExporter) -> str:
    hide_solutions(notebook, lesson.name)
    resources = {"metadata": {"name": lesson.title}, "reader": {"lesson": lesson}}
    html, _ = exporter.from_notebook_node(notebook, resources=resources)
    return html


def render_home(course: list[Page]) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES / "reader"), autoescape=True)
    env.filters["markdown"] = lambda text: Markup(markdown2html(text))
    return env.get_template("home.html.j2").render(lessons=course)


def prepare_output(out: Path) -> None:
    """Empty `out`, refusing to wipe a folder that is not an earlier build of the site."""
    if out.exists() and any(out.iterdir()):
        if not (out / "index.html").exists():
            raise SystemExit(f"{out} is not empty and holds no earlier site (no index.html); not "
                             "overwriting it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ASSETS, out / "assets")
    shutil.copytree(MATHJAX, out / "mathjax")


def build_site(root: Path, out: Path, jobs: int | None = None) -> list[Page]:
    """Write the site for the lessons in `root`/solutions into `out`; return the lessons in
    order."""
    names = lesson_names(root)
    if not names:
        raise SystemExit(f"no lessons found in {root / 'solutions'}")
    course = [describe(root, name) for name in names]
    for before, after in zip(course, course[1:]):
        before.next, after.previous = after, before
    prepare_output(out)
    paths = [lesson_path(root, name) for name in names]
    # Lessons run in parallel, one kernel each; the parent only renders.
    with ProcessPoolExecutor(max_workers=jobs or min(len(paths), os.cpu_count() or 1)) as pool:
        executed = list(pool.map(execute, paths))
    exporter = lesson_exporter()
    for lesson, source in zip(course, executed):
        html = render_lesson(nbformat.reads(source, as_version=4), lesson, exporter)
        (out / lesson.page).write_text(html, encoding="utf-8")
    (out / "index.html").write_text(render_home(course), encoding="utf-8")
    return course


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m reader.build",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the course folder, holding solutions/")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site",
                        help="where to write the site")
    parser.add_argument("--jobs", type=int, default=None,
                        help="lessons executed at once (default: one per core)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    course = build_site(args.root.resolve(), args.out.resolve(), args.jobs)
    print(f"built {len(course)} lessons into {args.out} in {time.perf_counter() - start:.1f} s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
