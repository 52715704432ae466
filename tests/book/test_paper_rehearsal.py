"""The rehearsed GPU node: ``eels-id book --profile paper --rehearse`` executes every chapter of
the ``paper`` profile on the CPU (the paper's network sizes, tiny steps and sample sizes), and a
real ``paper`` run without CUDA stops before any work, naming the rehearsal.

The rehearsal itself (the ``rehearsal`` fixture of ``tests/book/conftest.py``) runs once per
session on a temporary copy of the notebooks, in a background process started when collection
ends, beside the other tests: about 3-4 minutes on the 2-core machine (README, "On a GPU node"),
hence ``slow``.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from rehearsal_process import copy_root

from eels_helpers.book import chapters as ch
from eels_helpers.book import runner
from eels_helpers.book.build import BookError, toc_chapters
from eels_helpers.cli import main
from eels_helpers.models import PAPER_PARAMETERS_M
from eels_helpers.profiles import PROFILES

REHEARSAL_DIR = "_build/rehearsal/train"     # chapter 04's rehearse out_dir, relative to the root


def _written(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "notebooks" not in p.parts
                  and p.name != "_toc.yml")


# --------------------------------------------------------------------------- without CUDA
@pytest.fixture
def no_cuda(monkeypatch):
    """A machine without CUDA (whatever this one has)."""
    import eels_helpers.device as dev

    monkeypatch.setattr(dev, "cuda_unavailable_reason", lambda: "no CUDA device (test)")


def test_paper_without_cuda_stops_before_any_work(repo_root, tmp_path, no_cuda, monkeypatch, capsys):
    root = copy_root(repo_root, tmp_path / "root")

    def never(*args, **kwargs):
        raise AssertionError("nothing may be executed")

    monkeypatch.setattr(runner, "execute_chapter", never)
    monkeypatch.setattr(runner, "ensure_kernel", never)
    code = main(["book", "--profile", "paper", "--root", str(root), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert "CUDA" in err and "no CUDA device (test)" in err
    assert "eels-id book --profile paper --rehearse" in err and "Nothing was executed" in err
    assert "04_train_architecture_vit" in err            # the pages that would need the GPU
    assert _written(root) == []                          # nothing written, no build


def test_cuda_check_follows_the_device_of_each_page(no_cuda):
    runner.check_cuda("paper", {"02_cross_sections": {"gos": "builtin"}, "06_x": {"device": "cpu"}})
    with pytest.raises(BookError, match=r"1 page\(s\) on CUDA \(06_x\)"):
        runner.check_cuda("paper", {"01_x": {}, "06_x": {"device": "cuda"}})
    with pytest.raises(BookError, match=r"\(08_x\)"):
        runner.check_cuda("paper", {"08_x": {"device": "cuda:1"}})


def test_rehearse_is_for_the_paper_profile_only(repo_root, tmp_path, capsys):
    root = copy_root(repo_root, tmp_path / "root")
    assert main(["book", "--profile", "cpu", "--rehearse", "--root", str(root), "--no-build"]) == 2
    assert "--rehearse rehearses the 'paper' profile" in capsys.readouterr().err
    assert _written(root) == []
    assert main(["book", "--list", "--profile", "cpu", "--rehearse"]) == 2
    assert main(["book", "--list", "--profile", "paper", "--rehearse"]) == 0
    listing = capsys.readouterr().out
    assert "rehearsal on the CPU" in listing and "device='cpu'" in listing and "batch_size=4" in listing


# --------------------------------------------------------------------------- the registry
def test_rehearsal_values_shrink_sizes_but_keep_the_paper_networks():
    for name, chapter in ch.REGISTRY.items():
        paper = chapter.parameters("paper")
        rehearsed = chapter.parameters("paper", rehearse=True)
        assert set(rehearsed) == set(paper), name                 # the same names, other values
        assert rehearsed["profile"] == "paper"                    # paper code paths (model_config paper)
        assert rehearsed["device"] == ch.REHEARSAL_DEVICE
        for key, value in chapter.rehearse.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if key.endswith("_step"):                         # a stride: less work when it grows
                    assert value >= paper[key], (name, key)
                else:
                    assert value <= paper[key], (name, key)      # sizes only go down
        if chapter.notebook == "04_train_architecture":
            assert rehearsed["architecture"] == paper["architecture"]
            assert rehearsed["steps_per_epoch"] == 1 and rehearsed["max_epochs"] == 1
            assert 2 <= rehearsed["batch_size"] <= 4
            assert rehearsed["out_dir"] != paper["out_dir"]      # never mixed with a real paper run
    assert PROFILES["paper"].model_config == "paper" and PROFILES["paper"].device == "cuda"


def test_rehearse_values_are_validated():
    with pytest.raises(ValueError, match=r"rehearse sets \['bogus'\]"):
        ch.Chapter(name="01_x", title="x", smoke={"n": 1}, cpu={"n": 2}, paper={"n": 3}, rehearse={"bogus": 1})
    with pytest.raises(TypeError, match="parameter 'n' has type"):
        ch.Chapter(name="01_x", title="x", smoke={"n": 1}, cpu={"n": 2}, paper={"n": 3}, rehearse={"n": {1}})
    chapter = ch.Chapter(name="01_x", title="x", smoke={"n": 1}, cpu={"n": 2}, paper={"n": 3},
                         rehearse={"n": 1}, instances={"a": {"rehearse": {"n": 0}}, "b": {}})
    pages = {p.name: p for p in chapter.expand()}
    assert pages["01_x_a"].parameters("paper", rehearse=True)["n"] == 0
    assert pages["01_x_b"].parameters("paper", rehearse=True)["n"] == 1
    with pytest.raises(ValueError, match="only the 'paper' profile is rehearsed"):
        chapter.parameters("cpu", rehearse=True)


# --------------------------------------------------------------------------- the rehearsal
@pytest.mark.slow
def test_rehearsal_executes_every_page_on_the_cpu(rehearsal, repo_root):
    root, code = rehearsal
    assert code == 0
    names = toc_chapters(repo_root)
    assert len(names) == len(ch.REGISTRY)
    for name in names:
        nb = nbformat.read(str(root / "book" / "executed" / f"{name}.ipynb"), as_version=4)
        info = nb.metadata["eels_book"]
        assert info["profile"] == "paper" and info["rehearsal"] is True, name
        assert info["parameters"].get("device", "cpu") == "cpu", name
        assert info["parameters"] == ch.REGISTRY[name].parameters(
            "paper", declared=set(info["parameters"]), rehearse=True)
        assert "**rehearsal**" in "".join(c.source for c in nb.cells if c.cell_type == "markdown"), name
    assert not (root / "_build" / "train").exists()       # a real paper run's folder stays untouched


@pytest.mark.slow
def test_rehearsal_trains_the_paper_size_networks(rehearsal):
    root, code = rehearsal
    assert code == 0
    runs = {p.name.split("-")[0]: p for p in (root / REHEARSAL_DIR).iterdir()}
    assert set(runs) == set(PAPER_PARAMETERS_M)
    for arch, run in runs.items():
        results = json.loads((run / "results.json").read_text())
        assert results["profile"] == "paper" and results["model_config"] == "paper"
        assert results["options"] == {}                                   # no reduction
        assert results["parameters"] == pytest.approx(PAPER_PARAMETERS_M[arch] * 1e6, rel=0.05)
        log = json.loads((run / "log.json").read_text())
        assert [(r["device"], r["spectra"]) for r in log] == [("cpu", 4)]  # one step of 4 spectra
    # Table 2 (chapter 05) was assembled from these runs
    table2 = nbformat.read(str(root / "book" / "executed" / "05_table2_simulated.ipynb"), as_version=4)
    text = json.dumps([c.get("outputs", []) for c in table2.cells])
    assert "All six architectures were trained at the `paper` profile" in text
