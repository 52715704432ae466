"""The book's files and its HTML build: ``_toc.yml``, the offline browser assets, jupyter-book.

- :func:`toc_chapters` reads the chapter names that ``_toc.yml`` lists (entries
  ``book/executed/<name>``); a build leaves out the ones never executed;
- :func:`ensure_assets` fetches MathJax, RequireJS and the ipywidgets embed manager with
  ``npm ci`` when ``node_modules`` is missing and copies them into ``book/_static/vendor`` so
  that the pages load no script from a CDN;
- :func:`build_book` builds with jupyter-book (execution off, warnings are errors) into
  ``<output>/_build/html``;
- :func:`project_root` finds the project folder.

The notebooks are executed before the build by :mod:`eels_helpers.book.runner`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable

__all__ = ["BookError", "EXECUTED_DIR", "VENDOR_DIR", "toc_chapters", "filtered_toc", "ensure_assets", "build_book",
           "project_root"]

logger = logging.getLogger(__name__)

#: Where executed notebooks land, relative to the project root (rendered by the book).
EXECUTED_DIR = Path("book") / "executed"
#: Where the npm assets are copied, relative to the project root (an html_static_path).
VENDOR_DIR = Path("book") / "_static" / "vendor"


class BookError(RuntimeError):
    """A user-facing failure of the book runner (bad parameter, failing notebook, build error)."""


class BookUsageError(BookError):
    """A wrong request to the book runner, found before anything runs: an unknown profile, chapter or
    parameter, a malformed ``--param`` (``eels-id book`` exits 2 for it, 1 for other failures)."""


# ----------------------------------------------------------------------------- toc
def _walk_toc(node: Any) -> Iterable[dict]:
    if isinstance(node, dict):
        if "file" in node:
            yield node
        for value in node.values():
            yield from _walk_toc(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_toc(item)


def toc_chapters(root: Path) -> list[str]:
    """Chapter names listed in ``_toc.yml`` (entries ``book/executed/<name>``), in order."""
    import yaml

    toc_path = root / "_toc.yml"
    if not toc_path.is_file():
        raise BookError(f"no _toc.yml in {root}")
    toc = yaml.safe_load(toc_path.read_text())
    prefix = EXECUTED_DIR.as_posix() + "/"
    names = []
    for entry in _walk_toc(toc):
        path = str(entry["file"]).removesuffix(".ipynb")
        if path.startswith(prefix):
            names.append(path[len(prefix):])
    if "root" in toc and str(toc["root"]).startswith(prefix):
        names.insert(0, str(toc["root"])[len(prefix):].removesuffix(".ipynb"))
    return names


def filtered_toc(root: Path, dest: Path) -> tuple[Path, list[str]]:
    """Write a copy of ``_toc.yml`` without executed chapters that do not exist yet."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    prefix = EXECUTED_DIR.as_posix() + "/"
    dropped: list[str] = []

    def keep(entry: Any) -> bool:
        if isinstance(entry, dict) and "file" in entry:
            path = str(entry["file"]).removesuffix(".ipynb")
            if path.startswith(prefix) and not (root / f"{path}.ipynb").is_file():
                dropped.append(path[len(prefix):])
                return False
        return True

    def prune(node: Any) -> Any:
        if isinstance(node, list):
            return [prune(x) for x in node if keep(x)]
        if isinstance(node, dict):
            out = {k: prune(v) for k, v in node.items()}
            for key in ("chapters", "sections", "parts"):
                if key in out and out[key] == []:
                    del out[key]
            return out
        return node

    pruned = prune(toc)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(pruned, sort_keys=False))
    return dest, dropped


# ----------------------------------------------------------------------------- assets
#: destination under book/_static/vendor -> source under node_modules
_ASSETS = {
    "require.js": "requirejs/require.js",
    "embed-amd.js": "@jupyter-widgets/html-manager/dist/embed-amd.js",
    "mathjax": "mathjax/es5",
}
#: MathJax combined components not used by the book (tex-chtml.js is); not copied.
_MATHJAX_SKIP = {
    "tex-chtml-full.js", "tex-chtml-full-speech.js", "tex-mml-chtml.js", "tex-mml-svg.js",
    "tex-svg.js", "tex-svg-full.js", "mml-chtml.js", "mml-svg.js", "node-main.js",
}


def _npm_install(root: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise BookError(
            "npm (Node.js) is needed once to fetch MathJax, RequireJS and the ipywidgets embed "
            "manager for offline rendering (package.json), but it is not on PATH. Install "
            "Node.js >= 18 (Debian/Ubuntu: `apt-get install npm`; conda: `conda install nodejs`) "
            "and run again, or build without the book: `eels-id book --no-build`."
        )
    cmd = [npm, "ci" if (root / "package-lock.json").is_file() else "install",
           "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    logger.info("fetching the book's browser assets: %s", " ".join(cmd[1:]))
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BookError(f"`npm {cmd[1]}` failed in {root}:\n{proc.stderr[-3000:]}")


def ensure_assets(root: Path) -> Path:
    """Install the npm assets when missing and copy them into ``book/_static/vendor``.

    The copy is refreshed only when ``package-lock.json`` changes (stamp file).
    """
    root = Path(root)
    if not (root / "package.json").is_file():
        raise BookError(f"no package.json in {root}: cannot fetch MathJax for offline rendering")
    modules = root / "node_modules"
    if not all((modules / src).exists() for src in _ASSETS.values()):
        _npm_install(root)
        missing = [src for src in _ASSETS.values() if not (modules / src).exists()]
        if missing:
            raise BookError(f"npm did not provide {missing}; check package.json")
    lock = root / "package-lock.json"
    stamp_text = hashlib.sha256((lock if lock.is_file() else root / "package.json").read_bytes()).hexdigest()
    vendor = root / VENDOR_DIR
    stamp = vendor / ".stamp"
    if stamp.is_file() and stamp.read_text() == stamp_text:
        return vendor
    # copy into a private folder, then swap it in (safe when two runs start at once)
    staging = vendor.with_name(f".vendor-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for dest, src in _ASSETS.items():
        source = modules / src
        if source.is_dir():
            shutil.copytree(
                source, staging / dest,
                ignore=lambda d, names: [n for n in names if n in _MATHJAX_SKIP or n.endswith(".map")],
            )
        else:
            shutil.copy2(source, staging / dest)
    # the widget manager's icon fonts sit next to its bundle
    dist = modules / "@jupyter-widgets/html-manager/dist"
    for font in dist.iterdir():
        if font.suffix in {".woff", ".woff2", ".ttf", ".eot", ".svg"}:
            shutil.copy2(font, staging / font.name)
    (staging / ".stamp").write_text(stamp_text)
    old = vendor.with_name(f".vendor-old-{os.getpid()}")
    if vendor.exists():
        try:
            vendor.rename(old)
        except OSError:
            pass
    try:
        staging.rename(vendor)
    except OSError:  # another run put its (identical) copy in place first
        shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    return vendor


# ----------------------------------------------------------------------------- build
def build_book(root: Path, output: Path | None = None, *, toc: Path | None = None) -> Path:
    """Build the book with jupyter-book (``-W --keep-going``, execution off per _config.yml)
    into ``<output>/_build/html`` and return that folder."""
    root = Path(root).resolve()
    output = Path(output).resolve() if output is not None else root
    ensure_assets(root)
    cmd = [
        sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
        "build", str(root), "--path-output", str(output), "-W", "--keep-going", "-q",
    ]
    if toc is not None:
        cmd += ["--toc", str(toc)]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    html = output / "_build" / "html"
    if proc.returncode != 0 or not (html / "index.html").is_file():
        log = (proc.stdout + proc.stderr).strip()
        raise BookError(f"jupyter-book build failed (warnings are errors):\n{log[-6000:]}")
    return html

def project_root() -> Path:
    """The project folder: the current directory when it holds ``_toc.yml``, else the
    folder above the installed package (an editable install)."""
    cwd = Path.cwd()
    if (cwd / "_toc.yml").is_file():
        return cwd
    candidate = Path(__file__).resolve().parents[2]
    if (candidate / "_toc.yml").is_file():
        return candidate
    raise BookError("cannot find the project root (a folder with _toc.yml); use --root")
