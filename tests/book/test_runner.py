"""Tests of the book runner (eels_helpers.book.runner) on tiny temporary notebooks, and one run of
``eels-id book --profile smoke`` on the real chapters (the ``smoke_book`` fixture)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from eels_helpers.book import chapters
from eels_helpers.book.build import BookError, toc_chapters
from eels_helpers.book.chapters import Chapter
from eels_helpers.book.runner import (
    ParamOverride,
    notebook_parameters,
    parse_param,
    run_book,
)

TINY = Chapter(
    name="01_tiny",
    title="tiny",
    smoke={"n": 2, "scale": 1.5},
    cpu={"n": 3, "scale": 2.0},
    paper={"n": 4, "scale": 4.0},
)
FAIL = Chapter(name="02_fail", title="fails", smoke={}, cpu={}, paper={})
REGISTRY = {c.name: c for c in (TINY, FAIL)}


def write_notebook(path: Path, cells) -> None:
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, str(path))


def tiny_cells():
    return [
        new_markdown_cell("# Tiny chapter\n\nA sum: $a + b$."),
        new_code_cell('profile = "cpu"\nn = 1\nscale = 0.5\nitems = [1]',
                      metadata={"tags": ["parameters"]}),
        new_code_cell('print(f"result={n * scale} profile={profile} items={items}")'),
    ]


def fail_cells():
    return [
        new_markdown_cell("# Failing chapter"),
        new_code_cell('profile = "cpu"', metadata={"tags": ["parameters"]}),
        new_code_cell("x = 1"),
        new_code_cell("y = x / 0  # the failing cell"),
        new_code_cell('print("never reached")'),
    ]


@pytest.fixture
def tiny_root(make_book_root, monkeypatch) -> Path:
    root = make_book_root("tiny")
    write_notebook(root / "notebooks" / "01_tiny.ipynb", tiny_cells())
    write_notebook(root / "notebooks" / "02_fail.ipynb", fail_cells())
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n"
        "  - file: book/executed/01_tiny\n  - file: book/executed/02_fail\n"
    )
    monkeypatch.setattr(chapters, "REGISTRY", REGISTRY)  # for the CLI path
    return root


def executed(root: Path, name: str):
    return nbformat.read(str(root / "book" / "executed" / f"{name}.ipynb"), as_version=4)


def stream_text(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


# ----------------------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    "text, expected",
    [
        ("n=3", ParamOverride("n", 3)),
        ("lr=1e-3", ParamOverride("lr", 1e-3)),
        ("sizes=[16, 32]", ParamOverride("sizes", [16, 32])),
        ("flag=True", ParamOverride("flag", True)),
        ("name=vit", ParamOverride("name", "vit")),
        ("name='a b'", ParamOverride("name", "a b")),
        ("path=/tmp/x=y", ParamOverride("path", "/tmp/x=y")),
        ("03_sim.n_spectra=64", ParamOverride("n_spectra", 64, "03_sim")),
        ("shape=(2, 3)", ParamOverride("shape", [2, 3])),
        ("x=nan", ParamOverride("x", "nan")),  # not a literal: a string
    ],
)
def test_parse_param(text, expected):
    assert parse_param(text) == expected


@pytest.mark.parametrize("text", ["n", "1n=3", "a.b-c=1", "s={1, 2}", "z=1j", "x=1e999"])
def test_parse_param_rejects_malformed(text):
    with pytest.raises(BookError, match="--param"):
        parse_param(text)


def test_notebook_parameters_and_missing_parameters_cell(tmp_path):
    path = tmp_path / "x.ipynb"
    write_notebook(path, tiny_cells())
    assert set(notebook_parameters(path)) == {"profile", "n", "scale", "items"}
    write_notebook(path, [new_code_cell("n = 1")])
    with pytest.raises(BookError, match="no cell tagged 'parameters'"):
        notebook_parameters(path)


# ----------------------------------------------------------------------------- execution
def test_executes_with_profile_and_records_metadata(tiny_root):
    result = run_book("smoke", only=["01_tiny"], build=False, root=tiny_root,
                      registry=REGISTRY, progress=False)
    assert [c.name for c in result.chapters] == ["01_tiny"]
    nb = executed(tiny_root, "01_tiny")
    # the smoke values were injected and used; the shared `profile` too
    assert "result=3.0 profile=smoke items=[1]" in stream_text(nb)
    info = nb.metadata["eels_book"]
    assert info["profile"] == "smoke"
    assert info["parameters"] == {"profile": "smoke", "n": 2, "scale": 1.5}
    assert info["overrides"] == {}
    assert 0 < info["duration_s"] < 120
    assert info["duration_s"] == pytest.approx(result.chapters[0].duration_s, abs=1e-2)
    for pkg in ("eels_helpers", "numpy", "torch", "papermill", "python"):
        assert info["versions"][pkg] and info["versions"][pkg] != "not installed"
    # injected-parameters cell hidden from the page, visible note + footer added
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata.tags
    notes = [c for c in nb.cells if "eels-book-run-info" in c.metadata.get("tags", [])]
    assert len(notes) == 2
    assert "`smoke`" in notes[0].source and "`n = 2`" in notes[0].source
    assert "Run information" in notes[1].source and "numpy" in notes[1].source
    # nothing else was executed
    assert not (tiny_root / "book" / "executed" / "02_fail.ipynb").exists()


def test_param_overrides(tiny_root):
    run_book("cpu", only=["01_tiny"], params=["n=5", "01_tiny.items=[2, 3]"], build=False,
             root=tiny_root, registry=REGISTRY, progress=False)
    nb = executed(tiny_root, "01_tiny")
    assert "result=10.0 profile=cpu items=[2, 3]" in stream_text(nb)
    assert nb.metadata["eels_book"]["overrides"] == {"n": 5, "items": [2, 3]}


@pytest.mark.parametrize(
    "param, pattern",
    [
        # a global --param that no selected notebook declares
        ("nn=5", r"no selected notebook declares a parameter 'nn'.*01_tiny: items, n, profile, scale"),
        # a --param targeted at one notebook
        ("01_tiny.sclae=2", r"notebook 01_tiny has no parameter 'sclae'.*valid parameters: items, n, profile, scale"),
    ],
)
def test_unknown_param_rejected_before_running(tiny_root, param, pattern):
    with pytest.raises(BookError, match=pattern):
        run_book("smoke", only=["01_tiny"], params=[param], build=False, root=tiny_root,
                 registry=REGISTRY, progress=False)
    assert not (tiny_root / "book" / "executed" / "01_tiny.ipynb").exists()


def test_registry_typo_rejected(tiny_root):
    typo = Chapter(name="01_tiny", title="t", smoke={"nn": 1}, cpu={"nn": 1}, paper={"nn": 1})
    registry = {**REGISTRY, "01_tiny": typo}
    with pytest.raises(BookError, match=r"notebook 01_tiny: the registry .* sets \['nn'\]"):
        run_book("smoke", only=["01_tiny"], build=False, root=tiny_root, registry=registry,
                 progress=False)


def test_failing_notebook_named_with_cell(tiny_root):
    with pytest.raises(BookError) as info:
        run_book("smoke", build=False, root=tiny_root, registry=REGISTRY, progress=False)
    msg = str(info.value)
    assert "notebook 02_fail failed at cell 4 of" in msg  # 1-based, as in the source notebook
    assert "y = x / 0" in msg and "ZeroDivisionError" in msg
    failed = tiny_root / "book" / "executed" / "02_fail.failed.ipynb"
    assert failed.is_file() and str(failed) in msg
    assert not (tiny_root / "book" / "executed" / "02_fail.ipynb").exists()
    # the chapter before it was executed and kept
    assert (tiny_root / "book" / "executed" / "01_tiny.ipynb").is_file()


def test_cli_errors(tiny_root, capsys):
    from eels_helpers.cli import main

    root = ["--root", str(tiny_root), "--no-progress", "--no-build"]
    assert main(["book", "--profile", "gpu", *root]) == 2           # a wrong command line: 2 (README)
    err = capsys.readouterr().err
    assert "unknown profile 'gpu'; valid profiles: smoke, cpu, paper" in err
    assert main(["book", "--profile", "smoke", "--only", "01_tiny", "--param", "bogus=1", *root]) == 2
    assert "bogus" in capsys.readouterr().err
    assert main(["book", "--profile", "smoke", "--only", "99_nope", *root]) == 2
    assert "--only ['99_nope']: unknown chapter" in capsys.readouterr().err
    assert main(["book", "--profile", "smoke", "--param", "n", *root]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err
    assert main(["book", "--profile", "smoke", "--only", "02_fail", *root]) == 1
    assert "notebook 02_fail failed at cell 4" in capsys.readouterr().err
    assert main(["book", "--profile", "smoke", "--only", "01_tiny", *root]) == 0


def test_toc_and_registry_must_agree(tiny_root):
    assert toc_chapters(tiny_root) == ["01_tiny", "02_fail"]
    with pytest.raises(BookError, match=r"_toc.yml lists \['02_fail'\] but .* does not register"):
        run_book("smoke", build=False, root=tiny_root, registry={"01_tiny": TINY}, progress=False)


def test_build_renders_executed_pages_without_injected_cell(tiny_root):
    """--only one chapter: the never-executed one is left out of the build, which passes -W."""
    result = run_book("smoke", only=["01_tiny"], params=["scale=0.25"], root=tiny_root,
                      output=tiny_root / "out", registry=REGISTRY, progress=False)
    html_dir = result.html_dir
    assert html_dir == tiny_root / "out" / "_build" / "html"
    page = (html_dir / "book" / "executed" / "01_tiny.html").read_text()
    assert "result=0.5 profile=smoke" in page
    assert "tag_parameters" in page  # tags become CSS classes ...
    assert "tag_injected-parameters" not in page  # ... and the injected cell is gone
    assert "Run information" in page and "executed with the" in page
    assert not (html_dir / "book" / "executed" / "02_fail.html").exists()
    # the math is left for the local MathJax, loaded from _static
    assert re.search(r'<script[^>]+src="[./]*_static/vendor/mathjax/tex-chtml\.js', page)


# ----------------------------------------------------------------------------- real chapters
@pytest.mark.slow  # grows with the number of chapters (each at most seconds at smoke)
def test_smoke_book_of_the_real_chapters(smoke_book, repo_root):
    assert smoke_book.exit_code == 0
    assert (smoke_book.html / "index.html").is_file()
    names = toc_chapters(repo_root)
    assert names and names[0] == "01_introduction"
    for name in names:
        page = smoke_book.html / "book" / "executed" / f"{name}.html"
        assert page.is_file(), name
        nb = executed(smoke_book.root, name)
        assert nb.metadata["eels_book"]["profile"] == "smoke"
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                  if o.output_type == "error"]
        assert not errors, (name, errors)
        json.dumps(nb.metadata["eels_book"])  # metadata stays JSON


# ----------------------------------------------------------------------------- kernel
def test_kernel_runs_this_interpreter():
    import sys

    from jupyter_client.kernelspec import KernelSpecManager

    from eels_helpers.book.runner import ensure_kernel

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert ensure_kernel() == Path(spec.resource_dir)
    exe = spec.argv[0]
    assert exe.startswith("python") or Path(exe).resolve() == Path(sys.executable).resolve()


def test_foreign_kernel_is_refused(tmp_path, monkeypatch):
    """A python3 kernelspec that shadows ours and runs another interpreter is named."""
    import ipykernel.kernelspec

    from eels_helpers.book.runner import ensure_kernel

    spec_dir = tmp_path / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps(
        {"argv": ["/opt/other/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
         "display_name": "other", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    installed = []
    monkeypatch.setattr(ipykernel.kernelspec, "install", lambda **kw: installed.append(kw))
    with pytest.raises(BookError, match=r"runs /opt/other/bin/python, not this environment's"):
        ensure_kernel()
    assert installed and installed[0]["prefix"]  # it tried to install into sys.prefix first


def test_list_chapters(capsys):
    from eels_helpers.cli import main
    from eels_helpers.cli.book import list_chapters

    text = list_chapters("paper", registry=REGISTRY)
    assert "device='cuda'" in text
    assert "01_tiny  [? min]  n=4, scale=4.0" in text
    assert main(["book", "--list", "--profile", "smoke"]) == 0
    assert "01_introduction" in capsys.readouterr().out



def test_papermill_params_are_what_the_book_injects(capsys):
    """A user's walk-through (session 52): plain `papermill NB OUT -p profile smoke` ran chapter 02 at
    the cpu scale. `eels-id book --papermill-params PAGE` prints, as a papermill -f file, exactly the
    parameters `eels-id book` injects there (registry, shared, --param), or a usage error."""
    import yaml

    from eels_helpers.book.runner import NOTEBOOK_DIR, notebook_parameters, resolve_parameters
    from eels_helpers.cli import main

    root = Path(__file__).resolve().parents[2]
    assert main(["book", "--profile", "smoke", "--papermill-params", "04_train_architecture_cnn",
                 "--param", "batch_size=8"]) == 0
    out = capsys.readouterr().out
    assert "papermill " in out and "04_train_architecture.ipynb OUT.ipynb -f THIS_FILE --cwd" in out
    chapter = chapters.expand_chapters(chapters.REGISTRY)["04_train_architecture_cnn"]
    declared = notebook_parameters(root / NOTEBOOK_DIR / "04_train_architecture.ipynb")
    expected = {**resolve_parameters(chapter, "smoke", declared)[0], "batch_size": 8}
    assert yaml.safe_load(out) == expected and expected["architecture"] == "cnn" and expected["profile"] == "smoke"
    for argv, message in ((["--papermill-params", "99_none"], "no such page"),
                          (["--papermill-params", "02_cross_sections", "--param", "foo=1"], "declares no such"),
                          (["--profile", "smok", "--papermill-params", "02_cross_sections"], "unknown profile")):
        assert main(["book", *argv]) == 2
        assert message in capsys.readouterr().err

def _slow_root(make_book_root, marker: Path, always: bool) -> tuple[Path, dict]:
    root = make_book_root("slow")
    stall = "True" if always else f"not Path({str(marker)!r}).exists()"
    write_notebook(root / "notebooks" / "01_slow.ipynb", [
        new_markdown_cell("# Slow chapter"),
        new_code_cell('profile = "cpu"', metadata={"tags": ["parameters"]}),
        new_code_cell(f"import time\nfrom pathlib import Path\nif {stall}:\n"
                      f"    Path({str(marker)!r}).touch()\n    time.sleep(60)\nprint('done')"),
    ])
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/executed/01_slow\n")
    chapter = Chapter(name="01_slow", title="slow", smoke={}, cpu={}, paper={},
                      budget_minutes={"smoke": 0.01, "cpu": 0.01, "paper": 0.01})
    return root, {chapter.name: chapter}


def test_a_stalled_cell_is_retried_in_a_fresh_kernel(make_book_root, tmp_path, monkeypatch, caplog):
    import eels_helpers.book.runner as book

    monkeypatch.setattr(book, "CELL_TIMEOUT_MIN_S", 4)
    root, registry = _slow_root(make_book_root, tmp_path / "stalled-once", always=False)
    with caplog.at_level("WARNING", logger="eels_helpers.book.runner"):
        run_book("smoke", build=False, root=root, registry=registry, progress=False)
    assert "done" in stream_text(executed(root, "01_slow"))
    assert "gave no answer within 4 s" in caplog.text


def test_a_cell_that_always_stalls_is_named(make_book_root, tmp_path, monkeypatch):
    import eels_helpers.book.runner as book

    monkeypatch.setattr(book, "CELL_TIMEOUT_MIN_S", 4)
    root, registry = _slow_root(make_book_root, tmp_path / "stalls", always=True)
    with pytest.raises(BookError, match=r"01_slow: a cell did not finish within 4 s") as info:
        run_book("smoke", build=False, root=root, registry=registry, progress=False)
    assert "time.sleep(60)" in str(info.value)            # nbclient's preview of the cell
    assert not (root / "book" / "executed" / "01_slow.ipynb").exists()
