"""Model-based quantification: recovery of known compositions built here from cross sections
and a power law (hydrogenic K and L edges: no GOS file needed)."""

import time

import numpy as np
import pytest
from scipy.optimize import nnls

from eels_helpers.inference.quantify import (
    QuantificationConfig,
    design_matrix,
    fft_convolve,
    nnls_batch,
    quantify,
    resample_lowloss,
)
from eels_helpers.physics.cross_section import dsigma_dE

E = np.arange(400.0, 1000.0)          # 1 eV channels
ELEMENTS = ["O", "Ti", "Mn"]
EDGES = ["O K", "Ti L", "Mn L"]
GEOM = dict(E0_keV=200.0, alpha_mrad=10.0, beta_mrad=30.0)


def _sigma(energy=E):
    return dsigma_dE(EDGES, energy, GEOM["E0_keV"], GEOM["alpha_mrad"], GEOM["beta_mrad"],
                     gos="hydrogenic")[0]            # (3, n) barn/eV


def _truth(rng, n):
    return rng.dirichlet([2.0, 2.0, 2.0], size=n)


def _spectra(fr, dose=300.0, A=2e4, r=3.0, sigma=None):
    """counts = dose x fraction x dsigma/dE (1 eV channels) + A (E/400)^-r; with these numbers
    the O K jump ratio is ~0.5-1 like the paper's spectra."""
    sigma = _sigma() if sigma is None else sigma
    return dose * fr @ sigma + A * (E / 400.0) ** -r


def config(**kw):
    return QuantificationConfig(**GEOM, gos="hydrogenic", **kw)


def test_noise_free_recovers_fractions():
    rng = np.random.default_rng(1)
    fr = _truth(rng, 200)
    res = quantify(_spectra(fr, r=3.3), E, ELEMENTS, config())
    assert res.elements == ELEMENTS
    assert res.fractions.shape == (200, 3)
    # the background is a single power law with r = 3.3, not one of the fixed exponents: the
    # mixture of E^-1..E^-6 approximates it; the residual mismatch leaks into the edges and
    # costs up to ~0.4 at.% here (edges at jump ratios ~0.5-1)
    assert np.max(np.abs(res.fractions - fr)) < 5e-3
    # with an exponent inside the basis the model is exact
    exact = quantify(_spectra(fr), E, ELEMENTS, config())
    assert np.max(np.abs(exact.fractions - fr)) < 1e-6
    np.testing.assert_allclose(res.fractions.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(res.amounts >= 0) and np.all(res.background >= 0)


def test_poisson_noise_recovers_fractions_with_unit_chi2():
    rng = np.random.default_rng(2)
    fr = _truth(rng, 3000)
    y = rng.poisson(_spectra(fr, r=3.3)).astype(float)
    res = quantify(y, E, ELEMENTS, config())
    err = np.abs(res.fractions - fr)
    assert np.median(err) < 0.01
    assert np.percentile(err, 95) < 0.04
    # an unbiased estimator on average
    assert np.all(np.abs(res.fractions.mean(axis=0) - fr.mean(axis=0)) < 0.005)
    # the model is right and the weights are Poisson: reduced chi2 ~ 1
    assert 0.9 < np.median(res.chi2_reduced) < 1.15


def test_batch_shape_and_single_spectrum():
    rng = np.random.default_rng(3)
    fr = _truth(rng, 12)
    y = _spectra(fr).reshape(3, 4, -1)
    res = quantify(y, E, ELEMENTS, config())
    assert res.fractions.shape == (3, 4, 3) and res.chi2_reduced.shape == (3, 4)
    one = quantify(_spectra(fr[:1])[0], E, ELEMENTS, config(weighting="none"))
    assert one.fractions.shape == (3,)
    np.testing.assert_allclose(one.fractions, fr[0], atol=1e-6)


def test_lowloss_convolution_is_modelled():
    """Spectra convolved (here, by direct np.convolve) with a low-loss made of a ZLP and a plasmon
    at 20 eV; the fit with the low-loss recovers the fractions, the fit without it does worse."""
    rng = np.random.default_rng(4)
    ll_E = np.arange(-20.0, 150.0)
    ll = np.exp(-0.5 * (ll_E / 1.0) ** 2) + 0.6 * np.exp(-0.5 * ((ll_E - 20.0) / 6.0) ** 2) \
        + 0.2 * np.exp(-0.5 * ((ll_E - 40.0) / 9.0) ** 2)
    ll_n = ll / ll.sum()
    ext = np.arange(E[0] - 150.0, E[-1] + 21.0)         # edges on an extended axis
    sig_ext = _sigma(ext)
    # y(E_i) = sum_k sigma(E_i - e_k) L(e_k):  np.convolve 'full' index = i_ext + k_index
    conv = np.stack([np.convolve(s, ll_n) for s in sig_ext])
    # full[m] = sum_j s[m - j] L[j], energy of L[j] = ll_E[0] + j; E_i = ext[m - j] + ll_E[j]
    m = np.arange(E.size) + int(E[0] - ext[0]) - int(ll_E[0])
    sig_conv = conv[:, m]
    fr = _truth(rng, 50)
    y = _spectra(fr, sigma=sig_conv)
    with_ll = quantify(y, E, ELEMENTS, config(), lowloss=ll * 1e6, lowloss_energy_eV=ll_E)
    without = quantify(y, E, ELEMENTS, config())
    assert np.max(np.abs(with_ll.fractions - fr)) < 1e-4
    assert np.median(without.chi2_reduced) > 10 * np.median(with_ll.chi2_reduced)


def test_resample_lowloss_unit_sum_and_grid():
    k0, kern = resample_lowloss([0, 1, 4, 1, 0], [-1.0, -0.5, 0.0, 0.5, 1.0], 0.5)
    assert k0 == -2 and kern.size == 5
    assert kern.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        resample_lowloss([1, 2, 3], [0.0, 0.0, 1.0], 1.0)


def test_fft_convolve_is_the_full_linear_convolution():
    """Against the direct sum (np.convolve) and scipy.signal.fftconvolve, whose algorithm it is."""
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(3)
    for n, m in ((1, 1), (7, 3), (600, 61), (3071, 400)):
        a, b = rng.random(n), rng.random(m)
        out = fft_convolve(a, b)
        assert out.shape == (n + m - 1,)
        np.testing.assert_allclose(out, np.convolve(a, b), rtol=1e-10, atol=1e-12 * n)
        assert np.array_equal(out, fftconvolve(a, b))


def test_nnls_batch_matches_scipy_on_full_problem():
    rng = np.random.default_rng(5)
    A = np.abs(rng.normal(size=(80, 6))) + np.linspace(0, 1, 80)[:, None]
    Y = rng.normal(size=(40, 80)) + A @ np.array([1, 0, 2, 0, 0.5, 0])
    X, rss = nnls_batch(A, Y)
    for i in range(Y.shape[0]):
        x_ref, r_ref = nnls(A, Y[i])
        np.testing.assert_allclose(X[i], x_ref, atol=1e-8)
        assert rss[i] == pytest.approx(r_ref**2, rel=1e-8, abs=1e-8)
    assert np.all(X >= 0)


def test_design_matrix_families_and_skipped():
    skipped = {}
    dm = design_matrix(E, ["O", "Fe", "C"], config(), skipped=skipped)
    assert dm.elements == ["O", "Fe"]
    assert dm.families == {"O": ["O K"], "Fe": ["Fe L"]}
    assert "C" in skipped                       # C K (284 eV) is below the window
    assert dm.matrix.shape == (E.size, 2 + 6)
    dm2 = design_matrix(E, ["O"], config(fit_range_eV=(500, 700)))
    assert dm2.energy_eV[0] == 500 and dm2.energy_eV[-1] == 700
    with pytest.raises(ValueError, match="80 symbols"):
        design_matrix(E, ["Xx"], config())
    with pytest.raises(ValueError, match="no edge in the fit range|none of the elements"):
        design_matrix(E, ["C"], config())


def test_missing_gos_family_is_skipped():
    res = quantify(_spectra(_truth(np.random.default_rng(6), 3)), E, ["O", "Ba"], config())
    assert res.elements == ["O"]
    assert "hydrogenic" in res.skipped["Ba"]


@pytest.mark.parametrize("kw, match", [
    (dict(E0_keV=5.0), "E0_keV.*keV"),
    (dict(beta_mrad=0.0), "beta_mrad.*mrad"),
    (dict(background_exponents=(1.0, 1.0)), "distinct"),
    (dict(background_exponents=(0.0,)), r"\(0, 10\]"),
    (dict(weighting="poisson"), "weighting"),
    (dict(fit_range_eV=(800, 500)), "fit_range_eV"),
])
def test_config_validation(kw, match):
    args = {**GEOM, **kw}
    with pytest.raises(ValueError, match=match):
        QuantificationConfig(**args)


def test_bad_inputs():
    y = _spectra(_truth(np.random.default_rng(7), 2))
    with pytest.raises(ValueError, match="channels"):
        quantify(y[:, :-1], E, ELEMENTS, config())
    bad = y.copy()
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        quantify(bad, E, ELEMENTS, config())
    with pytest.raises(ValueError, match="uniform"):
        quantify(y[:, :10], np.r_[np.arange(9.0), 20.0] + 400, ELEMENTS, config())


def test_thousands_of_pixels_take_seconds():
    rng = np.random.default_rng(8)
    fr = _truth(rng, 8000)
    y = rng.poisson(_spectra(fr)).astype(float)
    quantify(y[:2], E, ELEMENTS, config())        # cross-section set-up once
    t = time.perf_counter()
    quantify(y, E, ELEMENTS, config())
    assert time.perf_counter() - t < 10.0


def test_exclude_near_edge_channels():
    dm = design_matrix(E, ELEMENTS, config(exclude_near_edge_eV=20.0))
    # O K (532), Ti L3/L2 (456, 462), Mn L3/L2 (640, 651): 456-481, 532-551, 640-670 removed
    assert dm.energy_eV.size == E.size - (482 - 456) - 20 - (671 - 640)
    assert not np.any((dm.energy_eV >= 532) & (dm.energy_eV < 552))
    fr = _truth(np.random.default_rng(9), 20)
    res = quantify(_spectra(fr), E, ELEMENTS, config(exclude_near_edge_eV=20.0))
    assert np.max(np.abs(res.fractions - fr)) < 1e-6


def _white_line_data():
    from tests.inference.test_verification import _white_line_spectrum

    sp, amounts = _white_line_spectrum(seed=3)
    return sp.data, sp.energy_eV, amounts / amounts.sum()


def test_white_lines_free_and_edge_recover_fractions_off_does_not():
    """Ti and Mn L2,3 with white lines (the simulator's line shapes, 1 eV bins): "free" (lines as
    nuisance columns, concentrations from the continuum) and "edge" (lines in the cross
    section) recover the fractions with chi2 ~ 1; "off" does not."""
    y, E_, truth = _white_line_data()
    res = {m: quantify(y, E_, ELEMENTS, config(white_lines=m)) for m in ("off", "free", "edge")}
    for m in ("free", "edge"):
        np.testing.assert_allclose(np.ravel(res[m].fractions), truth, rtol=0.03)
        assert float(res[m].chi2_reduced) < 1.5
    assert float(res["off"].chi2_reduced) > 20 * float(res["free"].chi2_reduced)
    assert np.max(np.abs(np.ravel(res["off"].fractions) / truth - 1)) > 0.1
    free = res["free"]
    assert free.design.lines == ["Ti L3", "Ti L2", "Mn L3", "Mn L2"]
    assert free.line_amounts.shape == (4,) and np.all(free.line_amounts > 0)
    assert free.background.shape == (len(free.config.background_exponents),)
    np.testing.assert_allclose(free.model(), free.design.matrix @ np.concatenate(
        [free.amounts, free.line_amounts, free.background]))


def test_white_lines_free_harmless_without_lines_and_off_unchanged():
    """Without white lines in the data, "free" gives the fractions of "off" (the line columns
    fit ~nothing); "off" is the model without the option, column for column."""
    rng = np.random.default_rng(5)
    fr = _truth(rng, 1)
    y = rng.poisson(_spectra(fr, dose=3e4)).astype(np.float64)
    off = quantify(y, E, ELEMENTS, config())
    free = quantify(y, E, ELEMENTS, config(white_lines="free"))
    np.testing.assert_allclose(free.fractions, off.fractions, rtol=0.02)
    np.testing.assert_allclose(off.design.matrix[:, :3], _sigma().T, rtol=1e-12)   # d = 1 eV
    assert off.design.lines == [] and off.line_amounts.shape == (1, 0)
    with pytest.raises(ValueError, match="white_lines"):
        config(white_lines=True)


def test_line_table_models_the_lines_of_the_data():
    """Data whose Ti L2,3 carry the crystal-field table's lines (t2g and e_g peaks of each of L3 and L2,
    de Groot et al. 1990): "edge" with ``line_table="crystal-field"`` models them (fractions within 2 %,
    chi2 ~ 1); the default single-particle table's statistical doublet does not fit them."""
    from eels_helpers.physics.white_lines import edge_cross_sections

    cont, lines, _ = edge_cross_sections(EDGES, E, **GEOM, gos="hydrogenic", white_lines="crystal-field")
    fr = np.array([[0.6, 0.2, 0.2]])
    y = np.random.default_rng(11).poisson(_spectra(fr, dose=3e4, sigma=cont + lines)).astype(np.float64)
    table = quantify(y, E, ELEMENTS, config(white_lines="edge", line_table="crystal-field"))
    shipped = quantify(y, E, ELEMENTS, config(white_lines="edge"))
    np.testing.assert_allclose(np.ravel(table.fractions), fr[0], rtol=0.02)
    chi2 = {name: float(np.ravel(r.chi2_reduced)[0]) for name, r in (("table", table), ("shipped", shipped))}
    assert chi2["table"] < 1.5
    assert chi2["shipped"] > 5 * chi2["table"]
    assert config().line_table == "single-particle"
    with pytest.raises(ValueError, match="line_table"):
        config(white_lines="edge", line_table="statistical")


def test_plasmon_replicas_keep_counts_and_peak_near_the_plasmon():
    from eels_helpers.inference.quantify import plasmon_replicas

    x = np.zeros(4000)
    x[100] = 1.0                                          # a delta at grid point 100, 0.25 eV steps
    rep = plasmon_replicas(x, 0.25, [15.0, 30.0])
    assert rep.shape == (2, 4000) and np.all(rep >= 0)
    np.testing.assert_allclose(rep.sum(axis=1), 1.0, rtol=1e-12)   # unit area: counts kept
    peaks = (np.argmax(rep, axis=1) - 100) * 0.25
    assert np.all(np.abs(peaks - [15.0, 30.0]) < 0.15 * np.array([15.0, 30.0]))
    assert rep[:, :101].max() < 1e-12                     # energy loss only adds energy (FFT round-off)


def test_fine_structure_columns_have_zero_area_and_absorb_moved_strength():
    """fine_structure_eV: each free column moves strength within its family's first W eV without
    changing the total; spectra whose edges carry such a zero-area reshaping (built here from
    the same Gaussians as the model) quantify exactly, while the plain model is biased."""
    from eels_helpers.inference.quantify import FS_SPACING_EV, _fine_structure_columns
    from eels_helpers.physics.elements import family

    grid = np.arange(300.0, 1100.0)
    sig = dsigma_dE(EDGES, grid, GEOM["E0_keV"], GEOM["alpha_mrad"], GEOM["beta_mrad"], gos="hydrogenic")[0]
    cols = [_fine_structure_columns(s, grid, family(f).first_onset_eV, 30.0) for s, f in zip(sig, EDGES)]
    for c in cols:
        assert c.shape[0] == int(30 / FS_SPACING_EV) + 1
        np.testing.assert_allclose(c.sum(axis=1), 0.0, atol=1e-9 * np.abs(c).sum())
    rng = np.random.default_rng(4)
    shaped = np.stack([s + 0.8 * rng.uniform(-1, 1, c.shape[0]) @ c for s, c in zip(sig, cols)])
    shaped = shaped[:, (grid >= E[0]) & (grid <= E[-1])]
    fr = _truth(rng, 3)
    y = _spectra(fr, sigma=shaped)
    exact = quantify(y, E, ELEMENTS, config(fine_structure_eV=30.0))
    plain = quantify(y, E, ELEMENTS, config())
    np.testing.assert_allclose(exact.fractions, fr, atol=2e-3)
    assert np.abs(plain.fractions - fr).max() > 5 * np.abs(exact.fractions - fr).max()
    assert exact.nuisance_amounts.shape == (3, sum(c.shape[0] for c in cols))
    np.testing.assert_allclose(exact.model(), y, rtol=1e-6)        # the model holds the shaping
    with pytest.raises(ValueError, match="fine_structure_eV"):
        config(fine_structure_eV=-1.0)
