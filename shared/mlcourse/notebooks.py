"""Running a notebook top to bottom, for the course's tools (run-solutions, the local check, the
reader's site, the lesson tests), never imported by a lesson.

The kernel talks over IPC sockets in a private temporary folder instead of TCP on localhost:
nothing else on the machine can reach it, and ipykernel has no "running over TCP without
encryption" to warn about.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from traitlets.config import Config


def execute_notebook(notebook: nbformat.NotebookNode, folder: Path, *, timeout: int,
                     allow_errors: bool = False,
                     env: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """Execute `notebook` in place in a fresh python3 kernel started in `folder`, and return it;
    with `allow_errors`, a cell that raises keeps its error as output and the next cells run,
    else nbclient's CellExecutionError is raised. `env`: the kernel's environment (default: this
    process's)."""
    with tempfile.TemporaryDirectory(prefix="mlcourse-kernel-") as sockets:
        # Configured rather than passed in, so that nbclient owns the kernel manager and shuts the
        # kernel down.
        ipc = Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(sockets, "kernel")}})
        client = NotebookClient(notebook, config=ipc, timeout=timeout, kernel_name="python3",
                                allow_errors=allow_errors,
                                resources={"metadata": {"path": str(folder)}})
        client.execute(**({} if env is None else {"env": env}))
    return notebook
