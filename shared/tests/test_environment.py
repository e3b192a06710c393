"""environment.yml (conda, Binder) installs exactly what requirements.txt pins, plus the course
itself."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


def pins(lines: list[str]) -> dict[str, str]:
    """{normalised name: version} of the `name==version` lines; any other requirement is an
    error."""
    out = {}
    for line in lines:
        match = PIN.match(line)
        assert match, f"not a name==version pin: {line!r}"
        out[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return out


def requirements_txt() -> list[str]:
    text = (ROOT / "requirements.txt").read_text()
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def environment_yml() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def test_pip_pins_match_requirements_txt():
    pip_section = next(dep["pip"] for dep in environment_yml()["dependencies"]
                       if isinstance(dep, dict))
    assert pip_section[0] == CPU_INDEX and pip_section[-1] == "-e ."
    assert pins(pip_section[1:-1]) == pins(requirements_txt())


def test_conda_part_is_python_311_with_pip():
    env = environment_yml()
    assert env["name"] == "mlcourse" and env["channels"] == ["conda-forge"]
    assert [dep for dep in env["dependencies"] if isinstance(dep, str)] == ["python=3.11", "pip"]


def test_torch_is_pinned_to_the_cpu_version():
    assert pins(requirements_txt())["torch"] == "2.13.0"


def test_every_folder_of_code_or_data_is_a_listed_package():
    """A wheel (non-editable install) holds only the listed packages: a subpackage left out would
    install a course whose `autograder grade` or `load_pretrained()` fails."""
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = set()
    for name, folder in setuptools["package-dir"].items():
        top = ROOT / folder
        for path in [top, *top.rglob("*")]:
            parts = path.relative_to(top).parts
            # tests/ and docs/ (the README's pictures) are not needed by an installed course
            if path.is_dir() and not {"tests", "docs", "__pycache__"} & set(parts) and any(
                    f.is_file() for f in path.iterdir()):
                found.add(".".join([name, *parts]))
    assert found == listed
