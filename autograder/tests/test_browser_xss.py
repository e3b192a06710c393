"""Nothing a student or a roster sends runs in a browser (issue 20), shown in headless Chromium.

A class of the fixture course with an attacker, `mallory`, who hands in the catalogue's
markdown-xss: a written answer in Markdown carrying every usual way to run script (an <img onerror>,
<script>, an <svg onload>, an <iframe srcdoc>, a `javascript:` link, a MathJax config block, a
MathJax `\\href`, ...) and one that uses formgrader's own API to give her full marks, and a code
cell with outputs of every dangerous type; a roster whose names for `perfect` are markup, and a
student id that is markup. Each payload would add its name to `window.pwned`. The class is graded by
the CLI, then formgrader's grading pages, lists and student pages, every feedback page and every
student page are opened: no payload runs, and the gradebook's rows are identical before and after.
Formgrader also renders an autograded notebook written unsanitised (as a grader before this one
wrote it) without running it, and the grading page's Content-Security-Policy alone, with nothing
sanitised, runs only the page's own scripts."""

from __future__ import annotations

import contextlib
import csv
import json
import secrets
import shutil
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from urllib.parse import quote

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from autograder.environment import tool_env
from autograder.formgrader_server import grading_page_policy
from autograder.tests.catalogue.entries import XSS_MARKDOWN, XSS_OUTPUTS, xss
from autograder.tests.gradebook_rows import rows
from autograder.tests.test_formgrader import TOKEN, _api, _autograder, _formgrader
from reader.browser import WAIT_FOR_MATH_JS, chromium, missing_browser

pytestmark = pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser()))


HOSTILE_ID = f'<img src=x onerror="{xss("id")}">'
ROSTER = [["id", "first_name", "last_name", "email"],
          ["perfect", f'<img src=x onerror="{xss("first-name")}">',
           f"<script>{xss('last-name')}</script>", ""],
          [HOSTILE_ID, "Eve", "<b>bold</b>", ""]]
PWNED_JS = """return [window.pwned || [],
  document.querySelectorAll('[href^="javascript:" i], [src^="javascript:" i], [action^="javascript:" i]').length];"""  # noqa: E501


def _attacker(notebook: dict) -> dict:
    """`perfect`'s notebook with mallory's written answer and outputs (the catalogue's
    markdown-xss)."""
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id == "written_why":
            cell["source"] = XSS_MARKDOWN
        elif grade_id == "total_log_prob":
            cell["outputs"] = XSS_OUTPUTS
    return notebook


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(course, OUT): the demo class, mallory and the roster, graded by the CLI."""
    from autograder.tests.conftest import copy_fixture_course

    course = copy_fixture_course(tmp_path_factory.mktemp("xss") / "course")
    out = course.parent / "graded"
    # builds the demo class into OUT/submitted
    _autograder(course, "grade", "--out", str(out), "--jobs", "2")
    mallory = out / "submitted" / "mallory"
    shutil.copytree(out / "submitted" / "perfect", mallory)
    path = mallory / "01_fixture" / "01_fixture.ipynb"
    path.write_text(json.dumps(_attacker(json.loads(path.read_text()))))
    with open(course / "roster.csv", "w", newline="") as file:
        csv.writer(file).writerows(ROSTER)
    subprocess.run(["nbgrader", "db", "student", "import", "roster.csv", "--db",
                    f"sqlite:///{out / 'gradebook.db'}"],
                   cwd=course, env=tool_env(), check=True, capture_output=True)
    _autograder(course, "grade", str(out / "submitted"), "--out", str(out), "--jobs", "2")
    return course, out


def _nothing_ran(browser) -> None:
    pwned, script_urls = browser.execute_script(PWNED_JS)
    assert pwned == [] and script_urls == 0


def _grading_page(browser, base: str, student: str) -> None:
    [submission] = [s for s in _api(base, "submitted_notebooks/01_fixture/01_fixture")
                    if s["student"] == student]
    browser.get(f"{base}/formgrader/submissions/{submission['id']}/")
    WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.ID, "written_why"))
    # MathJax has typeset the page, and still nothing ran
    assert browser.execute_async_script(WAIT_FOR_MATH_JS)


def test_nothing_a_student_or_roster_sends_runs_in_formgrader_or_any_page(graded):
    course, out = graded
    db_url = f"sqlite:///{out / 'gradebook.db'}"
    before = rows(db_url)
    autograded = json.loads((out / "autograded" / "mallory" / "01_fixture"
                             / "01_fixture.ipynb").read_text())
    [answer] = [c for c in autograded["cells"]
                if c["metadata"].get("nbgrader", {}).get("grade_id") == "written_why"]
    assert "stays" in "".join(answer["source"]) and "onerror" not in "".join(answer["source"])
    with _formgrader(course, out) as (base, log), chromium() as browser:
        browser.get(f"{base}/formgrader?token={TOKEN}")
        _grading_page(browser, base, "mallory")
        text = browser.find_element(By.ID, "written_why").find_element(
            By.XPATH, "ancestor::div[contains(@class, 'nbgrader_cell')]").text
        assert "stays finite" in text and "a link" in text  # the answer is shown, its markup inert
        _nothing_ran(browser)
        # the roster's names for perfect, in the page's header
        _grading_page(browser, base, "perfect")
        names = browser.find_element(By.CSS_SELECTOR, "a.name-shown").get_attribute("textContent")
        assert "<script>" in names and "<img" in names  # shown as text
        _nothing_ran(browser)
        # every submission by name
        browser.get(f"{base}/formgrader/gradebook/01_fixture/01_fixture")
        WebDriverWait(browser, 30).until(
            lambda b: len(b.find_elements(By.CSS_SELECTOR, "a.name-shown")) == 8)
        _nothing_ran(browser)
        browser.get(f"{base}/formgrader/manage_students")  # the hostile id, and a link to its page
        link = WebDriverWait(browser, 30).until(lambda b: [
            a.get_attribute("href") for a in b.find_elements(By.CSS_SELECTOR, "td.name a")
            if "Eve" in a.text])
        _nothing_ran(browser)
        browser.get(link[0])
        WebDriverWait(browser, 30).until(
            lambda b: b.find_elements(By.CSS_SELECTOR, ".breadcrumb li.active"))
        assert browser.find_element(By.CSS_SELECTOR, ".breadcrumb li.active").text == HOSTILE_ID
        _nothing_ran(browser)
        # a crafted link
        browser.get(f"{base}/formgrader/manage_students/{quote(HOSTILE_ID, safe='')}/01_fixture")
        WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".breadcrumb"))
        assert HOSTILE_ID in browser.find_element(By.CSS_SELECTOR, ".breadcrumb").text
        _nothing_ran(browser)
        # An autograded notebook as an older grader wrote it, payloads as they came: sanitised as it
        # is rendered.
        path = out / "autograded" / "mallory" / "01_fixture" / "01_fixture.ipynb"
        saved = path.read_text()
        path.write_text(json.dumps(_attacker(json.loads(saved))))
        try:
            _grading_page(browser, base, "mallory")
            _nothing_ran(browser)
        finally:
            path.write_text(saved)
        # Every page the grader wrote for students: feedback and student pages, opened as files.
        pages = (sorted((out / "feedback").glob("*/index.html"))
                 + sorted((out / "feedback").glob("*/*/*.html")))
        assert {p.parent.name for p in pages} >= {"mallory", "perfect", "01_fixture"}
        for page in pages:
            browser.get(page.as_uri())
            _nothing_ran(browser)
        browser.get((out / "feedback" / "perfect" / "index.html").as_uri())
        # the roster's name, as text
        assert "<script>" in browser.find_element(By.TAG_NAME, "h1").text
    # nothing even tried: sanitised before it reached CSP
    assert "Content security violation" not in log.read_text()
    assert rows(db_url) == before


class _PolicyPage(BaseHTTPRequestHandler):
    """One page with the grading page's policy: a script with the nonce, and payloads without it."""

    nonce = secrets.token_urlsafe(16)

    def do_GET(self):
        body = (f'<html><head><script nonce="{self.nonce}">window.own = 1;</script></head><body>'
                + XSS_MARKDOWN.replace("\n\n", "<br>") + "</body></html>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Security-Policy",
                         grading_page_policy(self.headers["Host"], "/", self.nonce))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_grading_pages_policy_alone_runs_only_the_pages_own_scripts():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PolicyPage)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        with chromium() as browser:
            browser.get(f"http://127.0.0.1:{server.server_address[1]}/")
            WebDriverWait(browser, 10).until(
                lambda b: b.execute_script("return document.readyState") == "complete")
            for element in browser.find_elements(By.CSS_SELECTOR, "a[href^='javascript:'], button"):
                with contextlib.suppress(Exception):
                    element.click()
            assert browser.execute_script("return [window.own, window.pwned || []]") == [1, []]
            violations = [e["message"] for e in browser.get_log("browser")
                          if "Content Security Policy" in e["message"]]
            # each inline payload was refused by the policy, not by chance
            assert len(violations) >= 5
    finally:
        server.shutdown()
        server.server_close()

