"""The seed table of solutions/README.md ("Where the seeds are taught") stays true: every row names
a lesson of the course and a place in it that exists (a grade id, written in backticks, or a
section heading, written as the lesson writes it), every lesson appears, and the table keeps the
number of rows its text states. The seeds themselves are not read: the table is checked against
the lessons."""

from __future__ import annotations

import re

import pytest

from mlcourse.lessons import read_lesson

from .conftest import LESSONS, ROOT, solution_path

README = ROOT / "solutions" / "README.md"
SECTION = "## Where the seeds are taught"
HEADER = ("seed concept or quiz question", "lesson", "place")
CELL_SPLIT = re.compile(r"(?<!\\)\|")  # a cell may hold an escaped pipe, as in log Pr(y \| x)


def section(text: str) -> str:
    """The seed-table section of the README: from its heading to the next heading of its level."""
    assert SECTION in text, f"solutions/README.md has no section {SECTION!r}"
    body = text.split(SECTION, 1)[1]
    return re.split(r"^## ", body, maxsplit=1, flags=re.MULTILINE)[0]


def table_rows(text: str) -> list[tuple[str, str, str]]:
    """The table's rows (concept, lesson, place), after its header and separator lines."""
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("|")]
    cells = [tuple(c.strip() for c in CELL_SPLIT.split(line)[1:-1]) for line in lines]
    assert cells and cells[0] == HEADER, f"the table's header is {' | '.join(HEADER)}"
    assert cells[1] and all(set(c) <= set("-: ") for c in cells[1]), (
        "a separator line follows the header")
    rows = cells[2:]
    malformed = [row for row in rows if len(row) != 3 or not all(row)]
    assert not malformed, f"rows without three filled cells: {malformed[:3]}"
    return rows


def headings(lesson: str) -> set[str]:
    """The lesson's markdown heading lines, without their #s: '2. The objective of a dataset',
    ..."""
    cells = read_lesson(solution_path(lesson)).cells
    return {line.lstrip("#").strip() for c in cells if c.cell_type == "markdown"
            for line in c.source.splitlines() if re.match(r"#+\s", line)}


def grade_ids(lesson: str) -> set[str]:
    return {c.grade_id for c in read_lesson(solution_path(lesson)).cells if c.grade_id}


def missing_places(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Rows whose lesson is not one of the course's, or whose place is not in that lesson."""
    found = []
    for concept, lesson, place in rows:
        if lesson not in LESSONS:
            found.append((concept, lesson, "no such lesson"))
        elif re.fullmatch(r"`[^`]+`", place):
            if place.strip("`") not in grade_ids(lesson):
                found.append((concept, lesson, f"no grade id {place}"))
        elif place not in headings(lesson):
            found.append((concept, lesson, f"no heading {place!r}"))
    return found


@pytest.fixture(scope="module")
def seed_section() -> str:
    return section(README.read_text())


def test_every_place_exists_in_its_lesson(seed_section):
    missing = missing_places(table_rows(seed_section))
    assert not missing, f"{len(missing)} rows point nowhere, e.g. {missing[:5]}"


def test_every_lesson_appears_in_the_table(seed_section):
    named = {lesson for _, lesson, _ in table_rows(seed_section)}
    assert set(LESSONS) <= named, f"lessons with no seed concept: {sorted(set(LESSONS) - named)}"


def test_the_table_keeps_the_rows_its_text_counts(seed_section):
    rows = table_rows(seed_section)
    stated = re.search(r"(\d+) rows", seed_section)
    assert stated, "the text above the table states how many rows the seeds give"
    assert len(rows) >= int(stated.group(1)), f"{len(rows)} rows, {stated.group(1)} stated"
    concepts = [concept for concept, _, _ in rows]
    assert len(set(concepts)) == len(concepts), "each seed concept or question has one row"


def test_the_checks_catch_a_place_that_does_not_exist():
    lesson = LESSONS[0]
    heading, grade_id = sorted(headings(lesson))[0], sorted(grade_ids(lesson))[0]
    rows = [("a", lesson, heading), ("b", lesson, f"`{grade_id}`"), ("c", lesson, "`no_such_id`"),
            ("d", lesson, "9. No such section"), ("e", "99_no_such_lesson", heading),
            ("f", lesson, grade_id)]  # a grade id must be in backticks; a heading must not
    assert [row[0] for row in missing_places(rows)] == ["c", "d", "e", "f"]
    text = ("| seed concept or quiz question | lesson | place |\n|---|---|---|\n"
            "| x \\| y | 01 | z |\n")
    assert table_rows(text) == [("x \\| y", "01", "z")]
