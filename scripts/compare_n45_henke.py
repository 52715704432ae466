"""Lanthanide N4,5 (4d -> 4f) shapes against photoabsorption from the Henke / CXRO tables (diagnostic
D35h, docs/research-log.md, session 35).

Reference: sigma_a(E) = 2 r_e lambda f2(E) (Henke, Gullikson & Davis 1993, At. Data Nucl. Data Tables
54, 181), f2 from the ``xsf`` tables of the ``periodictable`` package, which the project does not
depend on: install it beside, e.g. ``pip install --target /tmp/ptlib --no-deps periodictable==1.7.1``
and pass ``--periodictable /tmp/ptlib``. The other shells' background is a power law fitted at 60-90
eV (log-log least squares) and subtracted.

Ours: the element's N family with the training physics (``gos``, ``white_lines`` below) at E0 = 200
keV, alpha = 1 mrad, beta = 10 mrad, turned into an optical-like shape with the dipole Bethe formula
dsigma/dE ~ (1/E) df/dE ln(1 + beta*^2 / theta_E^2) (Egerton 2011, eq. 3.146), theta_E = E / (2 gamma T).

Printed per element (each shape normalised to its maximum over 80-250 eV): the energy of the maximum,
the full width at half maximum and the "tail" (the signal 40 eV above the maximum over the maximum);
``--out DIR`` also draws one overlay per element.

``--fano-grid`` scores the Fano profiles of the autoionising lines (:mod:`eels_helpers.physics.fano_lines`)
on F36's grid of asymmetry q and extra width against the same Henke measures (research log F36).

``--write-shapes CSV`` writes the measured shapes that the "autoionisation-henke" model ships
(:mod:`eels_helpers.physics.photoabsorption_shapes`; research log H42).

Usage: python scripts/compare_n45_henke.py --periodictable /tmp/ptlib [--out DIR] [--white-lines MODEL] [--fano-grid]
       [--write-shapes eels_helpers/data/n45_photoabsorption_shapes.csv]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

LANTHANIDES = ("La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm")
R_E_M, HC_EV_M = 2.8179403262e-15, 1239.84193e-9


def henke_sigma_barn(element: str):
    """(E eV, sigma_a barn) from periodictable's Henke f2 table of ``element``."""
    import periodictable

    table = np.loadtxt(Path(periodictable.__file__).parent / "xsf" / f"{element.lower()}.nff", skiprows=1)
    E, f2 = table[:, 0], table[:, 2]
    return E, 2 * R_E_M * (HC_EV_M / E) * f2 * 1e28


def without_background(E, sigma, lo_eV=60.0, hi_eV=90.0):
    """``sigma`` minus a power law fitted (log-log) over ``lo_eV``..``hi_eV``."""
    m = (E >= lo_eV) & (E <= hi_eV) & (sigma > 0)
    slope, icpt = np.polyfit(np.log(E[m]), np.log(sigma[m]), 1)
    return sigma - np.exp(icpt + slope * np.log(E))


def our_shape(element, E, gos, white_lines, E0_keV=200.0, alpha_mrad=1.0, beta_mrad=10.0, profile="model"):
    """df/dE-like shape of the element's N family (continuum + lines) on ``E`` (eV); ``profile``: the
    autoionising lines' Fano profile (a FanoProfile or None), by default the white-line model's."""
    from eels_helpers.physics.cross_section import dipole_df_factor
    from eels_helpers.physics.elements import families_of
    from eels_helpers.physics.white_lines import edge_cross_sections, line_profile, line_profiles, table_path

    family = next(f for f in families_of(element) if f.shell == "N")
    continuum, _, _ = edge_cross_sections([family], E, E0_keV, alpha_mrad, beta_mrad, gos=gos, white_lines=False)
    _, _, prof = line_profiles([family], E, E0_keV, alpha_mrad, beta_mrad, path=table_path(white_lines),
                               profile=line_profile(white_lines) if profile == "model" else profile)
    lines = prof.sum(axis=0, keepdims=True)
    return dipole_df_factor(E, E0_keV, alpha_mrad, beta_mrad) * (continuum[0] + lines[0]), family.onset_eV


def shape_metrics(E, y, lo_eV=80.0, hi_eV=250.0) -> dict:
    """Maximum (eV), FWHM (eV) and tail (y at maximum + 40 eV over the maximum) of ``y`` within
    ``lo_eV``..``hi_eV``."""
    inside = (E >= lo_eV) & (E <= hi_eV)
    y = y / y[inside].max()
    i = int(np.argmax(np.where(inside, y, -np.inf)))
    below = np.flatnonzero(y[:i] < 0.5)
    above = np.flatnonzero(y[i:] < 0.5)
    left = E[below[-1]] if below.size else np.nan
    right = E[i + above[0]] if above.size else np.nan
    return {"max_eV": float(E[i]), "fwhm_eV": float(right - left), "tail": float(np.interp(E[i] + 40.0, E, y))}


#: the elements whose measured shape the "autoionisation-henke" model uses (trivalent metals; not Eu:
#: eels_helpers.physics.photoabsorption_shapes)
MEASURED_SHAPE_ELEMENTS = ("La", "Ce", "Pr", "Nd", "Sm", "Gd", "Tb", "Dy", "Ho", "Er", "Tm")
#: the shape starts at the last point below this share of the maximum, at most START_SEARCH_EV before it
START_SHARE, START_SEARCH_EV = 0.05, 30.0
#: offsets (eV, from the family's first onset) of the written shapes
OFFSETS_EV = np.arange(-40.0, 150.25, 0.25)


def measured_shape(element, gos="builtin+4f-multiplet", E0_keV=200.0, alpha_mrad=1.0, beta_mrad=10.0):
    """(offset_eV from the N family's first onset, unit-area dsigma/dE shape 1/eV) of the autoionising
    lines of ``element`` under the "autoionisation-henke" model (eels_helpers.physics.photoabsorption_shapes).

    The Henke photoabsorption (background subtracted, from the last point below START_SHARE of its
    maximum, searched at most START_SEARCH_EV below it) is the df/dE shape of the whole edge: it is scaled to
    the area of ours (continuum + every line, in df/dE-like units, :func:`our_shape`) over its support, our
    continuum and narrow lines below the threshold are subtracted and negatives clipped, which leaves the
    autoionising lines' df/dE; divided by the dipole factor (dsigma/dE = df/dE / factor,
    :func:`eels_helpers.physics.cross_section.dipole_df_factor`) it is their dsigma/dE shape at ``E0_keV``,
    ``alpha_mrad``, ``beta_mrad``, tapered (cos^2, the Fano lines' taper) above the first onset, unit area."""
    from eels_helpers.physics.cross_section import dipole_df_factor
    from eels_helpers.physics.elements import family
    from eels_helpers.physics.fano_lines import is_autoionising, taper
    from eels_helpers.physics.white_lines import edge_cross_sections, line_profiles, table_path

    eh, sh = henke_sigma_barn(element)
    y = without_background(eh, sh)
    inside = (eh >= 80.0) & (eh <= 250.0)
    i = int(np.argmax(np.where(inside, y, -np.inf)))
    start = i
    while start > 0 and y[start] > START_SHARE * y[i] and eh[i] - eh[start - 1] <= START_SEARCH_EV:
        start -= 1                              # the last grid point below START_SHARE of the maximum
    fam = family(f"{element} N")
    x = OFFSETS_EV
    E = fam.first_onset_eV + x
    henke = np.interp(E, eh[start:], np.where(np.arange(start, eh.size) > start, np.clip(y[start:], 0.0, None), 0.0))
    henke[E < eh[start]] = 0.0
    continuum, _, _ = edge_cross_sections([fam], E, E0_keV, alpha_mrad, beta_mrad, gos=gos, white_lines=False)
    lines, _, prof = line_profiles([fam], E, E0_keV, alpha_mrad, beta_mrad, path=table_path("autoionisation"))
    auto = np.array([is_autoionising(ln) for ln in lines], dtype=bool)
    factor = dipole_df_factor(E, E0_keV, alpha_mrad, beta_mrad)
    others = (continuum[0] + prof[~auto].sum(axis=0)) * factor
    total = others + prof[auto].sum(axis=0) * factor
    support = E >= eh[start]
    henke *= np.trapezoid(total[support], x[support]) / np.trapezoid(henke[support], x[support])
    d = np.clip(henke - others, 0.0, None) / factor
    d *= taper(x)
    return x, d / np.trapezoid(d, x)


def write_shapes(path, gos="builtin+4f-multiplet") -> int:
    """Write the measured shapes of MEASURED_SHAPE_ELEMENTS (``gos``: the continuum taken out of them) as
    eels_helpers' shipped CSV."""
    rows = [f"{el} N,{x:.2f},{v:.6e}" for el in MEASURED_SHAPE_ELEMENTS for x, v in zip(*measured_shape(el, gos))]
    header = ["# Lanthanide N4,5 giant-resonance shapes of the autoionising lines: unit-area dsigma/dE shapes (1/eV,",
              "# at 200 keV, 1 / 10 mrad) against the offset (eV) from the family's first onset, from the Henke / CXRO",
              "# photoabsorption (Henke, Gullikson & Davis, At. Data Nucl. Data Tables 54, 181 (1993); the xsf tables",
              f"# of periodictable 1.7.1, public domain) less the {gos} continuum and the lines below the threshold.",
              "# Written by scripts/compare_n45_henke.py --write-shapes; eels_helpers.physics.photoabsorption_shapes.",
              "family,offset_eV,density"]
    tmp = Path(str(path) + ".tmp")
    tmp.write_text("\n".join(header + rows) + "\n")
    tmp.replace(path)
    print(f"wrote {len(MEASURED_SHAPE_ELEMENTS)} shapes to {path}")
    return 0


#: F36's grid (research log): Fano asymmetry q and the width added to the lines' FWHM (eV)
FANO_GRID_Q = (1.5, 2.0, 3.0, 4.0, 6.0)
FANO_GRID_EXTRA_EV = (0.0, 3.0, 6.0, 10.0)


def fano_grid(E, gos) -> int:
    """F36: for the Lorentzian table and each (q, extra width), the mean over LANTHANIDES of
    [ln(tail ours / Henke)]^2 + [ln(FWHM ours / Henke)]^2 (tail, FWHM: :func:`shape_metrics`)."""
    from eels_helpers.physics.fano_lines import FanoProfile

    henke = {}
    for el in LANTHANIDES:
        eh, sh = henke_sigma_barn(el)
        henke[el] = shape_metrics(eh, without_background(eh, sh))
    settings = [("Lorentzian (autoionisation)", None)] + [
        (f"Fano q={q:g} +{w:g} eV", FanoProfile(q, w)) for q in FANO_GRID_Q for w in FANO_GRID_EXTRA_EV]
    print("setting | mean ln^2 tail | mean ln^2 FWHM | objective | median tail ratio | median max shift (eV)")
    for name, prof in settings:
        m = {el: shape_metrics(E, our_shape(el, E, gos, "autoionisation", profile=prof)[0]) for el in LANTHANIDES}
        lt = np.array([np.log(m[el]["tail"] / henke[el]["tail"]) ** 2 for el in LANTHANIDES])
        lw = np.array([np.log(m[el]["fwhm_eV"] / henke[el]["fwhm_eV"]) ** 2 for el in LANTHANIDES])
        ratio = np.median([m[el]["tail"] / henke[el]["tail"] for el in LANTHANIDES])
        shift = np.median([m[el]["max_eV"] - henke[el]["max_eV"] for el in LANTHANIDES])
        print(f"{name:28s} | {lt.mean():.3f} | {lw.mean():.3f} | {lt.mean() + lw.mean():.3f} | {ratio:.2f} | "
              f"{shift:+.1f}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--periodictable", default=None, help="a folder holding the periodictable package")
    p.add_argument("--gos", default="builtin+4f-multiplet")
    p.add_argument("--white-lines", default="autoionisation")
    p.add_argument("--out", default=None, help="folder for one overlay PNG per element")
    p.add_argument("--fano-grid", action="store_true",
                   help="score Fano profiles of the autoionising lines on a grid of q and extra width (F36)")
    p.add_argument("--write-shapes", default=None, metavar="CSV",
                   help="write the measured shapes of the autoionisation-henke model to CSV "
                        "(eels_helpers/data/n45_photoabsorption_shapes.csv)")
    args = p.parse_args(argv)
    if args.periodictable:
        sys.path.insert(0, args.periodictable)
    try:
        import periodictable  # noqa: F401
    except ImportError:
        p.error("periodictable is not importable: install it beside the project (see the module docstring) "
                "and pass --periodictable DIR")
    E = np.arange(60.0, 300.5, 0.5)
    if args.write_shapes:
        return write_shapes(args.write_shapes, args.gos)
    if args.fano_grid:
        return fano_grid(E, args.gos)
    print("element  onset | max Henke / ours | FWHM Henke / ours | tail Henke / ours")
    for el in LANTHANIDES:
        eh, sh = henke_sigma_barn(el)
        henke = without_background(eh, sh)
        ours, onset = our_shape(el, E, args.gos, args.white_lines)
        h, o = shape_metrics(eh, henke), shape_metrics(E, ours)
        print(f"{el:7s} {onset:6.0f} | {h['max_eV']:5.0f} / {o['max_eV']:5.0f} | {h['fwhm_eV']:5.0f} / "
              f"{o['fwhm_eV']:5.0f} | {h['tail']:.2f} / {o['tail']:.2f}")
        if args.out:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            Path(args.out).mkdir(parents=True, exist_ok=True)
            fig, ax = plt.subplots(figsize=(6, 4))
            win = (eh >= 80) & (eh <= 250)
            ax.plot(eh, henke / henke[win].max(), "k.-", ms=3, label="Henke f2 photoabsorption")
            ax.plot(E, ours / ours[(E >= 80) & (E <= 250)].max(), "r-", label=f"ours ({args.gos}, {args.white_lines})")
            ax.axvline(onset, color="g", ls=":", label="tabulated onset")
            ax.set(xlim=(60, 300), ylim=(-0.15, 1.1), xlabel="energy loss (eV)", ylabel="shape (max 1)",
                   title=f"{el} N4,5")
            ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(Path(args.out) / f"{el}.png", dpi=100)
            plt.close(fig)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
