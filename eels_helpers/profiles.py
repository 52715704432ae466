"""Run profiles of the book and the registry of chapter parameters.

Every chapter notebook runs at one of three scales:

``smoke``
    continuous integration: seconds per notebook, tiny data, checks that the code runs.
``cpu`` (default)
    the whole book on a 2-core laptop in at most 90 minutes: reduced, documented
    configurations of the paper's experiments (same code, smaller numbers).
``paper``
    the paper's full scale (736,000 spectra, full-size networks); meant for a GPU node.

A chapter is registered by adding one :class:`Chapter` entry to ``_CHAPTERS`` below (see
CONTRIBUTING.md): the notebook's name, and one parameters dictionary per profile. The
runner (:mod:`eels_helpers.book`) injects these values into the notebook's ``parameters``
cell with papermill, and refuses any name that the cell does not declare.

This module is imported by ``eels-id --help``: keep it free of heavy imports.
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

__all__ = [
    "PROFILES",
    "DEFAULT_PROFILE",
    "CPU_BOOK_BUDGET_MINUTES",
    "Profile",
    "Chapter",
    "REGISTRY",
    "get_profile",
    "validate_profile",
    "get_chapter",
    "chapter_parameters",
    "shared_parameters",
]


@dataclass(frozen=True)
class Profile:
    """One run scale of the book.

    ``shared`` holds the parameters that every chapter may declare in its ``parameters``
    cell (``profile``, ``seed``, ``device``); the runner injects each of them only into
    notebooks that declare it.
    """

    name: str
    description: str
    device: str
    seed: int = 0

    def __post_init__(self) -> None:
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"Profile.device must be 'cpu' or 'cuda', got {self.device!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"Profile.seed must be a non-negative int, got {self.seed!r}")

    @property
    def shared(self) -> dict[str, Any]:
        return {"profile": self.name, "seed": self.seed, "device": self.device}


#: The three profiles, in increasing cost.
PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "smoke": Profile(
            "smoke",
            "CI: seconds per notebook, tiny data; checks that every chapter runs",
            device="cpu",
        ),
        "cpu": Profile(
            "cpu",
            "default: the whole book on a 2-core laptop in at most 90 minutes "
            "(reduced, documented configurations)",
            device="cpu",
        ),
        "paper": Profile(
            "paper",
            "the paper's full scale (736,000 spectra, full-size networks); GPU node",
            device="cuda",
        ),
    }
)

DEFAULT_PROFILE = "cpu"

#: Wall-clock budget of the whole book at the ``cpu`` profile on a 2-core laptop, minutes.
CPU_BOOK_BUDGET_MINUTES = 90.0


def validate_profile(name: str) -> str:
    """Return ``name`` if it is a known profile, else raise ValueError listing the valid ones."""
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}"
        )
    return name


def get_profile(name: str) -> Profile:
    """The :class:`Profile` called ``name`` (ValueError listing the valid names otherwise)."""
    return PROFILES[validate_profile(name)]


def shared_parameters(profile: str) -> dict[str, Any]:
    """Parameters offered to every chapter at ``profile`` (injected only where declared)."""
    return dict(get_profile(profile).shared)


_NAME_RE = re.compile(r"^[0-9]{2}_[a-z0-9_]+$")
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
    """

    name: str
    title: str
    smoke: Mapping[str, Any] = field(default_factory=dict)
    cpu: Mapping[str, Any] = field(default_factory=dict)
    paper: Mapping[str, Any] = field(default_factory=dict)
    budget_minutes: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValueError(
                f"Chapter.name must look like '03_simulation' (two digits, underscore, "
                f"lower-case words: the notebook file name without .ipynb), got {self.name!r}"
            )
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
        for profile, minutes in self.budget_minutes.items():
            validate_profile(profile)
            if not (isinstance(minutes, (int, float)) and 0 < minutes < 10_000):
                raise ValueError(
                    f"chapter {self.name!r}: budget_minutes[{profile!r}] must be in "
                    f"(0, 10000) minutes, got {minutes!r}"
                )
        # freeze the dictionaries
        for attr in ("smoke", "cpu", "paper", "budget_minutes"):
            object.__setattr__(self, attr, MappingProxyType(dict(getattr(self, attr))))

    def params(self, profile: str) -> Mapping[str, Any]:
        """This chapter's own parameters at ``profile`` (without the shared ones)."""
        return getattr(self, validate_profile(profile))

    def parameters(self, profile: str, declared: set[str] | None = None) -> dict[str, Any]:
        """Shared + chapter parameters at ``profile``.

        With ``declared`` (the names of the notebook's parameters cell), shared parameters
        the notebook does not declare are left out.
        """
        shared = shared_parameters(profile)
        if declared is not None:
            shared = {k: v for k, v in shared.items() if k in declared}
        return {**shared, **self.params(profile)}


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
    ),
    Chapter(
        name="04_train_architecture",
        title="Train an architecture",
        smoke={"architecture": "vit", "steps_per_epoch": 3, "max_epochs": 1, "n_validation": 64,
               "n_test": 64, "out_dir": "../_build/train"},
        cpu={"architecture": "vit", "steps_per_epoch": 100, "max_epochs": 10, "n_validation": 512,
             "n_test": 1024, "out_dir": "../_build/train"},
        paper={"architecture": "vit", "steps_per_epoch": 1000, "max_epochs": 35, "n_validation": 4096,
               "n_test": 8192, "out_dir": "../_build/train"},
        # measured 27.7 min at cpu on the shared 2-core machine (2026-11-24)
        budget_minutes={"smoke": 2.0, "cpu": 30.0, "paper": 240.0},
    ),
    Chapter(
        name="06_spectrum_image_mapping",
        title="Spectrum-image mapping (Fig. 7)",
        smoke={"si_shape": [6, 43]},
        cpu={"si_shape": [60, 130]},
        paper={"si_shape": [60, 130]},
        budget_minutes={"smoke": 0.5, "cpu": 6.0, "paper": 6.0},
    ),
]

#: notebook name -> Chapter, in chapter order.
REGISTRY: Mapping[str, Chapter] = MappingProxyType({c.name: c for c in _CHAPTERS})
if len(REGISTRY) != len(_CHAPTERS):  # pragma: no cover - guards against copy-paste slips
    raise ValueError("profiles._CHAPTERS lists a chapter name twice")


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
