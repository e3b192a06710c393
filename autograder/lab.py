"""JupyterLab for the course: the student's lab on notebooks/ (nbgrader's Validate button).

`autograder lab` becomes `jupyter lab` (exec: stopping this process stops the server), started from
the course folder so that nbgrader reads the course's nbgrader_config.py.
"""

from __future__ import annotations

import os
from pathlib import Path


def lab_command(root: Path, port: int, no_browser: bool, extra: list[str]) -> list[str]:
    """The `jupyter lab` command line of the student's lab; `extra` goes to jupyter (a leading `--` dropped)."""
    command = ["jupyter", "lab", f"--ServerApp.root_dir={root / 'notebooks'}", f"--ServerApp.port={port}"]
    command += ["--no-browser"] if no_browser else []
    command += ["--allow-root"] if os.geteuid() == 0 else []  # containers and CI often run as root
    return command + (extra[1:] if extra[:1] == ["--"] else extra)


def run_lab(root: Path, port: int, no_browser: bool, extra: list[str]) -> int:
    if not (root / "notebooks").is_dir():
        raise FileNotFoundError(f"no {root / 'notebooks'}: run `autograder release` first")
    os.chdir(root)
    os.execvpe("jupyter", lab_command(root, port, no_browser, extra), os.environ)
