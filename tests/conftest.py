"""Shared fixtures. Keep this file small (see CONTRIBUTING.md, "Tests").

* ``repo_root``: the project folder (Path).
* ``book_assets``: the npm assets (MathJax, RequireJS, widget manager) installed in the
  project's ``node_modules``; skips when npm is missing and they are not installed.
* ``make_book_root``: factory ``make_book_root(name) -> Path`` of a fresh, minimal book folder
  (``_config.yml``, ``book/intro.md``, ``package.json``, ``node_modules`` link) in a temporary
  directory; the caller adds ``notebooks/`` and ``_toc.yml``.
* ``smoke_book``: ``eels-id book --profile smoke`` on a temporary copy of all the real
  chapters, once per session; a :class:`SmokeBook` (root, html, exit_code). Slow.
* ``intro_book``: the same with ``--only 01_introduction`` (fast; used by the rendering tests).
* (autouse) every test starts with the package logger's level unset (as imported) and it is
  restored afterwards: ``eels-id ... -q`` sets it, also in module and session fixtures, and
  ``caplog`` tests must not depend on which CLI call ran before them.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

# The bit-identity tests (tests/simulation/test_reference.py, tests/datasets) compare with files
# written on an AVX2 machine. NumPy's bundled OpenBLAS picks its kernels by CPU, and its AVX-512
# (SkylakeX) kernels round some float32 sums in the last bit differently: the same code then
# writes different bits. Pin the AVX2 (Haswell) kernels where the CPU has AVX2, before NumPy loads;
# a value set by the user wins.
if platform.machine() in ("x86_64", "AMD64") and "OPENBLAS_CORETYPE" not in os.environ:
    try:
        _flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        _flags = ""
    if " avx2" in _flags:
        os.environ["OPENBLAS_CORETYPE"] = "Haswell"

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _package_log_level():
    logger = logging.getLogger("eels_helpers")
    level = logger.level
    logger.setLevel(logging.NOTSET)          # as imported: the root logger (caplog's) decides
    yield
    logger.setLevel(level)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def book_assets(repo_root: Path) -> Path:
    from eels_helpers.book.build import _ASSETS, BookError, ensure_assets

    have = all((repo_root / "node_modules" / src).exists() for src in _ASSETS.values())
    if not have and shutil.which("npm") is None:
        pytest.skip("npm is not installed and node_modules is missing: cannot fetch MathJax "
                    "for the offline book (install Node.js/npm)")
    try:
        return ensure_assets(repo_root)
    except BookError as err:  # e.g. no registry access
        pytest.skip(f"book assets unavailable: {err}")


@pytest.fixture(scope="session")
def make_book_root(tmp_path_factory, repo_root: Path, book_assets: Path):
    def make(name: str = "book") -> Path:
        root = tmp_path_factory.mktemp(name)
        for f in ("_config.yml", "package.json", "package-lock.json"):
            shutil.copy2(repo_root / f, root / f)
        shutil.copytree(repo_root / "book", root / "book",
                        ignore=shutil.ignore_patterns("executed", "vendor"))
        (root / "node_modules").symlink_to(repo_root / "node_modules", target_is_directory=True)
        (root / "notebooks").mkdir()
        return root

    return make


@dataclass
class SmokeBook:
    root: Path  # temporary project copy; executed notebooks in root/book/executed
    html: Path  # the built site (index.html)
    exit_code: int


def _smoke_build(make_book_root, repo_root: Path, name: str, only=()) -> SmokeBook:
    """``eels-id book --profile smoke [--only ...]`` on a temporary copy of the real chapters."""
    from eels_helpers.cli import main

    root = make_book_root(name)
    shutil.copy2(repo_root / "_toc.yml", root / "_toc.yml")
    shutil.rmtree(root / "notebooks")
    shutil.copytree(repo_root / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    argv = ["book", "--profile", "smoke", "--root", str(root), "--output", str(root / "out"),
            "--no-progress"]
    if only:
        argv += ["--only", *only]
    code = main(argv)
    return SmokeBook(root=root, html=root / "out" / "_build" / "html", exit_code=code)


@pytest.fixture(scope="session")
def smoke_book(make_book_root, repo_root: Path) -> SmokeBook:
    """Every real chapter executed at ``smoke`` and built (slow: grows with the book)."""
    return _smoke_build(make_book_root, repo_root, "smoke_book")


@pytest.fixture(scope="session")
def intro_book(make_book_root, repo_root: Path) -> SmokeBook:
    """Only ``01_introduction`` executed at ``smoke`` and built with the landing page (fast)."""
    return _smoke_build(make_book_root, repo_root, "intro_book", only=["01_introduction"])
