"""Written answers after `autograder grade`, in nbgrader's formgrader, in a real browser: the
fixture course's demo class graded by the CLI, `autograder formgrader` started on a loopback port
with a token, a student's written answer scored in formgrader's grading page (headless Chromium, as
the reader's check drives it, every host but the server unreachable), and the next `autograder
grade` exporting the score. Both formgrader's page and the harness's feedback page load MathJax
without the network."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode, urlparse

import pytest
from nbgrader.api import Gradebook
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from autograder.environment import tool_env
from autograder.formgrader import leave_root
from autograder.tests.conftest import copy_fixture_course
from reader.browser import WAIT_FOR_MATH_JS, chromium, requested_urls

AUTOGRADER = str(Path(sys.executable).parent / "autograder")
TOKEN = secrets.token_hex(16)
WRITTEN = "written_why"  # the fixture's written answer (1 point)
STARTUP_SECONDS = 120  # JupyterLab imports every server extension at start; the machine is shared
# CI runs as root, with no user to become
ALLOW_ROOT = ["--allow-root"] if os.geteuid() == 0 else []


def _autograder(course: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([AUTOGRADER, "--root", str(course), *args], env=tool_env(),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""
    except OSError:  # not listening yet
        return 0, b""


@contextlib.contextmanager
def _formgrader(course: Path, out: Path):
    """`autograder formgrader OUT` on a free loopback port with a token; yields (base URL, its log
    file)."""
    port, log = _free_port(), out.parent / "formgrader.log"
    with open(log, "w") as sink:
        server = subprocess.Popen([AUTOGRADER, "--root", str(course), "formgrader", str(out),
                                   "--port", str(port), "--no-browser", *ALLOW_ROOT],
                                  env=tool_env(JUPYTER_TOKEN=TOKEN), stdout=sink, stderr=sink)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while _get(f"{base}/api/status?token={TOKEN}")[0] != 200:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        yield base, log
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _api(base: str, path: str, **query: str):
    status, body = _get(f"{base}/formgrader/api/{path}?{urlencode({**query, 'token': TOKEN})}")
    assert status == 200, path
    return json.loads(body)


def _manual_scores(base: str, notebook_id: str) -> dict[str, float | None]:
    return {grade["name"]: grade["manual_score"]
            for grade in _api(base, "grades", submission_id=notebook_id)}


def _grades(out: Path) -> dict[str, str]:
    with open(out / "grades.csv") as file:
        return {row["student_id"]: row["raw_score"] for row in csv.DictReader(file)}


def test_a_written_answer_scored_in_formgrader_reaches_grades_csv(tiny_course, tmp_path):
    out = tmp_path / "graded"
    # the demo class, built into OUT/submitted
    _autograder(tiny_course, "grade", "--out", str(out), "--jobs", "2")
    before = _grades(out)
    assert before["perfect"] == "3.0"  # every autograded point; the written one waits for a human
    with _formgrader(tiny_course, out) as (base, log):
        status, mathjax = _get(f"{base}/static/jupyter_server_mathjax/MathJax.js?token={TOKEN}")
        assert status == 200 and b"MathJax" in mathjax  # served by the lab itself, no CDN
        # Manage Students counts the harness's grades as autograded (its submitted folder and the
        # gradebook agree).
        [submission] = _api(base, "student_submissions/perfect")
        assert submission["autograded"] and submission["needs_manual_grade"]
        with chromium() as browser:
            browser.get(f"{base}/formgrader?token={TOKEN}")  # logs in, lands on Manage Assignments
            assert browser.current_url.endswith("/formgrader/manage_assignments")
            # Manual Grading, the notebook
            browser.get(f"{base}/formgrader/gradebook/01_fixture/01_fixture")
            wait = WebDriverWait(browser, 30)
            # every student who submitted the notebook is listed: the demo's eight but `missing`
            wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "a.name-shown")) == 7)
            browser.find_element(By.ID, "toggle_names").click()
            browser.find_element(By.LINK_TEXT, "perfect").click()
            score = wait.until(lambda b: b.find_element(By.ID, WRITTEN))
            notebook_id = urlparse(browser.current_url).path.rstrip("/").rsplit("/", 1)[1]
            answer = score.find_element(By.XPATH,
                                        "ancestor::div[contains(@class, 'nbgrader_cell')]").text
            # the student's own written answer
            assert "A product of many probabilities underflows" in answer
            assert browser.execute_script("return !!(window.MathJax && MathJax.Hub)")
            score.send_keys("1", Keys.TAB)  # formgrade.js saves the score when the field changes
            wait.until(lambda _: _manual_scores(base, notebook_id)[WRITTEN] == 1)
            console = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
            outside = [u for u in requested_urls(browser)
                       if urlparse(u).scheme in ("http", "https")
                       and urlparse(u).netloc != urlparse(base).netloc]
            # the harness's own feedback page, opened as a file, loads the MathJax copied beside it
            browser.get((out / "feedback" / "perfect" / "01_fixture" / "01_fixture.html").as_uri())
            assert browser.execute_async_script(WAIT_FOR_MATH_JS)
            console += [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert console == [] and outside == []
        noise = [line for line in log.read_text().splitlines() if not line.startswith("[I ")]
    assert noise == []  # no warning, error or traceback in the server's output
    again = _autograder(tiny_course, "grade", "--out", str(out), "--jobs", "2")
    assert "unchanged since an earlier run" in again.stdout  # nothing graded again
    assert _grades(out) == {**before, "perfect": "4.0"}


def test_a_folder_that_was_not_graded_gets_a_one_line_error(tmp_path):
    # autograded notebooks, but no gradebook
    (tmp_path / "graded" / "autograded").mkdir(parents=True)
    for out, reason in ((tmp_path / "nothing", "grade the class first"),
                        (tmp_path / "graded", "give the gradebook")):
        done = subprocess.run([AUTOGRADER, "formgrader", str(out)], env=tool_env(),
                              capture_output=True, text=True)
        assert done.returncode == 2 and done.stdout == "" and reason in done.stderr
        assert len(done.stderr.splitlines()) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="what formgrader does as root")
def test_as_root_formgrader_becomes_the_user_who_ran_sudo_or_refuses():
    """Never a Jupyter server as root by accident: without --allow-root it runs as SUDO_USER, or
    refuses."""
    # tmp_path's parents are root's alone: `nobody` could not use them
    shared = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        shared.chmod(0o755)
        course, out = copy_fixture_course(shared / "course"), shared / "out"
        (out / "autograded").mkdir(parents=True)
        Gradebook(f"sqlite:///{out / 'gradebook.db'}").close()
        command = [AUTOGRADER, "--root", str(course), "formgrader", str(out), "--port",
                   str(_free_port()), "--no-browser"]
        env = {k: v for k, v in tool_env().items() if k != "SUDO_USER"}
        for extra, reason in (({}, "will not run as root"),
                              ({"SUDO_USER": "nobody"},
                               f"nobody (who ran sudo) cannot write {out}")):
            done = subprocess.run(command, env={**env, **extra}, capture_output=True, text=True)
            assert (done.returncode == 2 and reason in done.stderr
                    and len(done.stderr.splitlines()) == 1)
        nobody = pwd.getpwnam("nobody")
        for path in (out, out / "autograded", out / "gradebook.db"):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        # The same step in a child (the server it would exec needs an interpreter `nobody` can run,
        # which this machine's lives where only root can): what the child became.
        read, write = os.pipe()
        if (child := os.fork()) == 0:
            try:
                os.environ["SUDO_USER"] = "nobody"
                leave_root(out, None)
                os.write(write, json.dumps([os.getresuid(), os.getresgid(), os.getgroups(),
                                            os.environ["HOME"],
                                            os.access(out / "gradebook.db", os.W_OK)]).encode())
            finally:
                os._exit(0)
        os.close(write)
        became = json.loads(os.read(read, 4096))
        os.waitpid(child, 0)
        assert became == [[nobody.pw_uid] * 3, [nobody.pw_gid] * 3,
                          os.getgrouplist("nobody", nobody.pw_gid), nobody.pw_dir, True]
    finally:
        shutil.rmtree(shared)
