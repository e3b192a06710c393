"""Every subcommand documents itself with --help, and the command line runs the release check."""

import subprocess
import sys

import pytest

from autograder.cli import main, parser

SUBCOMMANDS = sorted(parser()._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: autograder {command}" in out and len(out.splitlines()) > 4


def test_console_script_lists_the_subcommands():
    out = subprocess.run([sys.executable, "-m", "autograder.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert all(command in out for command in SUBCOMMANDS)


def test_release_check_exits_1_naming_the_notebook(tiny_course, capsys):
    assert main(["--root", str(tiny_course), "release", "--check"]) == 1
    assert "notebooks/01_fixture/01_fixture.ipynb (missing)" in capsys.readouterr().out
    assert main(["--root", str(tiny_course), "release"]) == 0
    assert main(["--root", str(tiny_course), "release", "--check"]) == 0
