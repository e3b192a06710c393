"""The sanitiser of what students write (autograder/sanitise.py), without a browser: every way to
run script in Markdown or an output is gone from what nbconvert renders, and what a student meant to
show (text, emphasis, math, code, tables, links, images) is still there. test_browser_xss.py shows
the same in Chromium."""

from __future__ import annotations

from html.parser import HTMLParser

import nbformat
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown import markdown2html

from autograder.sanitise import SafeNotebook, safe_markdown, safe_notebook, safe_output

VECTORS = [
    "<img src=x onerror=alert(1)>", "<script>alert(1)</script>",
    "<svg onload=alert(1)><circle r=1 /></svg>",
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "<details open ontoggle=alert(1)>x</details>",
    "[x](javascript:alert(1))", '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="data:text/html,<b>x</b>">x</a>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<style>*{background:url(//e.org)}</style>",
    '<object data="x.swf"></object>', '<embed src="x.swf">',
    '<form action="//e.org"><input name=p></form>',
    '<meta http-equiv="refresh" content="0;url=//e.org">', '<base href="//e.org/">',
    '<link rel=import href=x>',
    '<script type="text/x-mathjax-config">alert(1)</script>',
    "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
    '<img src="x" srcset="javascript:alert(1)">',
    "<p title='</p><img src=x onerror=alert(1)>'>x</p>",
    "<!--<img src=x onerror=alert(1)>-->",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    '<a href="x" data-toggle="tooltip" data-html="true" title="<img src=x onerror=alert(1)>">x</a>',
]
BANNED_TAGS = {"script", "style", "iframe", "object", "embed", "form", "input", "meta", "base",
               "link", "svg", "math", "noscript"}


class _Tags(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.tags, self.attrs = [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs


def _inert(html: str) -> bool:
    """No tag that runs or loads code, no event handler, style or data attribute, no script or data
    URL."""
    page = _Tags(html)
    urls = [value.strip().lower() for name, value in page.attrs
            if name in ("href", "src", "srcset", "action")]
    return (not BANNED_TAGS & set(page.tags)
            and not any(n.startswith(("on", "data-")) or n == "style"
                                                        for n, _ in page.attrs)
            and not any(u.startswith(("javascript:", "data:", "vbscript:")) for u in urls))


def test_every_vector_is_inert_as_formgrader_renders_it():
    for vector in VECTORS:
        # nbconvert alone: raw
        assert not _inert(markdown2html(vector)) or "<!--" in vector or "title=" in vector
        # formgrader renders the stored source
        rendered = markdown2html(safe_markdown(f"before {vector} after"))
        assert _inert(rendered), (vector, rendered)
        assert "before" in rendered and "after" in rendered


def test_what_a_student_meant_to_show_is_kept():
    answer = ("A **product** of $p_i < 1$ *underflows*:\n\n$$\\sum_t \\log p_t$$\n\n"
              "```python\nx = 1\n\ny = 2\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
              "[the notes](https://example.org/notes) ![plot](plot.png)\n\n- one\n- two")
    stored = safe_markdown(answer)
    # one HTML block: Markdown renderers leave it whole
    assert "\n" not in stored and stored.startswith("<div>")
    rendered = markdown2html(stored)
    assert rendered.strip() == stored
    for kept in ("<strong>product</strong>", "$p_i &lt; 1$", "<em>underflows</em>",
                 "$$\\sum_t \\log p_t$$",
                 "<span>1</span>&#10;&#10;<span>y</span>", "<table>", "<td>2</td>",
                 '<a href="https://example.org/notes" rel="noopener',
                 '<img src="plot.png" alt="plot">', "<li>one</li>"):
        assert kept in rendered, kept
    # sanitising again (formgrader does) keeps it valid
    assert markdown2html(safe_markdown(stored)) != ""


def test_outputs_keep_text_cleaned_html_and_real_images_only():
    png = "iVBORw0KGgo="
    outputs = [
        {"output_type": "display_data",
         "metadata": {"image/png": {"width": 40, "height": "1 onerror=alert(1)"}},
         "data": {"image/png": png, "text/plain": "a figure"}},
        {"output_type": "display_data", "metadata": {},
         "data": {"image/png": 'x" onerror="alert(1)'}},
        {"output_type": "execute_result", "execution_count": 3,
         "metadata": {"text/html": {"isolated": True}},
         "data": {"text/html": "<b>bold</b><script>alert(1)</script>",
                  "application/javascript": "alert(1)",
                  "image/svg+xml": "<svg onload=alert(1)/>", "text/latex": "$x$",
                  "application/vnd.jupyter.widget-view+json": {"model_id": "m"}}},
        {"output_type": "display_data", "metadata": {},
         "data": {"text/markdown": "*hi* <img src=x onerror=alert(1)>"}},
        {"output_type": "stream", "name": "stdout", "text": "<b>printed</b>"},
    ]
    figure, forged, rich, markdown, stream = (safe_output(o) for o in outputs)
    assert figure["data"] == {"image/png": png, "text/plain": "a figure"}
    # a size that is not a number is dropped
    assert figure["metadata"] == {"image/png": {"width": 40}}
    # named as left out
    assert "image/png" not in forged["data"] and "image/png" in forged["data"]["text/plain"]
    assert rich["data"]["text/html"] == "<b>bold</b>" and rich["data"]["text/latex"] == "$x$"
    assert rich["metadata"] == {} and rich["execution_count"] == 3
    assert {"application/javascript", "image/svg+xml",
            "application/vnd.jupyter.widget-view+json"}.isdisjoint(
        rich["data"])
    assert "application/javascript" in rich["data"]["text/plain"]
    assert markdown["data"] == {"text/html": '<p><em>hi</em> <img src="x"></p>\n'}
    assert stream == outputs[4]  # printed text: every template escapes it


def test_a_hostile_notebook_rendered_by_nbconvert_with_the_preprocessor_is_inert():
    nb = nbformat.v4.new_notebook()
    meta = {"nbgrader": {"solution": True, "grade": True, "grade_id": "why", "points": 1}}
    nb.cells = [nbformat.v4.new_markdown_cell("Read <b>this</b>.",
                                              metadata={"nbgrader": {"solution": False}}),
                # a narrative cell edited (plain nbgrader keeps it)
                nbformat.v4.new_markdown_cell(VECTORS[1]),
                nbformat.v4.new_markdown_cell("\n\n".join(VECTORS), metadata=meta),
                nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
                    "display_data",
                    data={"text/html": VECTORS[0], "application/javascript": "alert(1)"})])]
    exporter = HTMLExporter(template_name="classic")
    exporter.register_preprocessor(SafeNotebook, enabled=True)
    html, _ = exporter.from_notebook_node(nb)
    body = html[html.index("<body"):]
    assert _inert(body) and "<script" not in body
    assert "Read <b>this</b>." in body  # harmless markup stays
    # as outputs.write_autograded: the answers' Markdown only
    written = safe_notebook(nbformat.from_dict(nb))
    assert [c.source for c in written.cells[:2]] == ["Read <b>this</b>.", VECTORS[1]]
    assert _inert(markdown2html(written.cells[2].source))
