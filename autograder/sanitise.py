"""What a student wrote, made safe to show in a browser: nothing in it can run there.

A written answer is Markdown, and Markdown may hold raw HTML (`<img src=x onerror=...>`, `<script>`,
a `javascript:` link, an `<svg onload>`, an `<iframe srcdoc>`): nbconvert, and so nbgrader's
formgrader and `nbgrader generate_feedback`, copy it into the page as it is, where it would run with
the instructor's session. So the notebooks written to OUT/autograded/ hold, in place of a student's
Markdown, its rendering (nbconvert's own renderer, the one those pages use) cleaned by Ammonia
(`nh3`, a maintained sanitiser with a fixed list of tags and attributes: no script, style, frame,
form, SVG or event handler; links only to http, https and mailto). The cleaned HTML is one `<div>`
on one line, which a Markdown renderer passes through unchanged (an HTML block ends at a blank line,
and this one has none), so formgrader shows the answer as before, math included (MathJax typesets
the `$...$` left in its text).

Outputs are made safe the same way: HTML cleaned, Markdown rendered then cleaned, images kept only
as the base64 data they claim to be, and every type that is code or may hold code (JavaScript, SVG,
widgets, anything unknown) left out with a note. Formgrader and `nbgrader generate_feedback` clean
every Markdown cell and output again as they render a notebook (`SafeNotebook`): one an older grader
wrote, or one of plain `nbgrader autograde`, which keeps every cell a student edited.
"""

from __future__ import annotations

import base64
import binascii
import functools

import nbformat
import nh3
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors import Preprocessor

URL_SCHEMES = {"http", "https", "mailto"}
# shown by nbconvert as <img src="data:...;base64,...">
IMAGES = ("image/png", "image/jpeg", "image/gif")
TEXTS = ("text/plain", "text/latex")  # shown escaped
SIZES = ("width", "height")  # the only output metadata nbconvert writes into a tag, unquoted


@functools.cache
def _markdown() -> MarkdownWithMath:
    """nbconvert's Markdown renderer (its markdown2html filter's), made once: making it costs as
    much as using it."""
    return MarkdownWithMath(renderer=IPythonRenderer(escape=False))


def markdown2html(markdown: str) -> str:
    return _markdown().render(markdown)


def clean_html(html: str) -> str:
    """`html` with only Ammonia's safe tags and attributes left, and links only to URL_SCHEMES."""
    return nh3.clean(html, url_schemes=URL_SCHEMES, link_rel="noopener noreferrer nofollow")


@functools.lru_cache(maxsize=1024)  # answers repeat: left unanswered, or the released text kept
def safe_markdown(markdown: str) -> str:
    """A student's Markdown as cleaned HTML that Markdown renderers show unchanged."""
    html = clean_html(markdown2html(markdown))
    # In text and attribute values alike `&#10;` is a line break: one line, no blank one to end the
    # block.
    return "<div>" + html.replace("\n", "&#10;") + "</div>"


def _base64(data) -> bool:
    try:
        base64.b64decode("".join(data) if isinstance(data, list) else data, validate=True)
    except (binascii.Error, TypeError, ValueError):
        return False
    return True


def safe_output(output: dict) -> dict:
    """A code cell's output (nbformat's dict) with nothing left in it that could run in a
    browser."""
    if output.get("output_type") in ("stream", "error"):
        return output  # plain text, which every template escapes
    data, left_out = {}, []
    for mime, value in output.get("data", {}).items():
        text = "".join(value) if isinstance(value, list) else value
        if mime in TEXTS and isinstance(text, str):
            data[mime] = text
        elif mime == "text/html" and isinstance(text, str):
            data[mime] = clean_html(text)
        elif mime == "text/markdown" and isinstance(text, str):
            data["text/html"] = data.get("text/html") or clean_html(markdown2html(text))
        elif mime in IMAGES and _base64(value):
            data[mime] = text
        else:
            left_out.append(mime)
    if left_out:
        note = ("[output left out by the grader, as it could run in a browser: "
                f"{', '.join(left_out)}]")
        data["text/plain"] = (data.get("text/plain", "") + "\n" + note).strip()
    metadata = {mime: {k: v for k, v in fields.items() if k in SIZES and type(v) in (int, float)}
                for mime, fields in output.get("metadata", {}).items() if mime in data
                and isinstance(fields, dict)}
    return {**output, "data": data,
            "metadata": {mime: fields for mime, fields in metadata.items() if fields}}


def is_answer(cell) -> bool:
    """A cell whose text is the student's: nbgrader marks an answer cell as a solution."""
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def safe_notebook(notebook, every_markdown: bool = False):
    """`notebook` (nbformat's) with the Markdown of its answer cells (of every Markdown cell, with
    `every_markdown`) and every output made safe; changed in place, and returned."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and (every_markdown or is_answer(cell)):
            cell.source = safe_markdown(cell.source)
            cell.pop("attachments", None)
        elif cell.cell_type == "code":
            cell.outputs = [nbformat.from_dict(safe_output(o)) for o in cell.outputs]
    return notebook


class SafeNotebook(Preprocessor):
    """`safe_notebook` as nbconvert's preprocessor, for formgrader's and `nbgrader
    generate_feedback`'s pages. Every Markdown cell: a notebook plain `nbgrader autograde` wrote
    (formgrader's autograde button) keeps every cell the student edited, not only the answers."""

    def preprocess(self, nb, resources):
        return safe_notebook(nb, every_markdown=True), resources
