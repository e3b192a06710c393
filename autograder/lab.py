"""JupyterLab for the course: the student's lab, with the student's nbgrader tools only.

`autograder lab` becomes `jupyter lab` (exec: stopping this process stops the server), started from
the course folder so that nbgrader's Validate reads the course's nbgrader_config.py. nbgrader
installs the instructor's tools in the same environment (Formgrader, Create Assignment, Course
List), and an Assignment List that only works with an exchange. For this launch only, a config
folder of its own, put first on Jupyter's config path (JUPYTER_CONFIG_PATH), holds what `jupyter
server extension disable`, `jupyter labextension disable` and `jupyter labextension lock` would
write, so the instructor's `jupyter lab` or formgrader in the same environment keeps every tool:

- always off: the formgrader and course-list server extensions, the Formgrader, Create Assignment
  and Course List lab plugins (locked, so the lab's plugin manager cannot turn them back on);
- with an exchange (`--exchange DIR --course-id ID`): the Assignment List, whose Fetch and Submit
  work in the folder the lab opens on (the current folder: the student's own), as
  `nbgrader fetch_assignment` and `nbgrader submit` run from there would; without one it is off too,
  with nbgrader's menu (whose only student item it is).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

INSTRUCTOR_SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader",
                                "nbgrader.server_extensions.course_list")
INSTRUCTOR_LAB_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                          "@jupyter/nbgrader:course-list")
EXCHANGE_SERVER_EXTENSIONS = ("nbgrader.server_extensions.assignment_list",)
EXCHANGE_LAB_PLUGINS = ("@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:menu")


@dataclass(frozen=True)
class Exchange:
    """nbgrader's exchange as a student sees it: its folder and the course's id there."""

    root: Path
    course_id: str


def lab_config(folder: Path, exchange: Exchange | None, work: Path) -> Path:
    """Write the launch's config folder (replacing an earlier launch's): the extensions and plugins
    it turns off, and with an exchange the student's nbgrader settings for the Assignment List,
    whose assignments are fetched into and submitted from `work`."""
    from jupyter_server.config_manager import BaseJSONConfigManager
    from jupyter_server.extension.config import ExtensionConfigManager

    shutil.rmtree(folder, ignore_errors=True)
    server_off = INSTRUCTOR_SERVER_EXTENSIONS + (() if exchange else EXCHANGE_SERVER_EXTENSIONS)
    plugins_off = {name: True
                   for name in INSTRUCTOR_LAB_PLUGINS + (() if exchange else EXCHANGE_LAB_PLUGINS)}
    extensions = ExtensionConfigManager(read_config_path=[str(folder)],
                                        write_config_dir=str(folder / "jupyter_server_config.d"))
    for name in server_off:
        extensions.disable(name)
    BaseJSONConfigManager(config_dir=str(folder / "labconfig")).set(
        "page_config", {"disabledExtensions": plugins_off, "lockedExtensions": plugins_off})
    if exchange:
        # The Assignment List reads nbgrader's config from the Jupyter config path; assignment_dir
        # is where Fetch puts assignments and Submit takes them from (nbgrader's default "." is
        # the server's cwd).
        BaseJSONConfigManager(config_dir=str(folder)).set("nbgrader_config", {
            "Exchange": {"root": str(exchange.root), "assignment_dir": str(work)},
            "CourseDirectory": {"course_id": exchange.course_id}})
    return folder


def lab_command(work: Path, port: int, no_browser: bool, extra: list[str]) -> list[str]:
    """The `jupyter lab` command line of the student's lab on the folder `work`; `extra` goes to
    jupyter (a leading `--` dropped)."""
    command = ["jupyter", "lab", f"--ServerApp.root_dir={work}", f"--ServerApp.port={port}"]
    command += ["--no-browser"] if no_browser else []
    command += ["--allow-root"] if os.geteuid() == 0 else []  # containers and CI often run as root
    return command + (extra[1:] if extra[:1] == ["--"] else extra)


def run_lab(root: Path, port: int, no_browser: bool, extra: list[str],
            exchange: Exchange | None = None) -> int:
    from jupyter_core.paths import jupyter_runtime_dir

    if exchange is None and not (root / "notebooks").is_dir():
        raise FileNotFoundError(f"no {root / 'notebooks'}: run `autograder release` first")
    if exchange is not None and not exchange.root.is_dir():
        raise FileNotFoundError(f"no exchange folder {exchange.root}: the instructor creates it "
                                "(mkdir, then chmod ugo+rw) and releases assignments into it "
                                "with `nbgrader release_assignment`")
    work = Path.cwd() if exchange else root / "notebooks"
    config = lab_config(Path(jupyter_runtime_dir()) / f"autograder-lab-{port}", exchange, work)
    paths = [str(config),
             *filter(None, os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep))]
    os.chdir(root)
    env = {**os.environ, "JUPYTER_CONFIG_PATH": os.pathsep.join(paths)}
    os.execvpe("jupyter", lab_command(work, port, no_browser, extra), env)
