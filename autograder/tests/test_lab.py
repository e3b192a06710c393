"""`autograder lab` is the student's JupyterLab 4 with the student's nbgrader tools only: started,
queried over HTTP, stopped. The instructor's Formgrader, Create Assignment and Course List are off
(their lab plugins disabled and locked in the page config, their server extensions not answering);
Validate works; the Assignment List is there only with an exchange, and then fetches into and
submits from the student's own folder."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from autograder.cli import parser
from autograder.environment import tool_env
from autograder.lab import EXCHANGE_LAB_PLUGINS, INSTRUCTOR_LAB_PLUGINS, lab_command
from autograder.release import release

TOKEN = "autograder-test-token"
VALIDATE = "@jupyter/nbgrader:validate-assignment"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, data: bytes | None = None, timeout: float = 120) -> dict:
    request = urllib.request.Request(url, data=data, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def _status(url: str) -> int:
    """The HTTP status of a GET (an error status is an answer too)."""
    try:
        with urllib.request.urlopen(
                urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"}),
                timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _page_config(base: str) -> dict:
    """The page config JupyterLab's /lab page hands the browser (where it lists the disabled
    plugins)."""
    page = urllib.request.urlopen(f"{base}/lab?token={TOKEN}", timeout=30).read().decode()
    return json.loads(re.search(
        r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
        page, re.S).group(1))


@contextlib.contextmanager
def running_lab(course: Path, cwd: Path, log: Path, *options: str):
    """`autograder lab` started as a student types it (`--port P -- <jupyter options>`), on a free
    port of the loopback; its base URL while it runs."""
    port = _free_port()
    command = [sys.executable, "-m", "autograder.cli", "--root", str(course), "lab",
               "--port", str(port), "--no-browser", *options, "--", "--ServerApp.ip=127.0.0.1",
               f"--IdentityProvider.token={TOKEN}",
               # a busy port fails the test instead of reaching another server
               "--ServerApp.port_retries=0"]
    env = tool_env(JUPYTER_CONFIG_DIR=str(log.parent / "jupyter-config"),
                   JUPYTER_RUNTIME_DIR=str(log.parent / "rt"), HOME=str(cwd))
    with open(log, "wb") as output:
        server = subprocess.Popen(command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT,
                                  env=env, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(240):
                try:
                    assert "started" in _request(f"{base}/api/status", timeout=2)
                    break
                except OSError:
                    assert server.poll() is None, log.read_text()
                    time.sleep(0.5)
            else:
                raise AssertionError("JupyterLab did not start:\n" + log.read_text())
            yield base
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)


def test_the_documented_command_line_reaches_jupyter_without_the_separator(tmp_path):
    args, extra = parser().parse_known_args(["lab", "--port", "8890", "--",
                                             "--ServerApp.ip=0.0.0.0"])
    command = lab_command(tmp_path, args.port, args.no_browser, extra)
    assert command[:4] == ["jupyter", "lab", f"--ServerApp.root_dir={tmp_path}",
                           "--ServerApp.port=8890"]
    assert command[-1] == "--ServerApp.ip=0.0.0.0" and "--" not in command
    # `make lab` as root: jupyter refuses root without it
    assert ("--allow-root" in command) == (os.geteuid() == 0)


def test_the_student_lab_validates_and_shows_no_instructor_tool(tiny_course, tmp_path):
    release(tiny_course)
    with running_lab(tiny_course, tiny_course, tmp_path / "lab.log") as base:
        # the lab is on notebooks/
        model = _request(f"{base}/api/contents/01_fixture/01_fixture.ipynb")
        assert model["type"] == "notebook" and model["content"]["nbformat"] == 4
        assert any("raise NotImplementedError" in "".join(c["source"])
                   for c in model["content"]["cells"])
        config = _page_config(base)
        off = set(INSTRUCTOR_LAB_PLUGINS + EXCHANGE_LAB_PLUGINS)
        assert set(config["disabledExtensions"]) == off == set(config["lockedExtensions"])
        assert VALIDATE not in config["disabledExtensions"]
        # Formgrader, Course List (its /formgraders) and Assignment List: their server extensions
        # are not loaded.
        assert [_status(f"{base}/{path}")
                for path in ("formgrader", "formgraders", "assignments?course_id=x")] \
            == [404, 404, 404]
        form = urllib.parse.urlencode({"path": "01_fixture/01_fixture.ipynb"}).encode()
        validated = _request(f"{base}/assignments/validate", data=form)
        assert validated["success"], validated
        # nbgrader's validate ran the notebook
        assert "NotImplementedError" in json.dumps(validated["value"])


def test_with_an_exchange_the_assignment_list_fetches_and_submits_in_the_students_folder(
        tiny_course, tmp_path):
    release(tiny_course)
    exchange, student = tmp_path / "exchange", tmp_path / "student"
    exchange.mkdir(mode=0o777)
    student.mkdir()
    subprocess.run(["nbgrader", "release_assignment", "01_fixture", f"--Exchange.root={exchange}",
                    "--course=mlc"],
                   cwd=tiny_course, env=tool_env(), check=True, capture_output=True)
    with running_lab(tiny_course, student, tmp_path / "lab.log", "--exchange", str(exchange),
                     "--course-id", "mlc") as base:
        config = _page_config(base)
        assert set(config["disabledExtensions"]) == set(INSTRUCTOR_LAB_PLUGINS)
        assert _status(f"{base}/formgrader") == 404
        [released] = _request(f"{base}/assignments?course_id=mlc")["value"]
        assert (released["assignment_id"], released["status"]) == ("01_fixture", "released")
        form = urllib.parse.urlencode({"course_id": "mlc", "assignment_id": "01_fixture"}).encode()
        fetched = _request(f"{base}/assignments/fetch", data=form)
        assert fetched["success"] and fetched["value"][0]["status"] == "fetched", fetched
        assert (student / "01_fixture" / "01_fixture.ipynb").is_file()
        assert not (tiny_course / "01_fixture").exists()  # not into the server's working folder
        assert _request(f"{base}/assignments/submit", data=form)["success"]
    [submission] = (exchange / "mlc" / "inbound").iterdir()
    # nbgrader submit names a submission by the student's login
    login = pwd.getpwuid(os.getuid()).pw_name
    assert submission.name.startswith(f"{login}+01_fixture+")
    assert (submission / "01_fixture.ipynb").is_file() and (submission / "timestamp.txt").is_file()
