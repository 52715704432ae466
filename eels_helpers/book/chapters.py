"""The book's chapters and their parameters at each profile.

A chapter is registered by adding one :class:`Chapter` entry to ``_CHAPTERS`` below (see
CONTRIBUTING.md): the notebook's name, and one parameters dictionary per profile. The
runner (:mod:`eels_helpers.book.runner`) injects these values into the notebook's
``parameters`` cell with papermill, and refuses any name that the cell does not declare.
Numbers that several stages share (training steps, epochs, threads) are read from
:mod:`eels_helpers.profiles`, never retyped here.

The **rehearsal** (``eels-id book --profile paper --rehearse``) runs the ``paper`` profile on
the CPU: the paper's network sizes and every paper-only code path, with each chapter's
``rehearse`` values (tiny step counts and sample sizes) replacing its ``paper`` ones and the
shared ``device`` set to :data:`REHEARSAL_DEVICE`.

This module is imported by ``eels-id --help``: keep it free of heavy imports.
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from eels_helpers.profiles import PROFILES, shared_parameters, validate_profile

__all__ = ["CPU_BOOK_BUDGET_MINUTES", "REHEARSED_PROFILE", "REHEARSAL_DEVICE", "Chapter", "REGISTRY",
           "get_chapter", "chapter_parameters", "expand_chapters"]

#: Wall-clock budget of the whole book at the ``cpu`` profile on a 2-core laptop, minutes.
CPU_BOOK_BUDGET_MINUTES = 90.0
#: the profile that ``--rehearse`` rehearses, and the device it rehearses on
REHEARSED_PROFILE = "paper"
REHEARSAL_DEVICE = "cpu"


def _training(profile: str, architecture: str) -> dict[str, Any]:
    """Chapter 04's schedule at ``profile`` for ``architecture``, from the Profile."""
    p = PROFILES[profile]
    return {"steps_per_epoch": p.steps_for(architecture), "max_epochs": p.max_epochs,
            "num_threads": p.num_threads}


_NAME_RE = re.compile(r"^[0-9]{2}_[a-z0-9_]+$")
_SUFFIX_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_INSTANCE_KEYS = {"title", "params", "smoke", "cpu", "paper", "budget_minutes", "rehearse"}
_JSON_SCALARS = (bool, int, float, str, type(None))


def _check_value(chapter: str, profile: str, key: str, value: Any) -> None:
    """Parameters travel through papermill as Python literals: keep them JSON-like."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"chapter {chapter!r}, profile {profile!r}: parameter {key!r} is {value}")
    if isinstance(value, _JSON_SCALARS):
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_value(chapter, profile, key, item)
        return
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        for item in value.values():
            _check_value(chapter, profile, key, item)
        return
    raise TypeError(
        f"chapter {chapter!r}, profile {profile!r}: parameter {key!r} has type "
        f"{type(value).__name__}; use int, float, str, bool, None, or lists/dicts of those"
    )


@dataclass(frozen=True)
class Chapter:
    """One book chapter: ``notebooks/<name>.ipynb`` and its parameters at each profile.

    Every profile sets the same parameter names (only the values differ), and each name
    must be declared in the notebook's ``parameters`` cell (checked by the runner).
    ``budget_minutes`` is the expected wall-clock time per profile on the reference
    machine (2-core laptop for ``smoke`` and ``cpu``); the runner warns when it is
    exceeded, and a test checks that the ``cpu`` budgets add up to at most 90 minutes.
    ``rehearse`` replaces some ``paper`` values in the rehearsal of the paper profile on the
    CPU (``eels-id book --profile paper --rehearse``): tiny steps and sample sizes, never the
    network sizes (those come from the profile); only names the chapter sets.
    """

    name: str
    title: str
    smoke: Mapping[str, Any] = field(default_factory=dict)
    cpu: Mapping[str, Any] = field(default_factory=dict)
    paper: Mapping[str, Any] = field(default_factory=dict)
    budget_minutes: Mapping[str, float] = field(default_factory=dict)
    rehearse: Mapping[str, Any] = field(default_factory=dict)
    #: ``{suffix: overrides}``: run the notebook once per entry, into page ``<name>_<suffix>``.
    #: ``overrides`` may hold ``title`` (str), ``params`` (values for every profile), the
    #: profile names (values for that profile) and ``budget_minutes``; only names the chapter
    #: itself sets may be overridden. See :meth:`expand`.
    instances: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: the notebook ``notebooks/<source>.ipynb`` (default: ``name``); set by :meth:`expand`.
    source: str | None = None

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValueError(
                f"Chapter.name must look like '03_simulation' (two digits, underscore, "
                f"lower-case words: the notebook file name without .ipynb), got {self.name!r}"
            )
        if self.source is not None and not _NAME_RE.match(self.source):
            raise ValueError(f"chapter {self.name!r}: source must be a notebook name like "
                             f"'04_train', got {self.source!r}")
        if self.source is not None and self.instances:
            raise ValueError(f"chapter {self.name!r}: an instance cannot have instances")
        for suffix, over in self.instances.items():
            if not (isinstance(suffix, str) and _SUFFIX_RE.match(suffix)):
                raise ValueError(f"chapter {self.name!r}: instance suffix {suffix!r} must be "
                                 "lower-case letters, digits and underscores (e.g. 'vit')")
            if not isinstance(over, Mapping):
                raise ValueError(f"chapter {self.name!r}: instance {suffix!r} must be a dict")
            bad = sorted(set(over) - _INSTANCE_KEYS)
            if bad:
                raise ValueError(f"chapter {self.name!r}: instance {suffix!r} has unknown keys "
                                 f"{bad}; allowed: {', '.join(sorted(_INSTANCE_KEYS))}")
            own = set(self.smoke) | set(self.cpu) | set(self.paper)
            for key in ["params", *PROFILES, "rehearse"]:
                extra = sorted(set(over.get(key, {})) - own)
                if extra:
                    raise ValueError(
                        f"chapter {self.name!r}: instance {suffix!r} sets {extra} ({key}), which "
                        f"the chapter does not set; overridable: {sorted(own)}")
        keys = {p: set(self.params(p)) for p in PROFILES}
        all_keys = set().union(*keys.values())
        for profile, names in keys.items():
            missing = sorted(all_keys - names)
            if missing:
                raise ValueError(
                    f"chapter {self.name!r}: profile {profile!r} does not set {missing}; "
                    "every profile must set the same parameters"
                )
            for key, value in self.params(profile).items():
                if not key.isidentifier() or keyword.iskeyword(key):
                    raise ValueError(f"chapter {self.name!r}: {key!r} is not a valid parameter name")
                if key in PROFILES[profile].shared:
                    raise ValueError(
                        f"chapter {self.name!r}: {key!r} is a shared parameter set by the "
                        "profile itself; do not set it per chapter"
                    )
                _check_value(self.name, profile, key, value)
        extra = sorted(set(self.rehearse) - all_keys)
        if extra:
            raise ValueError(f"chapter {self.name!r}: rehearse sets {extra}, which the chapter does "
                             f"not set; rehearsable: {sorted(all_keys)}")
        for key, value in self.rehearse.items():
            _check_value(self.name, "rehearse", key, value)
        for profile, minutes in self.budget_minutes.items():
            validate_profile(profile)
            if not (isinstance(minutes, (int, float)) and 0 < minutes < 10_000):
                raise ValueError(
                    f"chapter {self.name!r}: budget_minutes[{profile!r}] must be in "
                    f"(0, 10000) minutes, got {minutes!r}"
                )
        # freeze the dictionaries
        for attr in ("smoke", "cpu", "paper", "budget_minutes", "rehearse"):
            object.__setattr__(self, attr, MappingProxyType(dict(getattr(self, attr))))
        object.__setattr__(self, "instances", MappingProxyType(
            {k: MappingProxyType(dict(v)) for k, v in self.instances.items()}))

    @property
    def notebook(self) -> str:
        """The source notebook's name (``notebooks/<notebook>.ipynb``)."""
        return self.source or self.name

    def expand(self) -> list["Chapter"]:
        """The pages this chapter produces: itself, or one Chapter per instance, named
        ``<name>_<suffix>``, with ``source=<name>`` and the instance's overrides applied
        (``params`` to every profile, then the profile's own entry)."""
        if not self.instances:
            return [self]
        pages = []
        for suffix, over in self.instances.items():
            common = dict(over.get("params", {}))
            values = {p: {**getattr(self, p), **common, **over.get(p, {})} for p in PROFILES}
            pages.append(Chapter(
                name=f"{self.name}_{suffix}",
                title=over.get("title", f"{self.title}: {suffix}"),
                budget_minutes={**self.budget_minutes, **over.get("budget_minutes", {})},
                rehearse={**self.rehearse, **over.get("rehearse", {})},
                source=self.name,
                **values,
            ))
        return pages

    def params(self, profile: str) -> Mapping[str, Any]:
        """This chapter's own parameters at ``profile`` (without the shared ones)."""
        return getattr(self, validate_profile(profile))

    def parameters(self, profile: str, declared: set[str] | None = None,
                   rehearse: bool = False) -> dict[str, Any]:
        """Shared + chapter parameters at ``profile``.

        With ``declared`` (the names of the notebook's parameters cell), shared parameters
        the notebook does not declare are left out. ``rehearse``: the rehearsal of the
        ``paper`` profile (device :data:`REHEARSAL_DEVICE`, the chapter's ``rehearse`` values).
        """
        shared = shared_parameters(profile)
        own = dict(self.params(profile))
        if rehearse:
            if profile != REHEARSED_PROFILE:
                raise ValueError(f"only the {REHEARSED_PROFILE!r} profile is rehearsed, not {profile!r}")
            shared["device"] = REHEARSAL_DEVICE
            own.update(self.rehearse)
        if declared is not None:
            shared = {k: v for k, v in shared.items() if k in declared}
        return {**shared, **own}


# --------------------------------------------------------------------------------------
# The registry. To add a chapter: write notebooks/NN_name.ipynb (with a cell tagged
# `parameters`), add one Chapter(...) below, and one line `- file: book/executed/NN_name`
# to _toc.yml. Keep entries in chapter order. See CONTRIBUTING.md.
# --------------------------------------------------------------------------------------
_CHAPTERS: list[Chapter] = [
    Chapter(
        name="01_introduction",
        title="Introduction: element identification in core-loss EELS",
        smoke={},
        cpu={},
        paper={},
        budget_minutes={"smoke": 0.5, "cpu": 0.5, "paper": 0.5},
    ),
    Chapter(
        name="02_cross_sections",
        title="Core-loss cross sections",
        smoke={"E0_keV": 200.0, "alpha_mrad": 10.0, "beta_mrad": 30.0, "gos": "builtin",
               "optical_points": 4},
        cpu={"E0_keV": 200.0, "alpha_mrad": 10.0, "beta_mrad": 30.0, "gos": "builtin",
             "optical_points": 25},
        paper={"E0_keV": 200.0, "alpha_mrad": 10.0, "beta_mrad": 30.0, "gos": "builtin",
               "optical_points": 60},
        budget_minutes={"smoke": 0.5, "cpu": 1.0, "paper": 1.0},
        rehearse={"optical_points": 4},
    ),
    Chapter(
        name="03_simulated_dataset",
        title="The simulated dataset",
        smoke={"formula": "CeO2", "fallback_formula": "TiO2", "n_gallery": 3,
               "occurrence_scale": 0.002, "n_profile": 64},
        cpu={"formula": "CeO2", "fallback_formula": "TiO2", "n_gallery": 9,
             "occurrence_scale": 0.01, "n_profile": 512},
        paper={"formula": "CeO2", "fallback_formula": "TiO2", "n_gallery": 12,
               "occurrence_scale": 0.1, "n_profile": 2048},
        budget_minutes={"smoke": 1.0, "cpu": 2.0, "paper": 5.0},
        rehearse={"occurrence_scale": 0.002, "n_profile": 64},
    ),
    # One notebook, six pages (Table 2's architectures). The training schedule of each page is
    # the profile's (profiles.Profile.steps_for); budget_minutes are the expected wall times on
    # the reference 2-core machine (the README's `make book` row gives the measured ones).
    # paper: 8 simulator processes feed the GPU (simulating in the training process would set the
    # pace of the small networks: README, "On a GPU node"). The rehearsal trains each paper-size
    # network for one step of 4 spectra (2 simulator processes), into its own folder.
    Chapter(
        name="04_train_architecture",
        title="Train an architecture",
        smoke={"architecture": "vit", **_training("smoke", "vit"), "batch_size": 32, "num_workers": 0,
               "n_validation": 32, "n_test": 32, "out_dir": "../_build/train"},
        cpu={"architecture": "vit", **_training("cpu", "vit"), "batch_size": 32, "num_workers": 0,
             "n_validation": 512, "n_test": 1024, "out_dir": "../_build/train"},
        paper={"architecture": "vit", **_training("paper", "vit"), "batch_size": 32, "num_workers": 8,
               "n_validation": 4096, "n_test": 8192, "out_dir": "../_build/train"},
        budget_minutes={"smoke": 0.5, "cpu": 10.0, "paper": 240.0},
        rehearse={"steps_per_epoch": 1, "max_epochs": 1, "batch_size": 4, "num_workers": 2, "n_validation": 8,
                  "n_test": 8,
                  "out_dir": "../_build/rehearsal/train"},
        instances={
            "mlp": {"title": "Train an architecture: MLP", "params": {"architecture": "mlp"},
                    **{p: _training(p, "mlp") for p in PROFILES}, "budget_minutes": {"cpu": 5.0}},
            "cnn": {"title": "Train an architecture: CNN", "params": {"architecture": "cnn"},
                    **{p: _training(p, "cnn") for p in PROFILES}},
            "resnet": {"title": "Train an architecture: ResNet", "params": {"architecture": "resnet"},
                       **{p: _training(p, "resnet") for p in PROFILES}},
            "unet": {"title": "Train an architecture: U-Net", "params": {"architecture": "unet"},
                     **{p: _training(p, "unet") for p in PROFILES}, "budget_minutes": {"cpu": 12.0}},
            "vit": {"title": "Train an architecture: ViT", "params": {"architecture": "vit"},
                    **{p: _training(p, "vit") for p in PROFILES}},
            "cct": {"title": "Train an architecture: CCT", "params": {"architecture": "cct"},
                    **{p: _training(p, "cct") for p in PROFILES}},
        },
    ),
    Chapter(
        name="05_table2_simulated",
        title="Table 2: the six architectures on simulated spectra",
        smoke={"out_dir": "../_build/train"},
        cpu={"out_dir": "../_build/train"},
        paper={"out_dir": "../_build/train"},
        budget_minutes={"smoke": 0.5, "cpu": 0.5, "paper": 0.5},
        rehearse={"out_dir": "../_build/rehearsal/train"},
    ),
    Chapter(
        name="06_spectrum_image_mapping",
        title="Spectrum-image mapping (Fig. 7)",
        smoke={"si_shape": [6, 43], "n_seeds": 1},
        cpu={"si_shape": [60, 130], "n_seeds": 4},
        paper={"si_shape": [60, 130], "n_seeds": 4},
        budget_minutes={"smoke": 0.5, "cpu": 6.0, "paper": 6.0},
        rehearse={"si_shape": [6, 43], "n_seeds": 1},
    ),
    # Real spectra: the files are read once, then each model evaluated (shipped models and the
    # chapter-04 runs); n_simulated streams spectra for Fig. 4a. experimental_dir is left to the
    # notebook's default: the package names no data location.
    Chapter(
        name="07_experimental_evaluation",
        title="Real spectra: Table 2 (experimental columns), Table 3, Figs 3, 4b and 6",
        smoke={"models": ["default", "ensemble", "ensemble-paper"], "train_out_dir": "../_build/train",
               "validation_fraction": 0.5, "n_simulated": 64, "fig3_file": "exspy_coreloss_MnO.msa"},
        cpu={"models": ["default", "ensemble", "ensemble-paper"], "train_out_dir": "../_build/train",
             "validation_fraction": 0.5, "n_simulated": 2048, "fig3_file": "exspy_coreloss_MnO.msa"},
        paper={"models": ["default", "ensemble", "ensemble-paper"], "train_out_dir": "../_build/train",
               "validation_fraction": 0.5, "n_simulated": 20_000, "fig3_file": "exspy_coreloss_MnO.msa"},
        budget_minutes={"smoke": 1.0, "cpu": 2.0, "paper": 5.0},
        rehearse={"n_simulated": 64, "train_out_dir": "../_build/rehearsal/train"},
    ),
    # Ensemble and members on simulated spectra + the single-element confusion matrix. Cost: the
    # simulator's start-up, then inference of (n_validation + n_test + 80 n_single_per_element)
    # spectra by every member; paper: the paper's single-element set (100 per element) and 4k/8k
    # simulated spectra, a GPU node.
    Chapter(
        name="08_ensemble_confusion",
        title="The ensemble on simulated spectra: scores and the confusion matrix",
        smoke={"model": "ensemble", "n_validation": 64, "n_test": 64, "n_single_per_element": 1},
        cpu={"model": "ensemble", "n_validation": 512, "n_test": 1024, "n_single_per_element": 10},
        paper={"model": "ensemble", "n_validation": 4096, "n_test": 8192, "n_single_per_element": 100},
        budget_minutes={"smoke": 1.0, "cpu": 4.0, "paper": 15.0},
        rehearse={"n_validation": 64, "n_test": 64, "n_single_per_element": 1},
    ),
    # HyperSpy/exspy in and out: exspy's core-loss test spectrum identified, handed back and
    # fitted; the synthetic superlattice as a lazy Signal1D mapped, its maps as Signal2D, and
    # fit_pixels pixels fitted with m.multifit(). Offline (the shipped GOS table).
    Chapter(
        name="09_hyperspy_workflow",
        title="HyperSpy and exspy: from a signal to a fitted model",
        smoke={"model": "default", "offset_eV": 5.0, "fine_structure": False, "si_shape": [6, 43],
               "si_threshold": 0.75, "fit_step": 8},
        cpu={"model": "default", "offset_eV": 5.0, "fine_structure": True, "si_shape": [30, 43],
             "si_threshold": 0.75, "fit_step": 2},
        paper={"model": "default", "offset_eV": 5.0, "fine_structure": True, "si_shape": [60, 130],
               "si_threshold": 0.75, "fit_step": 1},
        budget_minutes={"smoke": 1.5, "cpu": 2.5, "paper": 5.0},
        rehearse={"fine_structure": False, "si_shape": [6, 43], "fit_step": 4},
    ),
    # Failure analysis (issue 15): the shipped models on the real spectra, every mistake grouped by
    # cause, figures over simulated spectra, and the open-world suite's invention rates.
    Chapter(
        name="10_failure_analysis",
        title="Where the networks fail on real spectra",
        smoke={"models": ["default", "ensemble"], "n_figure_spectra": 1, "n_simulated": 1, "n_open_world": 3,
               "n_film_images": 2, "n_twins": 16},
        cpu={"models": ["default", "ensemble"], "n_figure_spectra": 2, "n_simulated": 3, "n_open_world": 25,
             "n_film_images": 64, "n_twins": 960},
        paper={"models": ["default", "ensemble"], "n_figure_spectra": 3, "n_simulated": 5, "n_open_world": 100,
               "n_film_images": 64, "n_twins": 7680},
        budget_minutes={"smoke": 1.5, "cpu": 4.5, "paper": 8.0},
        rehearse={"n_figure_spectra": 1, "n_simulated": 1, "n_open_world": 3, "n_film_images": 1, "n_twins": 64},
    ),
    # Verified identification (issue 16): the shipped rule (fitted on simulated spectra), the real
    # spectra by grouped cross-validation with and without verification (~30 ms per spectrum),
    # rejected and rescued elements; n_simulated: fresh simulated spectra per configuration.
    Chapter(
        name="11_verified_identification",
        title="Verified identification: the network proposes, a model fit confirms",
        smoke={"model": "default", "n_simulated": 4, "n_examples": 1},
        cpu={"model": "default", "n_simulated": 64, "n_examples": 2},
        paper={"model": "default", "n_simulated": 500, "n_examples": 3},
        budget_minutes={"smoke": 0.5, "cpu": 1.0, "paper": 2.0},
        rehearse={"n_simulated": 4, "n_examples": 1},
    ),
]



def expand_chapters(chapters: "Iterable[Chapter] | Mapping[str, Chapter]") -> dict[str, Chapter]:
    """``{page name: Chapter}`` with every chapter's instances expanded (see
    :meth:`Chapter.expand`), in order; ValueError when a page name occurs twice."""
    if isinstance(chapters, Mapping):
        chapters = chapters.values()
    pages: dict[str, Chapter] = {}
    for chapter in chapters:
        for page in chapter.expand():
            if page.name in pages:
                raise ValueError(f"chapter page name {page.name!r} occurs twice")
            pages[page.name] = page
    return pages


#: page name -> Chapter, in chapter order (instances expanded: one entry per executed page).
REGISTRY: Mapping[str, Chapter] = MappingProxyType(expand_chapters(_CHAPTERS))


def get_chapter(name: str, registry: Mapping[str, Chapter] | None = None) -> Chapter:
    """The registered chapter ``name`` (ValueError listing the registered ones otherwise)."""
    registry = REGISTRY if registry is None else registry
    try:
        return registry[name]
    except KeyError:
        raise ValueError(
            f"unknown chapter {name!r}; registered chapters: {', '.join(registry) or '(none)'}"
        ) from None


def chapter_parameters(name: str, profile: str) -> dict[str, Any]:
    """``{parameter: value}`` of chapter ``name`` at ``profile`` (shared ones included)."""
    return get_chapter(name).parameters(profile)
