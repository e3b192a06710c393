"""Where the course is, and the environment the harness's tools run in.

nbgrader creates its gradebook by calling `alembic` by name, and JupyterLab finds `nbgrader` and
the kernel the same way: every tool the harness starts gets this virtual environment's `bin/`
first on PATH, so nothing depends on the caller having activated it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# the course folder: solutions/, notebooks/, nbgrader_config.py
ROOT = Path(__file__).resolve().parents[1]


def tool_env(**extra: str) -> dict[str, str]:
    """os.environ with the running interpreter's bin/ first on PATH (plus `extra` variables)."""
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != bin_dir:
        path = os.pathsep.join([bin_dir, path]) if path else bin_dir
    return {**os.environ, "PATH": path, **extra}


def use_tool_env() -> None:
    """Put the interpreter's bin/ on this process's PATH (nbgrader's gradebook runs `alembic`)."""
    os.environ.update(tool_env())
