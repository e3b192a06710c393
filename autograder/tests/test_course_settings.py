"""The course's settings are read from nbgrader_config.py without running it."""

from __future__ import annotations

import shutil

import pytest
from nbgrader.api import Gradebook

from autograder.course import Course, read_settings
from autograder.environment import ROOT


def test_the_late_penalty_is_read_without_running_the_config(tmp_path):
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    config = tmp_path / "nbgrader_config.py"
    config.write_text(config.read_text().replace('penalty_method = "none"',
                                                 'penalty_method = "zero"')
                      + "\nopen(__file__ + '.ran', 'w').close()\n")
    before = Gradebook.add_submission
    assert Course(tmp_path).late_plugin().penalty_method == "zero"
    assert not (tmp_path / "nbgrader_config.py.ran").exists()  # the file's own code never ran
    assert Gradebook.add_submission is before  # and nbgrader was not patched in this process
    assert read_settings(config, "Execute") == {"Execute": {"timeout": 120}}


def test_a_setting_that_is_not_a_plain_value_is_an_error_naming_its_line(tmp_path):
    setting = 'c.LateSubmissionPlugin.penalty_method = "ze" + "ro"'
    (tmp_path / "nbgrader_config.py").write_text(f"c = get_config()\n{setting}\n")
    with pytest.raises(ValueError,
                       match=r"line 2: c.LateSubmissionPlugin.penalty_method must be a plain "
                             r"value"):
        Course(tmp_path).late_plugin()


def test_no_config_means_nbgrader_defaults(tmp_path):
    assert Course(tmp_path).late_plugin().penalty_method == "none"
