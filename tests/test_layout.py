"""The package layout rules (docs/ARCHITECTURE.md, CONTRIBUTING.md) as tests.

* every subpackage is a stage; a stage imports only lower stages and the foundations;
* each subpackage's ``__init__`` docstring says what it may import;
* no module is longer than ``MAX_LINES`` (a longer module holds two concepts);
* argparse only in ``eels_helpers/cli``; no ``print`` in library code (it logs);
* no module-level ``__getattr__`` (objects must be visible to type checkers and autodoc).

Every module of ``eels_helpers`` is parsed with :mod:`ast` (nothing is imported), so imports
inside functions count as much as the ones at the top.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "eels_helpers"

#: The stages, lowest first: a stage may import only the stages to its left.
STAGES = ("physics", "simulation", "datasets", "models", "inference", "evaluation", "training", "book", "cli")
#: Foundation modules (eels_helpers/<name>.py): any stage may import them; they import no stage.
FOUNDATIONS = ("profiles", "device", "spectrum", "files")
#: The most lines a module may have.
MAX_LINES = 600
#: Modules allowed past MAX_LINES, with the reason ({path relative to eels_helpers/: reason}).
LONG_MODULES: dict[str, str] = {}


@dataclass(frozen=True)
class Module:
    path: Path  # the file
    name: str  # dotted module name, e.g. eels_helpers.physics.elements
    tree: ast.Module

    @property
    def relative(self) -> str:
        return self.path.relative_to(PACKAGE).as_posix()

    @property
    def package(self) -> str:
        """The package that relative imports start from."""
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]

    @property
    def unit(self) -> str:
        """Its stage, or 'foundation' for eels_helpers/<name>.py and the package's __init__."""
        parts = self.name.split(".")
        return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in STAGES) else "foundation"

    @property
    def in_cli(self) -> bool:
        return self.unit == "cli"


def _module_name(path: Path) -> str:
    parts = ["eels_helpers", *path.relative_to(PACKAGE).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = tuple(
    Module(p, _module_name(p), ast.parse(p.read_text(encoding="utf-8"), filename=str(p)))
    for p in sorted(PACKAGE.rglob("*.py"))
)


def imported_modules(module: Module) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every import in the module, at any depth.

    ``from X import name`` yields ``X.name`` (name may be a submodule) and relative imports are
    resolved against the module's package.
    """
    out = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return out


def unit_of(dotted: str) -> str | None:
    """The stage (or 'foundation') an imported eels_helpers name belongs to; None outside."""
    parts = dotted.split(".")
    if parts[0] != "eels_helpers":
        return None
    if len(parts) >= 2 and parts[1] in STAGES:
        return parts[1]
    return "foundation"  # eels_helpers.profiles..., eels_helpers.__version__, eels_helpers.device


def test_the_layout_is_the_documented_one():
    subpackages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert subpackages == sorted(STAGES), "subpackages and STAGES differ (update both and docs/ARCHITECTURE.md)"
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    unknown = [name for name in top if name not in FOUNDATIONS]
    assert not unknown, f"top-level modules {unknown} are neither a stage nor a foundation ({FOUNDATIONS})"


@pytest.mark.parametrize("stage", STAGES)
def test_subpackage_docstring_says_what_it_may_import(stage: str):
    init = PACKAGE / stage / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    assert doc.strip(), f"eels_helpers/{stage}/__init__.py has no docstring (what it holds, what it may import)"
    text = " ".join(doc.lower().split())
    assert "may import" in text, (f"eels_helpers/{stage}/__init__.py: the docstring does not say what it "
                                   "may import (a sentence with 'may import')")
    # the sentence that says it: from "may import" to the next full stop followed by a space
    sentence = text[text.index("may import"):]
    sentence = sentence.split(". ")[0]
    below = STAGES.index(stage)
    if below == 0:
        named = any(word in sentence for word in ("foundation", "profiles"))
        what = "the foundations"
    else:
        named = STAGES[below - 1] in sentence or any(
            word in sentence.split() for word in ("lower", "below", "every", "any", "all"))
        what = f"{STAGES[below - 1]!r} (the stage below) or every lower stage"
    assert named, (f"eels_helpers/{stage}/__init__.py: the 'may import' sentence should name {what}: "
                   f"{sentence!r}")


def test_stages_import_only_lower_stages_and_the_foundations():
    problems = []
    for module in MODULES:
        for line, dotted in imported_modules(module):
            target = unit_of(dotted)
            if target is None or target == "foundation" or target == module.unit:
                continue
            if module.unit == "foundation":
                problems.append(f"{module.relative}:{line}: a foundation imports the stage {target} ({dotted})")
            elif STAGES.index(target) > STAGES.index(module.unit):
                problems.append(f"{module.relative}:{line}: {module.unit} imports the higher stage {target} "
                                f"({dotted})")
    assert not problems, "imports against the stage order " + " -> ".join(STAGES) + ":\n" + "\n".join(problems)


def test_no_module_is_longer_than_max_lines():
    too_long = {}
    for module in MODULES:
        n = len(module.path.read_text(encoding="utf-8").splitlines())
        if n > MAX_LINES and module.relative not in LONG_MODULES:
            too_long[module.relative] = n
    assert not too_long, (f"modules over {MAX_LINES} lines (one concept per module: split them, or list them "
                          f"in LONG_MODULES with the reason): {too_long}")
    stale = [m for m in LONG_MODULES if not (PACKAGE / m).is_file()
             or len((PACKAGE / m).read_text(encoding="utf-8").splitlines()) <= MAX_LINES]
    assert not stale, f"LONG_MODULES lists modules that are gone or short enough now: {stale}"


def test_argparse_only_in_the_cli():
    found = [f"{m.relative}:{line}" for m in MODULES if not m.in_cli
             for line, dotted in imported_modules(m) if dotted.split(".")[0] == "argparse"]
    assert not found, f"argparse outside eels_helpers/cli (the command goes into cli/<command>.py): {found}"


def test_no_print_in_library_code():
    found = [f"{m.relative}:{node.lineno}" for m in MODULES if not m.in_cli for node in ast.walk(m.tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"]
    assert not found, f"print() in library code (log through `logging`; the CLI prints): {found}"


def test_no_module_level_getattr():
    found = [f"{m.relative}:{node.lineno}" for m in MODULES for node in m.tree.body
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "__getattr__"]
    assert not found, f"module-level __getattr__ hides objects from type checkers and autodoc: {found}"


def test_the_checks_see_imports_inside_functions_and_relative_imports():
    """The import collector itself: relative imports resolve, function-level imports count."""
    source = (
        "from . import cnn\n"
        "from ..inference import predict as p\n"
        "def f():\n"
        "    import eels_helpers.training.loop\n"
        "    from eels_helpers import profiles\n"
    )
    module = Module(PACKAGE / "models" / "example.py", "eels_helpers.models.example", ast.parse(source))
    names = [dotted for _, dotted in imported_modules(module)]
    assert names == ["eels_helpers.models.cnn", "eels_helpers.inference.predict",
                     "eels_helpers.training.loop", "eels_helpers.profiles"]
    assert [unit_of(n) for n in names] == ["models", "inference", "training", "foundation"]
    assert module.unit == "models"
    assert Module(PACKAGE / "profiles.py", "eels_helpers.profiles", ast.parse("")).unit == "foundation"
