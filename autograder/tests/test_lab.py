"""`autograder lab` serves notebooks/ with JupyterLab 4 and nbgrader's validate: started, queried
over HTTP, stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from autograder.environment import tool_env
from autograder.release import release

TOKEN = "autograder-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, data: bytes | None = None, timeout: float = 120) -> dict:
    request = urllib.request.Request(url, data=data, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def test_lab_serves_a_notebook_and_validates_it(tiny_course, tmp_path):
    release(tiny_course)
    port = _free_port()
    command = [sys.executable, "-m", "autograder.cli", "--root", str(tiny_course), "lab", "--port", str(port),
               "--no-browser", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}"]
    log = open(tmp_path / "lab.log", "wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=tool_env(JUPYTER_CONFIG_DIR=str(tmp_path)),
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                status = _request(f"{base}/api/status", timeout=2)
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "lab.log").read_text()
                time.sleep(0.5)
        else:
            raise AssertionError("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text())
        assert "started" in status
        model = _request(f"{base}/api/contents/01_fixture/01_fixture.ipynb")
        assert model["type"] == "notebook" and model["content"]["nbformat"] == 4
        assert any("raise NotImplementedError" in "".join(c["source"]) for c in model["content"]["cells"])
        lab_page = urllib.request.urlopen(urllib.request.Request(f"{base}/lab?token={TOKEN}"), timeout=30).read()
        assert b"JupyterLab" in lab_page
        form = urllib.parse.urlencode({"path": "01_fixture/01_fixture.ipynb"}).encode()
        validated = _request(f"{base}/assignments/validate", data=form)
        assert validated["success"], validated
        assert "NotImplementedError" in json.dumps(validated["value"])  # nbgrader's validate ran the notebook
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        log.close()
