"""nbgrader's configuration: this folder is the course directory.

`solutions/` holds the instructor versions (nbgrader's source), `notebooks/` the student versions
it generates (nbgrader's release). Run nbgrader's commands from this folder, with the virtual
environment activated (nbgrader creates its gradebook by running `alembic`, found on PATH).
`submitted/`, `autograded/`, `feedback/` and `gradebook.db` are nbgrader's defaults, here.
`autograder grade` uses the same structure but its own gradebook (OUT/gradebook.db, or --db).
"""

from pathlib import Path

from autograder import formgrader as course

c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.root = str(Path(__file__).parent)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# Each lesson's kept answers (solutions/<lesson>/kept_answers.py: typical mistakes and correct
# answers written differently, for the lesson tests and the demo class) never reach the student
# version.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
                            "kept_answers.py"]
# The gradebook: any SQLAlchemy URL (nbgrader's default is sqlite:///<course folder>/gradebook.db).
# c.CourseDirectory.db_url = "postgresql://user@host/course"

# A lesson's narrative cells (training runs for figures) can take longer than nbgrader's 30 s
# default.
c.Execute.timeout = 120
# Late submissions: nbgrader's plugin; 'none' records lateness without a penalty, 'zero' scores 0.
c.LateSubmissionPlugin.penalty_method = "none"

# nbgrader's own preprocessors, with the course's versions of three (autograder/formgrader.py says
# why): autograde puts the hidden tests back without warning "checksum has changed!" for every cell
# that has them,
c.Autograde.sanitize_preprocessors = course.sanitize_preprocessors()
# feedback leaves the hidden tests and their cells' outputs out, and its math (like formgrader's)
# needs no network.
c.GenerateFeedback.preprocessors = course.feedback_preprocessors()
c.HTMLExporter.extra_template_basedirs = course.template_basedirs()
# New submissions are recorded without SQLAlchemy's autoflush warnings.
course.add_submission_without_autoflush()
