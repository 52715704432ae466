"""The book's files and build (eels_helpers.book.build): the table of contents, the offline
browser assets and the project root. (Builds of executed pages: tests/book/test_runner.py.)"""

from __future__ import annotations

import pytest
import yaml

from eels_helpers.book.build import BookError, filtered_toc, project_root, toc_chapters

TOC = """format: jb-book
root: book/intro
parts:
  - caption: Chapters
    chapters:
      - file: book/executed/01_a
      - file: book/executed/02_b
        sections:
          - file: book/executed/02_b_part
  - caption: Elsewhere
    chapters:
      - file: book/api
"""


def test_toc_chapters_and_the_filtered_toc(tmp_path):
    (tmp_path / "_toc.yml").write_text(TOC)
    assert toc_chapters(tmp_path) == ["01_a", "02_b", "02_b_part"]
    executed = tmp_path / "book" / "executed"
    executed.mkdir(parents=True)
    (executed / "02_b.ipynb").write_text("{}")
    dest, dropped = filtered_toc(tmp_path, tmp_path / "_build" / "toc.yml")
    assert dropped == ["01_a", "02_b_part"]
    toc = yaml.safe_load(dest.read_text())
    parts = toc["parts"]
    assert parts[0]["chapters"] == [{"file": "book/executed/02_b"}]     # its emptied sections are gone
    assert parts[1]["chapters"] == [{"file": "book/api"}]                # other pages are kept
    with pytest.raises(BookError, match="no _toc.yml"):
        toc_chapters(tmp_path / "_build")


def test_project_root_is_the_folder_with_the_toc(tmp_path, monkeypatch, repo_root):
    (tmp_path / "_toc.yml").write_text(TOC)
    monkeypatch.chdir(tmp_path)
    assert project_root() == tmp_path
    monkeypatch.chdir(tmp_path / "..")
    assert project_root() == repo_root          # the folder above the package (an editable install)


def test_missing_npm_is_a_clear_error(tmp_path, repo_root, monkeypatch):
    import shutil

    from eels_helpers.book import build

    (tmp_path / "package.json").write_text((repo_root / "package.json").read_text())
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(BookError, match=r"npm \(Node.js\) is needed.*apt-get install npm"):
        build.ensure_assets(tmp_path)
    assert not (tmp_path / "book" / "_static" / "vendor").exists()


def test_assets_copied_once_per_lockfile(make_book_root):
    from eels_helpers.book.build import ensure_assets

    root = make_book_root("assets")
    vendor = ensure_assets(root)
    assert vendor == root / "book" / "_static" / "vendor"
    for f in ("require.js", "embed-amd.js", "mathjax/tex-chtml.js",
              "mathjax/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff"):
        assert (vendor / f).is_file(), f
    assert not (vendor / "mathjax" / "tex-svg-full.js").exists()  # unused bundles skipped
    stamp = (vendor / ".stamp").stat().st_mtime_ns
    assert ensure_assets(root) == vendor and (vendor / ".stamp").stat().st_mtime_ns == stamp
    assert not list(vendor.parent.glob(".vendor-*"))  # no staging folder left
