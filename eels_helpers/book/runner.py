"""Execute the chapter notebooks with papermill, then build the book (``eels-id book``).

:func:`run_book` (``eels-id book --profile smoke|cpu|paper [--only NAME ...] [--param KEY=VALUE ...]``,
the command line is :mod:`eels_helpers.cli.book`):

1. for every chapter of the registry (:mod:`eels_helpers.book.chapters`), in ``_toc.yml`` order,
   inject the profile's parameters into ``notebooks/<name>.ipynb`` and execute it with
   papermill (kernel ``python3``, i.e. this interpreter) into ``book/executed/<name>.ipynb``
   (:func:`execute_chapter`); parameters that the notebook's ``parameters`` cell does not
   declare are refused (:func:`resolve_parameters`); a chapter with ``instances`` runs its
   notebook once per instance, into ``book/executed/<name>_<suffix>.ipynb``, titled by the instance;
2. record profile, parameters, duration and package versions in the executed notebook's
   metadata (``metadata.eels_book``) and in a visible note on the page; hide papermill's
   ``injected-parameters`` cell;
3. fetch the offline browser assets and build with jupyter-book (:mod:`eels_helpers.book.build`).

A profile that runs on CUDA (``paper``) stops before any work where CUDA is missing, naming the
rehearsal instead: ``--rehearse`` (``rehearse=True``) runs the ``paper`` profile's chapters on the
CPU with the paper's network sizes and each chapter's tiny ``rehearse`` values
(:mod:`eels_helpers.book.chapters`).

A failing notebook stops the run with the notebook and cell named (a :class:`BookError`).
Notices (stalled cells retried, chapters left out of a build) go to the ``logging`` logger
``eels_helpers.book.runner``.
"""

from __future__ import annotations

import ast
import datetime as _dt
import logging
import os
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from eels_helpers import profiles as _profiles
from eels_helpers import progress_bar
from eels_helpers.book import chapters as _chapters
from eels_helpers.book.build import (
    EXECUTED_DIR,
    BookError,
    BookUsageError,
    build_book,
    filtered_toc,
    project_root,
    toc_chapters,
)

__all__ = [
    "ParamOverride",
    "ExecutedChapter",
    "BookResult",
    "parse_param",
    "select_chapters",
    "notebook_parameters",
    "resolve_parameters",
    "check_cuda",
    "execute_chapter",
    "ensure_kernel",
    "run_book",
    "package_versions",
]

logger = logging.getLogger(__name__)

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
        raise BookUsageError(f"--param {text!r}: expected KEY=VALUE (e.g. --param n_spectra=64)")
    target, raw = text.split("=", 1)
    target = target.strip()
    notebook, _, key = target.rpartition(".")
    if not key.isidentifier():
        raise BookUsageError(f"--param {text!r}: {key!r} is not a valid parameter name")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = raw
    if isinstance(value, tuple):
        value = list(value)
    try:  # the value must survive the notebook's JSON metadata
        _chapters._check_value("--param", "command line", key, value)
    except (TypeError, ValueError):
        raise BookUsageError(
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
    rehearse: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parameters to inject into ``chapter`` at ``profile``: shared parameters the notebook
    declares + the chapter's registry values (with its ``rehearse`` values and the CPU in a
    rehearsal) + the applicable ``overrides``.

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
    params = chapter.parameters(profile, declared=set(declared), rehearse=rehearse)
    applied: dict[str, Any] = {}
    for ov in overrides:
        if ov.notebook is not None and ov.notebook not in (chapter.name, chapter.notebook):
            continue
        if ov.key not in declared:
            if ov.notebook is None:
                continue  # a global --param applies where declared; checked in run_book
            raise BookUsageError(
                f"notebook {chapter.name} has no parameter {ov.key!r} "
                f"(--param {ov.notebook}.{ov.key}=...); valid parameters: {valid}"
            )
        params[ov.key] = ov.value
        applied[ov.key] = ov.value
    return params, applied


def check_cuda(profile: str, parameters: Mapping[str, Mapping[str, Any]]) -> None:
    """Stop a run before any work when a page would run on CUDA and CUDA cannot be used here.

    ``parameters``: ``{page name: parameters to inject}``; a page runs on CUDA when its
    ``device`` parameter is ``'cuda[:N]'``. Raises BookError naming CUDA, why it is missing
    (:func:`eels_helpers.device.cuda_unavailable_reason`) and the rehearsal on the CPU.
    """
    on_cuda = [name for name, p in parameters.items() if str(p.get("device", "")).startswith("cuda")]
    if not on_cuda:
        return
    from eels_helpers.device import cuda_unavailable_reason

    reason = cuda_unavailable_reason()
    if reason is None:
        return
    rehearsed = _chapters.REHEARSED_PROFILE
    raise BookError(
        f"profile {profile!r} runs {len(on_cuda)} page(s) on CUDA ({', '.join(on_cuda)}), but CUDA "
        f"cannot be used here: {reason}. Nothing was executed. To rehearse the {rehearsed!r} profile on "
        f"this machine (its full-size networks and code paths, on the CPU with tiny step and sample "
        f"sizes: minutes), run `eels-id book --profile {rehearsed} --rehearse`; for the real run use a "
        "GPU node (README, 'On a GPU node'). `--param device=cpu` would run the full scale on the CPU "
        "(days)."
    )


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
    rehearsal: bool = False
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
    how = (f"is a **rehearsal** of the **`{info['profile']}`** profile (`eels-id book --profile "
           f"{info['profile']} --rehearse`): its network sizes and code paths on the CPU with tiny step and "
           "sample sizes, so its numbers are not the paper's results" if info.get("rehearsal") else
           f"was executed with the **`{info['profile']}`** profile (`eels-id book --profile {info['profile']}`)")
    note = f"```{{note}}\nThis page {how}. Parameters used: {listed}.\n```"
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
#: attempts of a chapter whose cell times out: on a loaded machine papermill can stall at a
#: widget cell with the kernel idle and papermill still waiting for its reply, where a fresh
#: kernel runs the cell at once; the timeout turns such a stall into a retry, not a hung build.
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
    rehearse: bool = False,
) -> ExecutedChapter:
    """Execute ``notebooks/<chapter.name>.ipynb`` at ``profile`` into ``book/executed/``
    (``rehearse``: the rehearsal of the paper profile on the CPU, see :func:`run_book`).

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
    params, applied = resolve_parameters(chapter, profile, declared, overrides, rehearse=rehearse)

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
                    progress_bar={"desc": f"  {chapter.name}", "leave": False, "disable": None} if progress else False,
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
                logger.warning("notebook %s: a cell gave no answer within %.0f s; executing the "
                               "notebook again in a fresh kernel", chapter.name, timeout_s)
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
        "rehearsal": rehearse,
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


def select_chapters(names: Sequence[str], registry: Mapping[str, _chapters.Chapter],
                    only: Sequence[str] = ()) -> list[str]:
    """The pages among ``names`` that ``--only`` selects: a page, or every page of a notebook run several
    times (all of them when ``only`` is empty); BookUsageError naming the unknown ones."""
    sources = {ch.notebook for ch in registry.values()}
    unknown = [n for n in only if n not in registry and n not in sources]
    if unknown:
        raise BookUsageError(f"--only {unknown}: unknown chapter(s); registered: {', '.join(names)}"
                             + "".join(f"; {s} (all its pages)" for s in sorted(sources - set(registry))))
    return [n for n in names if not only or n in only or registry[n].notebook in only]


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
    rehearse: bool = False,
) -> BookResult:
    """Execute the chapters (all, or ``only``) at ``profile``, then build the book.

    Every parameter is checked before anything runs; a page that would run on CUDA where CUDA
    cannot be used stops the run before any work (:func:`check_cuda`). ``rehearse=True``
    (profile ``paper`` only) rehearses the paper profile on the CPU: the shared ``device`` is
    ``'cpu'`` and each chapter's ``rehearse`` values replace its ``paper`` ones (tiny steps and
    sample sizes; the networks keep the paper's sizes; training runs go to their own folder).
    """
    try:
        _profiles.validate_profile(profile)
    except ValueError as err:
        raise BookUsageError(str(err)) from None
    if rehearse and profile != _chapters.REHEARSED_PROFILE:
        raise BookUsageError(f"--rehearse rehearses the {_chapters.REHEARSED_PROFILE!r} profile on the CPU; "
                             f"profile {profile!r} runs as it is (drop --rehearse)")
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
        logger.info("note: not in the book yet (no registry entry and _toc.yml line, see "
                    "CONTRIBUTING.md): %s", ", ".join(strays))
    selected = select_chapters(in_toc, registry, only)
    selected_names = set(selected) | {registry[n].notebook for n in selected}
    for ov in overrides:
        if ov.notebook is not None and ov.notebook not in selected_names:
            raise BookUsageError(
                f"--param {ov.notebook}.{ov.key}: chapter {ov.notebook!r} is not selected "
                f"(selected: {', '.join(selected)})"
            )

    # check every parameter before running anything (a typo must not cost an hour)
    declared, resolved = {}, {}
    for name in selected:
        src = root / NOTEBOOK_DIR / f"{registry[name].notebook}.ipynb"
        if not src.is_file():
            raise BookError(f"chapter {name}: notebook {src} does not exist")
        declared[name] = notebook_parameters(src)
        resolved[name] = resolve_parameters(registry[name], profile, declared[name], overrides, rehearse)[0]
    for ov in overrides:
        if ov.notebook is None and not any(ov.key in declared[n] for n in selected):
            valid = "; ".join(f"{n}: {', '.join(sorted(declared[n])) or '(none)'}" for n in selected)
            raise BookUsageError(
                f"--param {ov.key}: no selected notebook declares a parameter {ov.key!r}. "
                f"Valid parameters per notebook -- {valid}"
            )
    check_cuda(profile, resolved)
    if selected:
        ensure_kernel()

    result = BookResult(profile=profile, rehearsal=rehearse)
    label = f"{profile} rehearsal" if rehearse else profile
    bar = progress_bar(selected, desc=f"book [{label}]", unit="notebook", enabled=progress)
    for name in bar:
        bar.set_postfix_str(name)
        chapter = registry[name]
        done = execute_chapter(chapter, profile, root=root, overrides=overrides, progress=progress,
                               rehearse=rehearse)
        result.chapters.append(done)
        budget = None if rehearse else chapter.budget_minutes.get(profile)
        msg = f"{name}: {done.duration_s:.1f} s"
        if budget is not None and done.duration_s > 60 * budget:
            msg += f"  (over its {profile} budget of {budget} min)"
        bar.write(msg)
    bar.close()

    if build:
        out = Path(output).resolve() if output is not None else root
        toc, dropped = filtered_toc(root, out / "_build" / "_toc.generated.yml")
        if dropped:
            logger.info("not in this build (never executed; run them with --only): %s", ", ".join(dropped))
        t0 = time.perf_counter()
        result.html_dir = build_book(root, out, toc=toc)
        result.build_duration_s = time.perf_counter() - t0
    return result
