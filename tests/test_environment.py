"""The conda recipe (environment.yml) pins exactly what pyproject.toml pins; CI runs the README's
test command; the README shows both commands."""

from __future__ import annotations

import re

import pytest
import tomllib
import yaml

PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*==\s*([^\s;#]+)\s*$")


def normalise(name: str) -> str:
    """PEP 503 name normalisation (jupyter_book == Jupyter-Book == jupyter-book)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements, where: str) -> dict[str, str]:
    out = {}
    for req in requirements:
        if req.strip() in {"-e .", "."} or req.strip().startswith("-e "):
            continue
        m = PIN.match(req)
        assert m, f"{where}: {req!r} is not an exact pin NAME==X.Y.Z"
        out[normalise(m.group(1))] = m.group(3)
    return out


@pytest.fixture(scope="module")
def pyproject(repo_root):
    return tomllib.loads((repo_root / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def conda_env(repo_root):
    return yaml.safe_load((repo_root / "environment.yml").read_text())


def conda_pip_section(env) -> list[str]:
    sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1, "environment.yml must have exactly one pip section"
    return sections[0]


def test_environment_pins_match_pyproject(pyproject, conda_env):
    project = pyproject["project"]
    required = pins(project["dependencies"], "pyproject dependencies")
    required |= pins(project["optional-dependencies"]["test"], "pyproject [test]")
    optional = {}
    for extra, reqs in project["optional-dependencies"].items():
        if extra != "test":
            optional |= pins(reqs, f"pyproject [{extra}]")
    conda = pins(conda_pip_section(conda_env), "environment.yml pip section")

    problems = []
    for name, version in sorted(required.items()):
        if name not in conda:
            problems.append(f"{name}: pinned =={version} in pyproject.toml, missing from environment.yml")
        elif conda[name] != version:
            problems.append(f"{name}: pyproject.toml =={version}, environment.yml =={conda[name]}")
    for name, version in sorted(conda.items()):
        if name in required:
            continue
        if name in optional and optional[name] != version:
            problems.append(f"{name}: pyproject.toml extra =={optional[name]}, environment.yml =={version}")
        elif name not in optional:
            problems.append(f"{name}: =={version} in environment.yml but not pinned in pyproject.toml")
    assert not problems, "environment.yml and pyproject.toml disagree:\n" + "\n".join(problems)


def test_environment_python_and_torch(conda_env):
    deps = [d for d in conda_env["dependencies"] if isinstance(d, str)]
    assert "python=3.11" in deps
    assert "pip" in deps
    assert "torch==2.13.0" in conda_pip_section(conda_env)


def test_pin_checker_reports_differences():
    """The comparison itself: a differing or missing pin is named."""
    assert pins(["NumPy==2.4.6", "jupyter_book==1.0.4.post1", "-e ."], "x") == {
        "numpy": "2.4.6", "jupyter-book": "1.0.4.post1"}
    with pytest.raises(AssertionError, match="not an exact pin"):
        pins(["numpy>=2"], "x")


def test_ci_runs_make_test(repo_root):
    script = (repo_root / ".ci" / "run").read_text()
    commands = [line.strip() for line in script.splitlines()
                if line.strip() and not line.strip().startswith("#")]
    assert "make test" in commands, ".ci/run must call `make test`"


def test_readme_has_both_commands(repo_root):
    readme = (repo_root / "README.md").read_text()
    for command in ("make book", "make test"):
        assert re.search(rf"^\s*{command}\b", readme, re.M), f"README must show `{command}`"
    makefile = (repo_root / "Makefile").read_text()
    assert re.search(r"^book:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "eels-id book" in makefile
