"""The course being graded: its folder, its assignments and nbgrader's configuration of them.

The course folder holds `solutions/<assignment>/<notebook>.ipynb` (nbgrader's source: the
instructor's versions, read through `mlcourse.lessons`) and `nbgrader_config.py` (the late-penalty
policy). Every stage of grading gets the course as this object, never through the environment.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from mlcourse.lessons import Lesson, lesson_names, read_lesson


@dataclass(frozen=True)
class Course:
    """The course folder; `only` names the assignments a run grades (all of them when empty)."""

    root: Path
    only: tuple[str, ...] = ()

    def __post_init__(self):
        unknown = sorted(set(self.only) - set(lesson_names(self.root)))
        if unknown:
            raise ValueError(f"no assignment {', '.join(unknown)} in {self.root / 'solutions'} "
                             f"(there are: {', '.join(lesson_names(self.root)) or 'none'})")

    @cached_property
    def assignments(self) -> list[str]:
        """The assignments of this run, in course order: every one in solutions/, or those in
        `only`."""
        return [a for a in lesson_names(self.root) if not self.only or a in self.only]

    def is_assignment(self, name: str) -> bool:
        """Whether `name` is an assignment of the course (graded in this run or not)."""
        return name in lesson_names(self.root)

    def sources(self, assignment: str) -> list[Path]:
        """The instructor's notebooks of one assignment (one per lesson in this course)."""
        return sorted((self.root / "solutions" / assignment).glob("*.ipynb"))

    def lessons(self, assignment: str) -> list[Lesson]:
        return [read_lesson(source) for source in self.sources(assignment)]

    def late_plugin(self):
        """nbgrader's late-submission penalty as the course's nbgrader_config.py sets it (default:
        none)."""
        from nbgrader.plugins import LateSubmissionPlugin
        from traitlets.config import Config

        return LateSubmissionPlugin(config=Config(read_settings(self.root / "nbgrader_config.py",
                                                                "LateSubmissionPlugin")))


def read_settings(config_file: Path, section: str) -> dict:
    """The settings `c.<section>.<name> = <literal>` of an nbgrader config file, read without
    running it.

    Running the course's config would import formgrader's code and patch nbgrader's Gradebook in
    this process (the config does so for nbgrader's own commands), so the grader reads the file as a
    syntax tree instead. A setting of `section` that is not a plain literal is an error, never a
    silent default."""
    if not config_file.exists():
        return {}
    source = config_file.read_text()
    settings = {}
    for node in ast.walk(ast.parse(source, str(config_file))):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Attribute)
                and isinstance(target.value.value, ast.Name) and target.value.value.id == "c"
                and target.value.attr == section):
            try:
                settings[target.attr] = ast.literal_eval(node.value)
            except ValueError:
                raise ValueError(f"{config_file}, line {node.lineno}: c.{section}.{target.attr} "
                                 "must be a plain value (a string, number, list...), "
                                 f"not {ast.get_source_segment(source, node.value)}") from None
    return {section: settings} if settings else {}
