"""Chapter instances: one notebook executed several times with different parameters into
different pages (eels_helpers.book.chapters.Chapter.instances and the runner's handling of them)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from eels_helpers import profiles
from eels_helpers.book import chapters
from eels_helpers.book.build import BookError, toc_chapters
from eels_helpers.book.chapters import REGISTRY as REAL_REGISTRY
from eels_helpers.book.chapters import Chapter, expand_chapters
from eels_helpers.book.runner import run_book
from eels_helpers.cli.book import list_chapters

MULTI = Chapter(
    name="01_multi",
    title="Multi",
    smoke={"arch": "a", "n": 1},
    cpu={"arch": "a", "n": 2},
    paper={"arch": "a", "n": 3},
    budget_minutes={"smoke": 0.5, "cpu": 1.0},
    instances={
        "x": {"title": "Multi: X", "params": {"arch": "x"}},
        "y": {"params": {"arch": "y"}, "cpu": {"n": 20}, "budget_minutes": {"cpu": 4.0}},
    },
)
PLAIN = Chapter(name="02_plain", title="plain", smoke={}, cpu={}, paper={})
REGISTRY = {c.name: c for c in (MULTI, PLAIN)}


def write_notebook(path: Path, cells) -> None:
    nbformat.write(new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}), str(path))


@pytest.fixture
def multi_root(make_book_root, monkeypatch) -> Path:
    root = make_book_root("multi")
    write_notebook(root / "notebooks" / "01_multi.ipynb", [
        new_markdown_cell("# Multi\n\nOne notebook, several pages."),
        new_code_cell('profile = "cpu"\narch = "a"\nn = 0', metadata={"tags": ["parameters"]}),
        new_code_cell('print(f"arch={arch} n={n} profile={profile}")'),
    ])
    write_notebook(root / "notebooks" / "02_plain.ipynb", [
        new_markdown_cell("# Plain"), new_code_cell('profile = "cpu"', metadata={"tags": ["parameters"]}),
    ])
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/executed/01_multi_x\n"
        "  - file: book/executed/01_multi_y\n  - file: book/executed/02_plain\n")
    monkeypatch.setattr(chapters, "REGISTRY", expand_chapters(REGISTRY))  # for the CLI path
    return root


def output_of(root: Path, name: str) -> str:
    nb = nbformat.read(str(root / "book" / "executed" / f"{name}.ipynb"), as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def title_of(root: Path, name: str) -> str:
    nb = nbformat.read(str(root / "book" / "executed" / f"{name}.ipynb"), as_version=4)
    return next(c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown")


# ----------------------------------------------------------------------------- expansion
def test_expansion_names_parameters_titles_budgets():
    pages = expand_chapters(REGISTRY)
    assert list(pages) == ["01_multi_x", "01_multi_y", "02_plain"]
    x, y, plain = pages.values()
    assert (x.notebook, y.notebook, plain.notebook) == ("01_multi", "01_multi", "02_plain")
    assert x.source == "01_multi" and plain.source is None
    assert dict(x.params("smoke")) == {"arch": "x", "n": 1}
    assert dict(x.params("cpu")) == {"arch": "x", "n": 2}
    assert dict(y.params("cpu")) == {"arch": "y", "n": 20}        # profile entry after params
    assert dict(y.params("paper")) == {"arch": "y", "n": 3}
    assert x.title == "Multi: X" and y.title == "Multi: y"           # default title
    assert dict(x.budget_minutes) == {"smoke": 0.5, "cpu": 1.0}
    assert dict(y.budget_minutes) == {"smoke": 0.5, "cpu": 4.0}
    assert expand_chapters(pages) == pages                           # idempotent
    assert x.expand() == [x]


@pytest.mark.parametrize(
    "instances, pattern",
    [
        ({"X": {}}, "instance suffix 'X'"),
        ({"x": {"cpu_": {}}}, r"unknown keys \['cpu_'\]"),
        ({"x": {"params": {"nn": 1}}}, r"sets \['nn'\] \(params\), which the chapter does not set"),
        ({"x": {"paper": {"nn": 1}}}, r"sets \['nn'\] \(paper\)"),
        ({"x": {"budget_minutes": {"cpu": -1}}}, r"budget_minutes\['cpu'\] must be in"),
    ],
)
def test_instance_validation(instances, pattern):
    with pytest.raises(ValueError, match=pattern):
        expand_chapters([Chapter("01_multi", "m", smoke={"n": 1}, cpu={"n": 1}, paper={"n": 1},
                                 instances=instances)])


def test_page_name_clash_rejected():
    clash = Chapter("01_multi_x", "clash")
    with pytest.raises(ValueError, match="'01_multi_x' occurs twice"):
        expand_chapters([MULTI, clash])


# ----------------------------------------------------------------------------- the runner
def test_instances_run_into_their_own_pages(multi_root):
    result = run_book("cpu", only=["01_multi"], build=False, root=multi_root, registry=REGISTRY,
                      progress=False)
    assert [c.name for c in result.chapters] == ["01_multi_x", "01_multi_y"]
    assert "arch=x n=2 profile=cpu" in output_of(multi_root, "01_multi_x")
    assert "arch=y n=20 profile=cpu" in output_of(multi_root, "01_multi_y")
    assert title_of(multi_root, "01_multi_x") == "# Multi: X"        # titled per instance
    assert title_of(multi_root, "01_multi_y") == "# Multi: y"
    assert not (multi_root / "book" / "executed" / "01_multi.ipynb").exists()
    assert not (multi_root / "book" / "executed" / "02_plain.ipynb").exists()


def test_only_one_instance_and_params_per_instance(multi_root):
    result = run_book("smoke", only=["01_multi_y", "02_plain"], params=["01_multi_y.n=7"],
                      build=False, root=multi_root, registry=REGISTRY, progress=False)
    assert [c.name for c in result.chapters] == ["01_multi_y", "02_plain"]
    assert "arch=y n=7 profile=smoke" in output_of(multi_root, "01_multi_y")
    # a notebook-wide and a global --param reach every instance; a per-page one only its page
    run_book("smoke", only=["01_multi"], params=["01_multi.n=4", "01_multi_x.arch=z"],
             build=False, root=multi_root, registry=REGISTRY, progress=False)
    assert "arch=z n=4" in output_of(multi_root, "01_multi_x")
    assert "arch=y n=4" in output_of(multi_root, "01_multi_y")
    run_book("smoke", only=["01_multi"], params=["n=9"], build=False, root=multi_root,
             registry=REGISTRY, progress=False)
    assert "n=9" in output_of(multi_root, "01_multi_x") and "n=9" in output_of(multi_root, "01_multi_y")


@pytest.mark.parametrize(
    "only, param, pattern",
    [
        (["01_multi_x"], "01_multi_x.nn=1", r"notebook 01_multi_x has no parameter 'nn'.*valid parameters: arch, n, profile"),
        (["01_multi"], "nn=1", r"no selected notebook declares a parameter 'nn'"),
        (["01_multi_x"], "01_multi_y.n=1", r"chapter '01_multi_y' is not selected"),
        (["01_multi_z"], "n=1", r"--only \['01_multi_z'\]: unknown chapter.*01_multi \(all its pages\)"),
    ],
)
def test_bad_only_or_param_rejected_before_running(multi_root, only, param, pattern):
    with pytest.raises(BookError, match=pattern):
        run_book("smoke", only=only, params=[param], build=False, root=multi_root,
                 registry=REGISTRY, progress=False)
    assert not list((multi_root / "book" / "executed").glob("*.ipynb"))


def test_toc_must_list_instance_pages(multi_root):
    assert toc_chapters(multi_root) == ["01_multi_x", "01_multi_y", "02_plain"]
    (multi_root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/executed/01_multi\n"
        "  - file: book/executed/02_plain\n")
    with pytest.raises(BookError, match=r"_toc.yml lists \['01_multi'\] but"):
        run_book("smoke", build=False, root=multi_root, registry=REGISTRY, progress=False)


def test_cli_selects_instances(multi_root, capsys):
    from eels_helpers.cli import main

    args = ["book", "--root", str(multi_root), "--no-progress", "--no-build", "--profile", "smoke"]
    assert main([*args, "--only", "01_multi_x", "--param", "01_multi_x.n=3"]) == 0
    assert "arch=x n=3 profile=smoke" in output_of(multi_root, "01_multi_x")
    assert main([*args, "--only", "01_multi_x", "--param", "01_multi_x.bogus=3"]) == 2     # a usage error
    assert "bogus" in capsys.readouterr().err
    text = list_chapters("cpu", registry=REGISTRY)
    assert "01_multi_x  [1.0 min]  arch='x', n=2" in text and "01_multi_y  [4.0 min]" in text


# ----------------------------------------------------------------------------- the real book
def test_training_chapter_runs_once_per_architecture(repo_root):
    from eels_helpers.models import MODEL_NAMES

    pages = [n for n in REAL_REGISTRY if REAL_REGISTRY[n].notebook == "04_train_architecture"]
    assert sorted(pages) == sorted(f"04_train_architecture_{m}" for m in MODEL_NAMES)
    for name in pages:
        arch = name.rsplit("_", 1)[1]
        for profile in profiles.PROFILES:
            assert REAL_REGISTRY[name].params(profile)["architecture"] == arch
    # the summary comes right after the six pages, in the registry and in _toc.yml
    names = list(REAL_REGISTRY)
    assert names.index("05_table2_simulated") == max(names.index(n) for n in pages) + 1
    assert toc_chapters(repo_root) == names
    cpu_training = sum(REAL_REGISTRY[n].budget_minutes["cpu"] for n in pages)
    assert cpu_training <= 65, f"the six trainings are budgeted {cpu_training} min at cpu"
    assert sum(REAL_REGISTRY[n].budget_minutes["smoke"] for n in pages) <= 3.0


@pytest.mark.slow  # uses the session's smoke book (all real chapters at the smoke profile)
def test_smoke_book_training_pages_and_table2(smoke_book):
    from eels_helpers.evaluation.paper_numbers import DISPLAY_NAMES
    from eels_helpers.training.runs import find_results

    assert smoke_book.exit_code == 0
    executed = smoke_book.html / "book" / "executed"
    for arch, label in DISPLAY_NAMES.items():
        page = (executed / f"04_train_architecture_{arch}.html").read_text()
        assert f"Train an architecture: {label}" in page          # titled by its architecture
        res = find_results(smoke_book.root / "_build" / "train", arch, "smoke")
        assert res is not None and res.architecture == arch and res.profile == "smoke"
        assert 0 <= res.scores.f1 <= 1 and res.parameters > 0
    table = (executed / "05_table2_simulated.html").read_text()
    # all six results were found (the code cell shows the other branch's text, not its output)
    assert "All six architectures were trained at the" in table
    assert "<td>not run</td>" not in table
    for label in DISPLAY_NAMES.values():
        assert f">{label}<" in table
    assert "0.84" in table and "ms/spectrum" in table              # the paper's ViT F1, our unit
