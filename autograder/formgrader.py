"""nbgrader's own tools on this course: formgrader on a graded class, and the course's settings of
plain nbgrader.

`autograder formgrader OUT` starts JupyterLab with nbgrader's formgrader on the class `autograder
grade` wrote into OUT, through autograder/formgrader_server.py (in which nothing a student or a
roster sends can run), and not as root unless told to (`leave_root`). Formgrader takes everything
from nbgrader's configuration, so the command writes OUT/nbgrader_config.py (loaded from the
server's working folder, OUT, as nbgrader loads it from wherever it is started; the course's own
nbgrader_config.py is loaded after it): the course folder is nbgrader's root (solutions/ the
source), the autograded notebooks, feedback folder and gradebook are OUT's. Formgrader lists a
submission for every gradebook row whose OUT/autograded/<student>/<assignment>/<notebook>.ipynb
exists (`write_autograded`), and saves a score typed there as the grade's manual_score, which
`autograder grade` keeps and exports.

The course's nbgrader_config.py configures nbgrader's own preprocessors with the classes below, so
that plain nbgrader says nothing false and gives nothing away:

- `OverwriteCellsAsReleased`: `nbgrader autograde` warns "checksum has changed!" for every test cell
  with hidden tests of every student, although nobody changed it (nbgrader issue #1961);
- `LeaveOutHiddenTests`: `nbgrader generate_feedback` shows every cell as autograded, hidden tests
  included;
- `OfflineMathJax` and the MathJax macro in templates/nbconvert/: formgrader's and the feedback
  pages' MathJax comes from a CDN, so offline their math stays raw and formgrader's grading page
  stops at a script error;
- `add_submission_without_autoflush`: nbgrader's gradebook prints SQLAlchemy warnings for every new
  submission.
"""

from __future__ import annotations

import functools
import os
import pwd
from pathlib import Path

import nbformat
import nbgrader
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import Autograde, GenerateFeedback
from nbgrader.exchange import ExchangeError
from nbgrader.exchange.default import ExchangeList
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor, OverwriteCells
from nbgrader.utils import check_directory

from autograder.feedback import copy_mathjax
from autograder.gradebook import default_db_url
from autograder.sanitise import SafeNotebook

COURSE_TEMPLATES = Path(__file__).parent / "templates" / "nbconvert"
NBGRADER_TEMPLATES = (Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
                      / "templates")
NBGRADER_EXTENSION = "nbgrader.server_extensions.formgrader"
# nbgrader's formgrader in which nothing a student sends runs
SAFE_EXTENSION = "autograder.formgrader_server"
HIDDEN_OUTPUT_LEFT_OUT = ("This cell's tests include hidden ones: its output is left out here, as "
                          "it could show them. The score above counts them.\n")


# --- formgrader on a graded class -----------------------------------------------------------------

def submitted_folder(root: Path, out: Path) -> Path:
    """Where formgrader reads each submission's timestamp.txt (a submission counts as autograded
    there when it matches the gradebook's time): OUT/submitted when there is one (the demo class is
    built there), else nbgrader's submitted/ of the course, where `nbgrader collect` puts
    submissions."""
    return out / "submitted" if (out / "submitted").is_dir() else root / "submitted"


def class_config(root: Path, out: Path, db_url: str) -> str:
    """The text of OUT/nbgrader_config.py: nbgrader's course directory for the class graded into
    OUT."""
    settings = {"root": root, "submitted_directory": submitted_folder(root, out),
                "autograded_directory": out / "autograded", "feedback_directory": out / "feedback",
                "db_url": db_url}
    lines = [f"c.CourseDirectory.{name} = {str(value)!r}" for name, value in settings.items()]
    return "\n".join([
        "# Written by `autograder formgrader` at each start: "
        "nbgrader's course directory for the class graded here.",
        "c = get_config()  # noqa: F821 (nbgrader provides it)", *lines,
        "# Formgrader's Manage Assignments page would show this configuration, "
        "the gradebook's password included.",
        "c.FormgradeExtension.debug = False",
        "c.ExchangeFactory.list = 'autograder.formgrader.ExchangeListWithoutAlarm'", ""])


def formgrader_command(root: Path, port: int, no_browser: bool,
                       allow_root: bool = False) -> list[str]:
    """The `jupyter lab` command line: the course folder as the lab's root (formgrader needs
    nbgrader's root inside it), exactly `port` (a busy port is an error, not another port), and the
    course's formgrader (autograder/formgrader_server.py) in place of nbgrader's."""
    command = ["jupyter", "lab", f"--ServerApp.root_dir={root}", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", "--ServerApp.jpserver_extensions",
               f"{NBGRADER_EXTENSION}=False", "--ServerApp.jpserver_extensions",
               f"{SAFE_EXTENSION}=True"]
    command += ["--no-browser"] if no_browser else []
    return command + (["--allow-root"] if allow_root else [])


def leave_root(out: Path, db_url: str | None) -> None:
    """As root, become the user who ran sudo (SUDO_USER); refuse (PermissionError) without one, or
    when that user cannot write OUT. A Jupyter server run as root starts every kernel and terminal
    as root, and formgrader's pages show what students wrote: with `--allow-root` the instructor
    accepts that."""
    user = os.environ.get("SUDO_USER")
    if not user or user == "root":
        raise PermissionError("will not run as root (a Jupyter server as root runs every kernel "
                              "and terminal it starts as root): run it as your own user, or with "
                              "sudo from it, or pass --allow-root")
    account = pwd.getpwnam(user)
    os.initgroups(user, account.pw_gid)
    os.setgid(account.pw_gid)
    os.setuid(account.pw_uid)
    os.environ.update(HOME=account.pw_dir, USER=user, LOGNAME=user)
    if not os.access(out, os.W_OK) or db_url is None and not os.access(out / "gradebook.db",
                                                                       os.W_OK):
        raise PermissionError(f"{user} (who ran sudo) cannot write {out}, where formgrader saves "
                              f"scores: chown -R {user} {out}, or pass --allow-root")


def run_formgrader(root: Path, out: Path, port: int, db_url: str | None, no_browser: bool,
                   allow_root: bool = False) -> None:
    """Become JupyterLab with formgrader on the class graded into OUT (stopping this process stops
    the server). As root, first become the user who ran sudo, unless `allow_root`."""
    if not (out / "autograded").is_dir():
        raise FileNotFoundError(f"no {out / 'autograded'}: grade the class first (autograder grade "
                                f"SUBMISSIONS --out {out})")
    if db_url is None and not (out / "gradebook.db").is_file():
        raise FileNotFoundError(f"no {out / 'gradebook.db'}: give the gradebook the class was "
                                "graded into with --db")
    as_root = os.geteuid() == 0
    if as_root and not allow_root:
        leave_root(out, db_url)
    config = out / "nbgrader_config.py"
    config.unlink(missing_ok=True)
    # it may hold a password
    with open(os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(class_config(root, out, db_url or default_db_url(out)))
    os.chdir(out)
    os.execvpe("jupyter", formgrader_command(root, port, no_browser, as_root and allow_root),
               os.environ)


class ExchangeListWithoutAlarm(ExchangeList):
    """nbgrader's exchange lister. Formgrader runs it on every request to learn whether there is an
    exchange, and without one nbgrader logs "Unwritable directory, please contact your instructor"
    as critical each time: the same error, without the log line (formgrader's page already says the
    exchange is missing)."""

    def ensure_root(self):
        if not check_directory(self.root, write=True, execute=True):
            raise ExchangeError(f"no exchange folder {self.root}")


# --- the course's settings of plain nbgrader (nbgrader_config.py) ---------------------------------

class OverwriteCellsAsReleased(OverwriteCells):
    """nbgrader's OverwriteCells, which puts the gradebook's version back into every read-only cell
    and warns "checksum has changed!" when the submitted cell differs from it. The gradebook keeps a
    test cell with its hidden tests and students get it without them, so the warning came for every
    such cell of every student. A cell submitted exactly as released is put back without the
    warning; a cell a student changed still warns."""

    def preprocess_cell(self, cell, resources, cell_index):
        self.submitted_source = cell.source
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name, attr, old, new):
        if attr == "checksum" and self.submitted_source == self.released_source(name):
            return
        super().report_change(name, attr, old, new)

    def released_source(self, grade_id: str) -> str | None:
        """The cell as students got it: the gradebook's, without its hidden tests (nbgrader's
        ClearHiddenTests)."""
        try:
            source = self.gradebook.find_source_cell(grade_id, self.notebook_id,
                                                     self.assignment_id).source
        except MissingEntry:
            return None
        clear = ClearHiddenTests(parent=self, enforce_metadata=False)
        return clear.preprocess_cell(nbformat.v4.new_code_cell(source), {}, 0)[0].source


class LeaveOutHiddenTests(ClearHiddenTests):
    """For feedback: nbgrader's ClearHiddenTests, and the outputs of a cell that had hidden tests
    replaced by a note (a traceback would show the hidden line it stopped at, a check's message the
    expected value)."""

    def preprocess_cell(self, cell, resources, cell_index):
        source = cell.source
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.source != source and cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                   text=HIDDEN_OUTPUT_LEFT_OUT)]
        return cell, resources


class OfflineMathJax(NbGraderPreprocessor):
    """For feedback: MathJax copied once into the feedback folder (feedback/.mathjax), where the
    course's MathJax macro loads it from when a page is opened as a file (a page a Jupyter server
    serves uses the server's)."""

    def preprocess(self, nb, resources):
        converter = self.parent.parent  # the exporter's parent: nbgrader's GenerateFeedback
        coursedir = converter.coursedir
        copy_mathjax(Path(coursedir.format_path(coursedir.feedback_directory, ".", ".")))
        return nb, resources


def sanitize_preprocessors() -> list:
    """`nbgrader autograde`'s sanitizing preprocessors, OverwriteCellsAsReleased for nbgrader's
    OverwriteCells."""
    default = Autograde.class_traits()["sanitize_preprocessors"].default()
    return [OverwriteCellsAsReleased if p is OverwriteCells else p for p in default]


def feedback_preprocessors() -> list:
    """`nbgrader generate_feedback`'s preprocessors, then the hidden tests and their outputs left
    out, MathJax, and the student's Markdown and every output made safe (autograder/sanitise.py)."""
    return [*GenerateFeedback.class_traits()["preprocessors"].default(), LeaveOutHiddenTests,
            OfflineMathJax, SafeNotebook]


def template_basedirs() -> list[str]:
    """Where HTMLExporter looks for templates: the course's MathJax macro first (it replaces
    nbconvert's, which loads MathJax from a CDN), then nbgrader's formgrade and feedback
    templates."""
    return [str(COURSE_TEMPLATES), str(NBGRADER_TEMPLATES)]


def add_submission_without_autoflush() -> None:
    """nbgrader's Gradebook.add_submission builds a submission's rows and then adds them to the
    session; reading the assignment's notebooks and cells on the way autoflushes the half-built
    rows, and SQLAlchemy 2 (which no longer cascades along backrefs) warns for each kind ("Object of
    type <SubmittedAssignment> not in session, add operation along 'Assignment.submissions' will not
    proceed"). Nothing is lost, the session.add that follows adds them all: the same method with
    autoflush off while it builds, as SQLAlchemy's message advises."""
    built = Gradebook.add_submission
    if getattr(built, "without_autoflush", False):
        return

    @functools.wraps(built)
    def add_submission(self, *args, **kwargs):
        with self.db.no_autoflush:
            return built(self, *args, **kwargs)

    add_submission.without_autoflush = True
    Gradebook.add_submission = add_submission
