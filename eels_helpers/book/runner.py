"""Execute the chapter notebooks with papermill and build the book with jupyter-book.

``eels-id book --profile smoke|cpu|paper [--only NAME ...] [--param KEY=VALUE ...]``
(or ``python -m eels_helpers.book.runner ...``):

1. for every chapter of the registry (:mod:`eels_helpers.profiles`), in ``_toc.yml`` order,
   inject the profile's parameters into ``notebooks/<name>.ipynb`` and execute it with
   papermill (kernel ``python3``, i.e. this interpreter) into ``book/executed/<name>.ipynb``;
   parameters that the notebook's ``parameters`` cell does not declare are refused; a
   chapter with ``instances`` runs its notebook once per instance, into
   ``book/executed/<name>_<suffix>.ipynb``, titled by the instance;
2. record profile, parameters, duration and package versions in the executed notebook's
   metadata (``metadata.eels_book``) and in a visible note on the page; hide papermill's
   ``injected-parameters`` cell;
3. fetch MathJax, RequireJS and the ipywidgets embed manager with ``npm ci`` when
   ``node_modules`` is missing and copy them into ``book/_static/vendor`` so that the pages
   load no script from a CDN;
4. build with jupyter-book (execution off, warnings are errors) into
   ``<output>/_build/html``.

A failing notebook stops the run with the notebook and cell named, and exit status 1.
"""

from __future__ import annotations

import argparse
import ast
import datetime as _dt
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from eels_helpers import profiles as _profiles
from eels_helpers.book import chapters as _chapters

__all__ = [
    "BookError",
    "ParamOverride",
    "ExecutedChapter",
    "BookResult",
    "parse_param",
    "project_root",
    "notebook_parameters",
    "resolve_parameters",
    "execute_chapter",
    "ensure_kernel",
    "toc_chapters",
    "ensure_assets",
    "build_book",
    "run_book",
    "package_versions",
    "list_chapters",
    "configure_parser",
    "main",
]

#: Where executed notebooks land, relative to the project root (rendered by the book).
EXECUTED_DIR = Path("book") / "executed"
#: Where the npm assets are copied, relative to the project root (an html_static_path).
VENDOR_DIR = Path("book") / "_static" / "vendor"
NOTEBOOK_DIR = Path("notebooks")
KERNEL_NAME = "python3"
METADATA_KEY = "eels_book"
RUN_INFO_TAG = "eels-book-run-info"

#: Distributions whose versions are recorded in every executed notebook.
VERSIONED_PACKAGES = (
    "eels_helpers",
    "numpy",
    "scipy",
    "torch",
    "matplotlib",
    "h5py",
    "pandas",
    "papermill",
    "ipykernel",
    "jupyter-book",
    "myst-nb",
)


class BookError(RuntimeError):
    """A user-facing failure of the book runner (bad parameter, failing notebook, build error)."""


# ----------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class ParamOverride:
    """One ``--param`` value: ``KEY=VALUE`` (every selected chapter declaring KEY) or
    ``NOTEBOOK.KEY=VALUE`` (that chapter only)."""

    key: str
    value: Any
    notebook: str | None = None


def parse_param(text: str) -> ParamOverride:
    """Parse ``[NOTEBOOK.]KEY=VALUE``; VALUE is a Python literal (``3``, ``1e-3``,
    ``[1, 2]``, ``True``, ``None``, ``'x'``) or else taken as a plain string."""
    if "=" not in text:
        raise BookError(f"--param {text!r}: expected KEY=VALUE (e.g. --param n_spectra=64)")
    target, raw = text.split("=", 1)
    target = target.strip()
    notebook, _, key = target.rpartition(".")
    if not key.isidentifier():
        raise BookError(f"--param {text!r}: {key!r} is not a valid parameter name")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = raw
    if isinstance(value, tuple):
        value = list(value)
    try:  # the value must survive the notebook's JSON metadata
        _chapters._check_value("--param", "command line", key, value)
    except (TypeError, ValueError):
        raise BookError(
            f"--param {text!r}: the value must be a finite int or float, a str, bool, None, "
            "or a list/dict of those"
        ) from None
    return ParamOverride(key=key, value=value, notebook=notebook or None)


def notebook_parameters(path: Path) -> dict[str, dict[str, Any]]:
    """The names declared in the notebook's ``parameters`` cell, with papermill's
    inferred type and default (``papermill.inspect_notebook``)."""
    import nbformat
    import papermill

    nb = nbformat.read(str(path), as_version=4)
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        raise BookError(
            f"notebook {path} has no cell tagged 'parameters'; add one (it may only hold "
            "`profile = \"cpu\"`) so that the runner can inject the profile's values"
        )
    return dict(papermill.inspect_notebook(str(path)))


def resolve_parameters(
    chapter: _chapters.Chapter,
    profile: str,
    declared: Mapping[str, Any],
    overrides: Sequence[ParamOverride] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parameters to inject into ``chapter`` at ``profile``: shared parameters the notebook
    declares + the chapter's registry values + the applicable ``overrides``.

    Returns ``(parameters, applied_overrides)``. Raises BookError naming the notebook and
    its valid parameters when the registry or an override targeted at this notebook uses
    a name the ``parameters`` cell does not declare.
    """
    valid = ", ".join(sorted(declared)) or "(none)"
    unknown = sorted(set(chapter.params(profile)) - set(declared))
    if unknown:
        raise BookError(
            f"notebook {chapter.name}: the registry (eels_helpers/profiles.py, profile "
            f"{profile!r}) sets {unknown}, which its parameters cell does not declare; "
            f"valid parameters: {valid}"
        )
    params = chapter.parameters(profile, declared=set(declared))
    applied: dict[str, Any] = {}
    for ov in overrides:
        if ov.notebook is not None and ov.notebook not in (chapter.name, chapter.notebook):
            continue
        if ov.key not in declared:
            if ov.notebook is None:
                continue  # a global --param applies where declared; checked in run_book
            raise BookError(
                f"notebook {chapter.name} has no parameter {ov.key!r} "
                f"(--param {ov.notebook}.{ov.key}=...); valid parameters: {valid}"
            )
        params[ov.key] = ov.value
        applied[ov.key] = ov.value
    return params, applied


# ----------------------------------------------------------------------------- execution
@dataclass(frozen=True)
class ExecutedChapter:
    name: str
    path: Path
    parameters: dict[str, Any]
    duration_s: float


@dataclass
class BookResult:
    profile: str
    chapters: list[ExecutedChapter] = field(default_factory=list)
    html_dir: Path | None = None
    build_duration_s: float | None = None


def package_versions() -> dict[str, str]:
    """Installed versions of :data:`VERSIONED_PACKAGES` and of Python itself."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _fmt_value(value: Any) -> str:
    text = repr(value).replace("`", "'")
    return text if len(text) <= 60 else text[:57] + "..."


def _source_cell_index(source_nb, failed_source: str, exec_count: int | None) -> int | None:
    """1-based index in the source notebook of the cell whose code is ``failed_source``."""
    matches = [i for i, c in enumerate(source_nb.cells) if c.cell_type == "code" and c.source == failed_source]
    if not matches:
        return None
    if len(matches) > 1 and exec_count:
        # exec_count counts code cells run, including papermill's injected cell
        code_cells = [i for i, c in enumerate(source_nb.cells) if c.cell_type == "code"]
        for shift in (2, 1):
            k = exec_count - shift
            if 0 <= k < len(code_cells) and code_cells[k] in matches:
                return code_cells[k] + 1
    return matches[0] + 1


def _annotate(nb, info: dict[str, Any], declared: Mapping[str, Any]) -> None:
    """Record ``info`` in the notebook metadata, hide the injected-parameters cell, and add
    the visible notes (after the parameters cell, and a footer)."""
    import nbformat

    nb.metadata[METADATA_KEY] = info
    # drop notes of an earlier annotation (idempotent)
    nb.cells = [c for c in nb.cells if RUN_INFO_TAG not in c.get("metadata", {}).get("tags", [])]
    insert_at = None
    for i, cell in enumerate(nb.cells):
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags:
            if "remove-cell" not in tags:
                tags.append("remove-cell")
            insert_at = i + 1
        elif "parameters" in tags and insert_at is None:
            insert_at = i + 1
    params = info["parameters"]

    def is_default(key: str, value: Any) -> bool:
        try:
            return ast.literal_eval(str(declared[key]["default"])) == value
        except (KeyError, ValueError, SyntaxError, TypeError):
            return False

    if params:
        listed = ", ".join(
            f"`{k} = {_fmt_value(v)}`" + (" (default)" if is_default(k, v) else "")
            for k, v in params.items()
        )
    else:
        listed = "none"
    note = (
        f"```{{note}}\nThis page was executed with the **`{info['profile']}`** profile "
        f"(`eels-id book --profile {info['profile']}`). Parameters used: {listed}.\n```"
    )
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    footer = (
        "```{admonition} Run information\n:class: note\n\n"
        f"Executed {info['finished_utc']} with profile `{info['profile']}` "
        f"in {info['duration_s']:.1f} s.\n\nVersions: {versions}.\n```"
    )
    meta = {"tags": [RUN_INFO_TAG]}
    if insert_at is not None:
        nb.cells.insert(insert_at, nbformat.v4.new_markdown_cell(note, metadata=dict(meta)))
    nb.cells.append(nbformat.v4.new_markdown_cell(footer, metadata=dict(meta)))


def _retitle(nb, title: str) -> None:
    """Replace the first level-1 Markdown heading (the page title) by ``title``, or add one:
    the pages of a chapter's instances share a notebook but not a title."""
    import nbformat

    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("# "):
                lines[i] = f"# {title}"
                cell.source = "\n".join(lines)
                return
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"# {title}"))


def ensure_kernel() -> Path:
    """Make sure the ``python3`` Jupyter kernel runs this interpreter (the venv's Python).

    ipykernel ships a kernelspec whose command is ``python``, which jupyter_client replaces by
    ``sys.executable``; a kernelspec naming another interpreter is replaced by one installed
    into ``sys.prefix`` (preferred over the user's in a virtual or conda environment).
    Returns the kernelspec folder.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    def runs_here(spec) -> bool:
        exe = spec.argv[0] if spec.argv else ""
        if exe in {"python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}"}:
            return True
        return Path(exe).resolve() == Path(sys.executable).resolve()

    ksm = KernelSpecManager()
    try:
        spec = ksm.get_kernel_spec(KERNEL_NAME)
        if runs_here(spec):
            return Path(spec.resource_dir)
    except NoSuchKernel:
        spec = None
    from ipykernel.kernelspec import install

    install(kernel_name=KERNEL_NAME, prefix=sys.prefix)
    spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    if not runs_here(spec):
        raise BookError(
            f"the Jupyter kernel {KERNEL_NAME!r} found in {spec.resource_dir} runs "
            f"{spec.argv[0]}, not this environment's {sys.executable}; remove that kernelspec "
            "or set JUPYTER_PREFER_ENV_PATH=1"
        )
    return Path(spec.resource_dir)


#: a cell may run this many times its chapter's budget (``budget_minutes`` of the profile) ...
CELL_TIMEOUT_FACTOR = 3.0
#: ... but at least this long (s), and not at all when a chapter states no budget
CELL_TIMEOUT_MIN_S = 300
#: attempts of a chapter whose cell times out. Seen on 2026-11-24 on the loaded 2-core machine
#: (papermill 2.7, nbclient, ipykernel 7.4): two of four smoke runs of chapter 03 stopped at its
#: widget cell with the kernel idle and papermill still waiting for the reply; a fresh kernel ran
#: the cell in a second. The timeout turns such a stall into a retry instead of a hung build.
CELL_TIMEOUT_ATTEMPTS = 2


def cell_timeout_s(chapter: _chapters.Chapter, profile: str) -> float | None:
    """Seconds a single cell of ``chapter`` may run at ``profile`` (None: no limit)."""
    budget = chapter.budget_minutes.get(profile)
    if budget is None:
        return None
    return max(CELL_TIMEOUT_MIN_S, CELL_TIMEOUT_FACTOR * 60.0 * float(budget))


def execute_chapter(
    chapter: _chapters.Chapter,
    profile: str,
    *,
    root: Path,
    overrides: Sequence[ParamOverride] = (),
    progress: bool = True,
) -> ExecutedChapter:
    """Execute ``notebooks/<chapter.name>.ipynb`` at ``profile`` into ``book/executed/``.

    On failure the partly executed notebook is kept as ``<name>.failed.ipynb`` and a
    BookError names the notebook, the cell (1-based, as in the source notebook) and the
    exception.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = root / NOTEBOOK_DIR / f"{chapter.notebook}.ipynb"
    if not source.is_file():
        raise BookError(f"chapter {chapter.name}: notebook {source} does not exist")
    declared = notebook_parameters(source)
    params, applied = resolve_parameters(chapter, profile, declared, overrides)

    out_dir = root / EXECUTED_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{chapter.name}.ipynb"
    running = out_dir / f"{chapter.name}.running.ipynb"
    failed = out_dir / f"{chapter.name}.failed.ipynb"
    failed.unlink(missing_ok=True)

    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiet ipykernel debugger
    timeout_s = cell_timeout_s(chapter, profile)
    started = _dt.datetime.now(_dt.timezone.utc)
    t0 = time.perf_counter()
    try:
        for attempt in range(1, CELL_TIMEOUT_ATTEMPTS + 1):
            try:
                papermill.execute_notebook(
                    str(source),
                    str(running),
                    parameters=params,
                    kernel_name=KERNEL_NAME,
                    language="python",
                    cwd=str(source.parent),
                    progress_bar={"desc": f"  {chapter.name}", "leave": False} if progress else False,
                    log_output=False,
                    execution_timeout=timeout_s,
                    # the kernel's own log (e.g. ipykernel's TCP notice) only down to errors
                    extra_arguments=["--IPKernelApp.log_level=ERROR"],
                )
                break
            except TimeoutError as err:
                if attempt == CELL_TIMEOUT_ATTEMPTS:
                    running.unlink(missing_ok=True)
                    raise BookError(
                        f"notebook {chapter.name}: a cell did not finish within {timeout_s:.0f} s "
                        f"({CELL_TIMEOUT_FACTOR:g} x the chapter's {profile} budget, at least "
                        f"{CELL_TIMEOUT_MIN_S} s), {attempt} attempts; a loaded machine may need more "
                        f"time, or the kernel stopped answering ({err})"
                    ) from err
                print(f"warning: notebook {chapter.name}: a cell gave no answer within {timeout_s:.0f} s; "
                      "executing the notebook again in a fresh kernel", file=sys.stderr)
    except PapermillExecutionError as err:
        if running.exists():
            running.replace(failed)
        src_nb = nbformat.read(str(source), as_version=4)
        index = _source_cell_index(src_nb, err.source, err.exec_count)
        where = f"cell {index}" if index else f"cell {err.cell_index} of the executed copy"
        code = "\n".join("    " + line for line in err.source.splitlines()[:8])
        trace = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(err.traceback or [])).strip().splitlines()
        trace_tail = "\n".join("    " + line for line in trace[-15:])
        raise BookError(
            f"notebook {chapter.name} failed at {where} of {source} (In [{err.exec_count}]):\n"
            f"{code}\n{err.ename}: {err.evalue}\n"
            f"Traceback (last lines):\n{trace_tail}\n"
            f"The partly executed notebook is {failed}."
        ) from err
    except BaseException:
        running.unlink(missing_ok=True)
        raise
    duration = time.perf_counter() - t0

    nb = nbformat.read(str(running), as_version=4)
    if chapter.source is not None:
        _retitle(nb, chapter.title)
    info = {
        "profile": profile,
        "parameters": params,
        "overrides": applied,
        "started_utc": started.strftime("%Y-%m-%d %H:%M UTC"),
        "finished_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "duration_s": round(duration, 3),
        "budget_minutes": chapter.budget_minutes.get(profile),
        "versions": package_versions(),
    }
    _annotate(nb, info, declared)
    nbformat.write(nb, str(running))
    running.replace(final)
    return ExecutedChapter(chapter.name, final, params, duration)


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


def _filtered_toc(root: Path, dest: Path) -> tuple[Path, list[str]]:
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
    print(f"fetching the book's browser assets: {' '.join(cmd[1:])}", file=sys.stderr)
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


# ----------------------------------------------------------------------------- driver
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


def run_book(
    profile: str = _profiles.DEFAULT_PROFILE,
    *,
    only: Sequence[str] = (),
    params: Sequence[str | ParamOverride] = (),
    build: bool = True,
    output: Path | None = None,
    root: Path | None = None,
    registry: Mapping[str, _chapters.Chapter] | None = None,
    progress: bool = True,
) -> BookResult:
    """Execute the chapters (all, or ``only``) at ``profile``, then build the book."""
    from tqdm.auto import tqdm

    try:
        _profiles.validate_profile(profile)
    except ValueError as err:
        raise BookError(str(err)) from None
    root = Path(root).resolve() if root is not None else project_root()
    registry = _chapters.expand_chapters(_chapters.REGISTRY if registry is None else registry)
    overrides = [p if isinstance(p, ParamOverride) else parse_param(p) for p in params]

    in_toc = toc_chapters(root)
    not_registered = [n for n in in_toc if n not in registry]
    if not_registered:
        raise BookError(
            f"_toc.yml lists {not_registered} but eels_helpers/profiles.py does not register "
            "them; add a Chapter entry (see CONTRIBUTING.md)"
        )
    not_in_toc = [n for n in registry if n not in in_toc]
    if not_in_toc:
        raise BookError(
            f"registered chapters {not_in_toc} are missing from _toc.yml; add "
            f"`- file: {EXECUTED_DIR.as_posix()}/<name>` lines (see CONTRIBUTING.md)"
        )
    sources = {ch.notebook for ch in registry.values()}
    strays = sorted(p.stem for p in (root / NOTEBOOK_DIR).glob("*.ipynb") if p.stem not in sources)
    if strays and progress:
        print(f"note: not in the book yet (no registry entry and _toc.yml line, see "
              f"CONTRIBUTING.md): {', '.join(strays)}", file=sys.stderr)
    # --only NAME: a page, or a notebook with instances (all its pages)
    unknown = [n for n in only if n not in registry and n not in sources]
    if unknown:
        raise BookError(f"--only {unknown}: unknown chapter(s); registered: {', '.join(in_toc)}"
                        + "".join(f"; {s} (all its pages)" for s in sorted(sources - set(registry))))
    selected = [n for n in in_toc if not only or n in only or registry[n].notebook in only]
    selected_names = set(selected) | {registry[n].notebook for n in selected}
    for ov in overrides:
        if ov.notebook is not None and ov.notebook not in selected_names:
            raise BookError(
                f"--param {ov.notebook}.{ov.key}: chapter {ov.notebook!r} is not selected "
                f"(selected: {', '.join(selected)})"
            )

    if selected:
        ensure_kernel()
    # check every parameter before running anything (a typo must not cost an hour)
    declared = {}
    for name in selected:
        src = root / NOTEBOOK_DIR / f"{registry[name].notebook}.ipynb"
        if not src.is_file():
            raise BookError(f"chapter {name}: notebook {src} does not exist")
        declared[name] = notebook_parameters(src)
        resolve_parameters(registry[name], profile, declared[name], overrides)
    for ov in overrides:
        if ov.notebook is None and not any(ov.key in declared[n] for n in selected):
            valid = "; ".join(f"{n}: {', '.join(sorted(declared[n])) or '(none)'}" for n in selected)
            raise BookError(
                f"--param {ov.key}: no selected notebook declares a parameter {ov.key!r}. "
                f"Valid parameters per notebook -- {valid}"
            )

    result = BookResult(profile=profile)
    bar = tqdm(selected, desc=f"book [{profile}]", unit="notebook", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        chapter = registry[name]
        done = execute_chapter(chapter, profile, root=root, overrides=overrides, progress=progress)
        result.chapters.append(done)
        budget = chapter.budget_minutes.get(profile)
        msg = f"{name}: {done.duration_s:.1f} s"
        if budget is not None and done.duration_s > 60 * budget:
            msg += f"  (over its {profile} budget of {budget} min)"
        bar.write(msg)
    bar.close()

    if build:
        out = Path(output).resolve() if output is not None else root
        toc, dropped = _filtered_toc(root, out / "_build" / "_toc.generated.yml")
        if dropped:
            print(f"not in this build (never executed; run them with --only): {', '.join(dropped)}",
                  file=sys.stderr)
        t0 = time.perf_counter()
        result.html_dir = build_book(root, out, toc=toc)
        result.build_duration_s = time.perf_counter() - t0
    return result


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    profiles_help = "; ".join(f"{p.name}: {p.description}" for p in _profiles.PROFILES.values())
    parser.add_argument(
        "--profile", default=_profiles.DEFAULT_PROFILE, metavar="|".join(_profiles.PROFILES),
        help=f"run scale (default {_profiles.DEFAULT_PROFILE}). {profiles_help}",
    )
    parser.add_argument(
        "--only", nargs="+", default=[], metavar="NAME",
        help="execute only these chapters (page names, e.g. 01_introduction or "
        "04_train_architecture_vit; a notebook run several times, e.g. 04_train_architecture, "
        "selects all its pages)",
    )
    parser.add_argument(
        "--param", action="append", default=[], metavar="[NOTEBOOK.]KEY=VALUE",
        help="override a parameter (VALUE is a Python literal, else a string); "
        "KEY=VALUE applies to every selected notebook that declares KEY; NOTEBOOK may be a "
        "page (04_train_architecture_vit) or a notebook (all its pages); repeatable",
    )
    parser.add_argument("--no-build", action="store_true", help="execute the notebooks only")
    parser.add_argument(
        "--output", type=Path, default=None, metavar="DIR",
        help="build folder root: HTML goes to DIR/_build/html (default: the project root)",
    )
    parser.add_argument("--root", type=Path, default=None, metavar="DIR",
                        help="project folder with _toc.yml and notebooks/ (default: found)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--list", action="store_true",
                        help="list the chapters with their parameters at --profile, run nothing")
    return parser


def list_chapters(profile: str, registry: Mapping[str, _chapters.Chapter] | None = None) -> str:
    """One line per registered chapter: name, budget and parameters at ``profile``."""
    _profiles.validate_profile(profile)
    registry = _chapters.expand_chapters(_chapters.REGISTRY if registry is None else registry)
    shared = ", ".join(f"{k}={v!r}" for k, v in _profiles.shared_parameters(profile).items())
    lines = [f"profile {profile!r}: {_profiles.PROFILES[profile].description}",
             f"shared parameters (where declared): {shared}", "chapters [budget]:"]
    for name, ch in registry.items():
        budget = ch.budget_minutes.get(profile)
        params = ", ".join(f"{k}={v!r}" for k, v in ch.params(profile).items()) or "-"
        lines.append(f"  {name}  [{'?' if budget is None else budget} min]  {params}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    if getattr(args, "list", False):
        try:
            print(list_chapters(args.profile))
        except ValueError as err:
            print(f"eels-id book: error: {err}", file=sys.stderr)
            return 1
        return 0
    try:
        result = run_book(
            args.profile, only=args.only, params=args.param, build=not args.no_build,
            output=args.output, root=args.root, progress=not args.no_progress,
        )
    except BookError as err:
        print(f"eels-id book: error: {err}", file=sys.stderr)
        return 1
    total = time.perf_counter() - t0
    summary = f"executed {len(result.chapters)} notebook(s) with profile {result.profile}"
    if result.html_dir is not None:
        summary += f"; book built in {result.build_duration_s:.1f} s: {result.html_dir / 'index.html'}"
    print(f"{summary} (total {total:.1f} s)")
    return 0


if __name__ == "__main__":
    _parser = configure_parser(argparse.ArgumentParser(prog="python -m eels_helpers.book.runner",
                                                       description=__doc__.splitlines()[0]))
    sys.exit(main(_parser.parse_args()))
