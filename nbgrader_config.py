"""nbgrader's configuration: this folder is the course directory.

`solutions/` holds the instructor versions (nbgrader's source), `notebooks/` the student versions
it generates (nbgrader's release). Run nbgrader's commands from this folder.
"""

from pathlib import Path

c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.root = str(Path(__file__).parent)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
