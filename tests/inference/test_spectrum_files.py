"""Reading spectra: files written here with rosettasciio or by hand, and the real files in
../shared/experimental when present (skipped otherwise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import write_msa

from eels_helpers.inference.spectrum_files import SpectrumFileError, read_spectrum

EXPERIMENTAL = Path(__file__).resolve().parents[3] / "shared" / "experimental"


def _signal(data, axes, signal_type="EELS", **md):
    metadata = {"General": {"title": "test"}, "Signal": {"signal_type": signal_type}}
    metadata.update(md)
    return {"data": data, "axes": axes, "metadata": metadata, "original_metadata": {}, "tmp_parameters": {},
            "attributes": {"_lazy": False}, "learning_results": {}, "models": {},
            "package_info": {"name": "hyperspy", "version": "2.5.0"}}


def _axis(name, size, scale=1.0, offset=0.0, units="", navigate=False):
    return {"name": name, "size": size, "scale": scale, "offset": offset, "units": units, "navigate": navigate}


# ----------------------------------------------------------------------------- EMSA


def test_msa_written_by_rosettasciio_round_trips(tmp_path):
    from rsciio.msa import file_writer

    rng = np.random.default_rng(1)
    counts = rng.poisson(1000, 400).astype(np.float32)
    beam = {"Acquisition_instrument": {"TEM": {"beam_energy": 300.0}}}
    file_writer(str(tmp_path / "a.msa"), _signal(counts, [_axis("Energy loss", 400, 0.25, 512.0, "eV")], **beam))
    s = read_spectrum(tmp_path / "a.msa")
    assert s.navigation_shape == () and not s.is_spectrum_image
    np.testing.assert_allclose(s.energy_eV, 512.0 + 0.25 * np.arange(400), rtol=0, atol=1e-9)
    np.testing.assert_allclose(s.data, counts)
    assert s.data.dtype == np.float32
    assert s.metadata["beam_energy_keV"] == pytest.approx(300.0)
    assert s.source == str(tmp_path / "a.msa")


def test_msa_by_hand_in_keV_is_converted_to_eV(tmp_path):
    lines = ["#FORMAT      : EMSA/MAS Spectral Data File", "#VERSION     : 1.0", "#TITLE      : kev",
             "#NPOINTS     : 10", "#NCOLUMNS    : 1", "#XUNITS      : keV", "#YUNITS      : Counts",
             "#DATATYPE    : Y", "#XPERCHAN    : 0.002", "#OFFSET      : 0.5", "#SIGNALTYPE  : ELS",
             "#SPECTRUM    :"] + [str(100 + i) for i in range(10)] + ["#ENDOFDATA   :"]
    (tmp_path / "k.msa").write_text("\n".join(lines) + "\n")
    s = read_spectrum(tmp_path / "k.msa")
    np.testing.assert_allclose(s.energy_eV, 500.0 + 2.0 * np.arange(10), atol=1e-6)
    np.testing.assert_allclose(s.data, 100 + np.arange(10))


def test_msa_without_header_is_read_as_columns(tmp_path):
    e = np.arange(150, 160)
    (tmp_path / "bare.msa").write_text("".join(f"{x}\t{x * 2.5}\n" for x in e))
    s = read_spectrum(tmp_path / "bare.msa")
    np.testing.assert_allclose(s.energy_eV, e)
    np.testing.assert_allclose(s.data, 2.5 * e)
    assert s.metadata["energy_units_assumed"] is True


# ----------------------------------------------------------------------------- HyperSpy / EMD


def test_hspy_spectrum_image_with_energy_first_is_reordered(tmp_path):
    """(energy, y, x) on disk; the energy axis is found by its units, not its position."""
    from rsciio.hspy import file_writer

    rng = np.random.default_rng(2)
    cube = rng.random((200, 3, 4)).astype(np.float32)  # energy first, like some Gatan SIs
    axes = [_axis("Energy loss", 200, 0.5, 400.0, "eV"), _axis("y", 3, 2.0, 0, "nm", True),
            _axis("x", 4, 2.0, 0, "nm", True)]
    file_writer(str(tmp_path / "si.hspy"), _signal(cube, axes), show_progressbar=False)
    s = read_spectrum(tmp_path / "si.hspy")
    assert s.navigation_shape == (3, 4) and s.is_spectrum_image
    np.testing.assert_allclose(s.energy_eV, 400.0 + 0.5 * np.arange(200))
    np.testing.assert_array_equal(s.data[2, 1], cube[:, 2, 1])
    np.testing.assert_allclose(s.summed().data, cube.sum(axis=(1, 2)), rtol=1e-5)
    assert [a["name"] for a in s.metadata["navigation_axes"]] == ["y", "x"]


def test_hspy_keV_axis_and_decreasing_scale(tmp_path):
    from rsciio.hspy import file_writer

    data = np.arange(50, dtype=np.float32)
    file_writer(str(tmp_path / "k.hspy"), _signal(data, [_axis("E", 50, -0.002, 1.0, "keV")]),
                show_progressbar=False)
    s = read_spectrum(tmp_path / "k.hspy")
    assert np.all(np.diff(s.energy_eV) > 0)
    np.testing.assert_allclose(s.energy_eV, 1000.0 - 2.0 * np.arange(50)[::-1], atol=1e-6)
    np.testing.assert_array_equal(s.data, data[::-1])


def test_emd_written_by_rosettasciio(tmp_path):
    from rsciio.emd import file_writer

    cube = np.random.default_rng(3).random((2, 5, 120)).astype(np.float32)
    axes = [_axis("y", 2, 1, 0, "nm", True), _axis("x", 5, 1, 0, "nm", True), _axis("Energy loss", 120, 1.0, 300.0, "eV")]
    file_writer(str(tmp_path / "a.emd"), _signal(cube, axes))
    s = read_spectrum(tmp_path / "a.emd")
    assert s.navigation_shape == (2, 5)
    np.testing.assert_array_equal(s.data, cube)
    assert s.energy_eV[0] == 300.0


def test_singleton_navigation_axes_are_dropped(tmp_path):
    from rsciio.hspy import file_writer

    data = np.ones((1, 64), dtype=np.float32)
    file_writer(str(tmp_path / "one.hspy"), _signal(data, [_axis("x", 1, 1, 0, "", True), _axis("Energy", 64, 1, 100, "eV")]),
                show_progressbar=False)
    assert read_spectrum(tmp_path / "one.hspy").navigation_shape == ()


def test_axis_named_energy_in_other_units_is_rejected(tmp_path):
    from rsciio.hspy import file_writer

    file_writer(str(tmp_path / "nm.hspy"), _signal(np.ones(64, np.float32), [_axis("Energy loss", 64, 1, 300, "nm")]),
                show_progressbar=False)
    with pytest.raises(SpectrumFileError, match=r"nm\.hspy.*'nm'.*eV"):
        read_spectrum(tmp_path / "nm.hspy")


def test_file_without_energy_axis_is_rejected(tmp_path):
    from rsciio.hspy import file_writer

    file_writer(str(tmp_path / "img.hspy"), _signal(np.ones((4, 5), np.float32), [_axis("y", 4, 1, 0, "nm"), _axis("x", 5, 1, 0, "nm")], signal_type=""),
                show_progressbar=False)
    with pytest.raises(SpectrumFileError, match="no energy axis"):
        read_spectrum(tmp_path / "img.hspy")


def test_nan_values_are_reported_with_count_and_place(tmp_path):
    from rsciio.hspy import file_writer

    cube = np.ones((2, 3, 100), np.float32)
    cube[1, 2, 10:12] = np.nan
    axes = [_axis("y", 2, 1, 0, "nm", True), _axis("x", 3, 1, 0, "nm", True), _axis("Energy", 100, 1.0, 500.0, "eV")]
    file_writer(str(tmp_path / "nan.hspy"), _signal(cube, axes), show_progressbar=False)
    with pytest.raises(SpectrumFileError, match=r"2 NaN/inf.*510\.00-511\.00 eV.*1 of 6 spectra.*\(1, 2\)"):
        read_spectrum(tmp_path / "nan.hspy")


# ----------------------------------------------------------------------------- text


def test_csv_with_header_and_units(tmp_path):
    e = np.linspace(400.0, 700.0, 301)
    body = "".join(f"{x:.3f},{np.exp(-x / 300):.6e},{0.0}\n" for x in e)
    (tmp_path / "s.csv").write_text("Energy loss (eV),Counts,Background\n" + body)
    s = read_spectrum(tmp_path / "s.csv")
    np.testing.assert_allclose(s.energy_eV, e, atol=1e-3)
    np.testing.assert_allclose(s.data, np.exp(-e / 300), rtol=1e-5)
    assert s.metadata["energy_units_assumed"] is False and s.metadata["intensity_column"] == 1


def test_utf16_and_bom_text_files_read_as_utf8_and_a_third_column_is_named(tmp_path, caplog):
    """U38: a UTF-16 CSV (as some Windows programs save one) said "no numeric data"; a file with
    more than two columns says which one holds the counts."""
    import logging

    e = np.linspace(400.0, 700.0, 301)
    text = "Energy loss (eV),Counts,Background\n" + "".join(f"{x:.3f},{np.exp(-x / 300):.6e},0.0\n" for x in e)
    (tmp_path / "utf8.csv").write_text(text, encoding="utf-8")
    for name, encoding in (("utf16.csv", "utf-16"), ("utf16be.csv", "utf-16-be"), ("bom.csv", "utf-8-sig")):
        raw = text.encode(encoding)
        (tmp_path / name).write_bytes(b"\xfe\xff" + raw if encoding == "utf-16-be" else raw)
        with caplog.at_level(logging.INFO, logger="eels_helpers.inference.text_columns"):
            s = read_spectrum(tmp_path / name)
        np.testing.assert_array_equal(s.data, read_spectrum(tmp_path / "utf8.csv").data)
        np.testing.assert_allclose(s.energy_eV, e, atol=1e-3)
    assert ("3 columns (Energy loss (eV), Counts, Background); energy from column 0, counts from column 1 "
            "(counted from 0") in caplog.text


def test_text_choice_of_column_and_energy_column_by_name(tmp_path):
    e = np.arange(600, 620)
    (tmp_path / "s.txt").write_text("counts\tbackground\tenergy [keV]\n" + "".join(f"{i}\t{2 * i}\t{x / 1000}\n" for i, x in enumerate(e)))
    s = read_spectrum(tmp_path / "s.txt", column=1)
    np.testing.assert_allclose(s.energy_eV, e, atol=1e-9)
    np.testing.assert_allclose(s.data, 2 * np.arange(20))


def test_column_is_ignored_with_a_warning_for_a_file_read_by_its_format(tmp_path, caplog):
    import logging

    e = np.arange(600.0, 700.0)
    write_msa(tmp_path / "s.msa", e, np.exp(-e / 300))
    with caplog.at_level(logging.WARNING, logger="eels_helpers.inference.spectrum_files"):
        s = read_spectrum(tmp_path / "s.msa", column="Counts")
    np.testing.assert_allclose(s.data, np.exp(-e / 300), rtol=1e-5)
    assert "s.msa: column='Counts' ignored: the file is read by its own format" in caplog.text


def test_text_comment_units_and_descending_axis(tmp_path):
    e = np.arange(900, 800, -1.0)
    (tmp_path / "d.txt").write_text("# eV, counts\n" + "".join(f"{x} {x * 3}\n" for x in e))
    s = read_spectrum(tmp_path / "d.txt")
    assert np.all(np.diff(s.energy_eV) > 0)
    np.testing.assert_allclose(s.data, 3 * s.energy_eV)


def test_text_errors(tmp_path):
    (tmp_path / "one.txt").write_text("\n".join(str(i) for i in range(10)))
    with pytest.raises(SpectrumFileError, match="no energy axis"):
        read_spectrum(tmp_path / "one.txt")
    (tmp_path / "nm.csv").write_text("Wavelength (nm),I\n" + "".join(f"{i},{i}\n" for i in range(10)))
    with pytest.raises(SpectrumFileError, match="'nm'"):
        read_spectrum(tmp_path / "nm.csv")
    (tmp_path / "nan.csv").write_text("".join(f"{400 + i},{'nan' if i == 3 else 1}\n" for i in range(10)))
    with pytest.raises(SpectrumFileError, match=r"1 NaN/inf.*403\.00-403\.00 eV"):
        read_spectrum(tmp_path / "nan.csv")
    (tmp_path / "far.csv").write_text("".join(f"{4000 + i},1\n" for i in range(10)))
    with pytest.raises(SpectrumFileError, match="no overlap with the 75-3071 eV"):
        read_spectrum(tmp_path / "far.csv")
    (tmp_path / "kev.csv").write_text("".join(f"{0.3 + 0.001 * i:.3f},1\n" for i in range(500)))
    with pytest.raises(SpectrumFileError, match=r"0\.3 to 0\.8 eV .*in keV \(300-799 eV\)"):
        read_spectrum(tmp_path / "kev.csv")
    (tmp_path / "neg.csv").write_text("".join(f"{-500 + i},1\n" for i in range(50)))
    with pytest.raises(SpectrumFileError, match=r"range -500\.0 to -451\.0 eV has no overlap") as err:
        read_spectrum(tmp_path / "neg.csv")
    assert "keV" not in str(err.value)
    (tmp_path / "low.csv").write_text("".join(f"{i},1\n" for i in range(50)))
    with pytest.raises(SpectrumFileError, match="0.0 to 49.0 eV") as err:
        read_spectrum(tmp_path / "low.csv")
    assert "keV" not in str(err.value)            # a low-loss spectrum, not keV
    assert read_spectrum(tmp_path / "low.csv", check_window=False).n_channels == 50


def test_empty_or_truncated_gatan_file_is_named_so(tmp_path):
    (tmp_path / "empty.dm3").write_bytes(b"")
    with pytest.raises(SpectrumFileError, match=r"empty\.dm3: the file is empty \(0 bytes\)"):
        read_spectrum(tmp_path / "empty.dm3")
    (tmp_path / "text.dm4").write_text("400 1\n401 2\n" * 50)
    with pytest.raises(SpectrumFileError, match=r"text\.dm4: not a valid digitalmicrograph file, or truncated"):
        read_spectrum(tmp_path / "text.dm4")


def test_missing_file_and_unsupported_extension(tmp_path):
    with pytest.raises(SpectrumFileError, match="no such file"):
        read_spectrum(tmp_path / "absent.dm3")
    (tmp_path / "x.png").write_bytes(b"\x89PNG")
    with pytest.raises(SpectrumFileError, match=r"unsupported extension '\.png'.*\.dm3"):
        read_spectrum(tmp_path / "x.png")


# ----------------------------------------------------------------------------- real files


def _manifest():
    import pandas as pd

    if not (EXPERIMENTAL / "manifest.csv").is_file():
        pytest.skip("../shared/experimental is not present")
    return pd.read_csv(EXPERIMENTAL / "manifest.csv")


def test_every_experimental_file_loads():
    manifest = _manifest()
    failures = {}
    for rec in manifest.itertuples():
        try:
            s = read_spectrum(EXPERIMENTAL / rec.file)
        except Exception as err:  # collect all failures for one clear report
            failures[rec.file] = str(err)
            continue
        assert np.all(np.diff(s.energy_eV) > 0), rec.file
        assert np.isfinite(s.data).all(), rec.file
        assert s.is_spectrum_image == (rec.spectrum_image == "yes"), rec.file
    assert not failures, failures


def test_experimental_gatan_spectrum_image_axes():
    """The FeOx SI is stored (energy, y, x); we must return (y, x, energy) by units."""
    _manifest()
    from rsciio.digitalmicrograph import file_reader

    path = EXPERIMENTAL / "lensmind_FeOx_SI.dm3"
    raw = file_reader(str(path))[0]
    names = [a["name"] for a in raw["axes"]]
    s = read_spectrum(path)
    energy_pos = names.index("Energy loss")
    nav = tuple(a["size"] for a in raw["axes"] if a["name"] != "Energy loss")
    assert s.navigation_shape == nav == (17, 19)
    assert s.n_channels == raw["axes"][energy_pos]["size"]
    np.testing.assert_array_equal(s.data[5, 7], np.moveaxis(raw["data"], energy_pos, -1)[5, 7])
    assert s.energy_eV[0] == pytest.approx(raw["axes"][energy_pos]["offset"])


def test_experimental_microscope_metadata_is_extracted():
    """Beam energy and angles from Gatan tags (values read in DigitalMicrograph's tag tree)."""
    _manifest()
    si = read_spectrum(EXPERIMENTAL / "lensmind_FeOx_SI.dm3").metadata
    assert si["beam_energy_keV"] == pytest.approx(200.0)
    assert si["convergence_angle_mrad"] == pytest.approx(35.0)
    assert si["collection_angle_mrad"] == pytest.approx(27.78, abs=1e-3)
    atlas = read_spectrum(EXPERIMENTAL / "atlas_Au_0_3870eV.dm3").metadata
    assert atlas["beam_energy_keV"] == pytest.approx(200.0)


def test_text_with_decimal_commas(tmp_path):
    (tmp_path / "eu.csv").write_text("Energie (eV);Intensität\n" + "".join(f"{400 + i},5;{1000 + i},25\n" for i in range(8)))
    s = read_spectrum(tmp_path / "eu.csv")
    np.testing.assert_allclose(s.energy_eV, 400.5 + np.arange(8))
    np.testing.assert_allclose(s.data, 1000.25 + np.arange(8))


def test_free_header_text_does_not_invent_units(tmp_path):
    body = "".join(f"{500 + i} {10 + i}\n" for i in range(8))
    (tmp_path / "a.txt").write_text("Spectrum of FeO (sample A), 200 kV\n" + body)
    s = read_spectrum(tmp_path / "a.txt")
    assert s.metadata["energy_units_assumed"] is True and s.energy_eV[0] == 500
    (tmp_path / "b.txt").write_text("# FeO\n# energy loss in keV\n" + "".join(f"{0.5 + i / 1000} 1\n" for i in range(8)))
    assert read_spectrum(tmp_path / "b.txt").energy_eV[0] == pytest.approx(500.0)


# ----------------------------------------------------------------------------- inputs that must not pass silently


def _emsa(path, n=200, values=None, **keywords):
    """An EMSA DATATYPE Y file by hand: ``n`` counts (or ``values``, the data lines), 0.5 eV per channel
    from 400 eV unless ``keywords`` say otherwise (a keyword set to None is left out)."""
    header = {"FORMAT": "EMSA/MAS Spectral Data File", "VERSION": "1.0", "TITLE": "t", "NPOINTS": f"{n}.00",
              "NCOLUMNS": "1.00000", "XUNITS": "eV", "YUNITS": "Counts", "DATATYPE": "Y", "XPERCHAN": "0.500000",
              "OFFSET": "400.000", "SIGNALTYPE": "ELS"}
    header.update(keywords)
    lines = [f"#{k:<12}: {v}" for k, v in header.items() if v is not None] + ["#SPECTRUM    : "]
    lines += values if values is not None else [f"{1e4 * (400 + 0.5 * i) ** -1:.4f}" for i in range(n)]
    path.write_text("\n".join(lines + ["#ENDOFDATA   : "]) + "\n")
    return path


@pytest.mark.parametrize("key, value", [("XPERCHAN", "abc"), ("OFFSET", "3.6e2.0"), ("BEAMKV", "high")])
def test_a_malformed_emsa_number_is_one_error_naming_file_and_keyword(tmp_path, capsys, key, value):
    """Not rosettasciio's traceback on stdout (it corrupts `predict --json`), not a bare float() message."""
    path = _emsa(tmp_path / "bad.msa", **{key: value})
    with pytest.raises(SpectrumFileError, match=rf"bad\.msa: EMSA keyword {key} '{value}' is not a number"):
        read_spectrum(path)
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err


def test_a_bad_npoints_is_a_warning_and_rosettasciio_logs_stay_off_stdout(tmp_path, capsys, caplog, monkeypatch):
    import logging

    import rsciio.msa  # noqa: F401  (importing it installs its handler)

    printed = []                     # rosettasciio's own handler (it prints on stdout) must receive nothing
    spy = logging.Handler()
    spy.emit = printed.append
    monkeypatch.setattr(logging.getLogger("rsciio"), "handlers", [spy])
    path = _emsa(tmp_path / "n.msa", NPOINTS="lots", LIVETIME="soon")
    with caplog.at_level("WARNING", logger="eels_helpers.inference.spectrum_files"):
        s = read_spectrum(path)
    assert s.n_channels == 200 and s.energy_eV[1] == pytest.approx(400.5)
    text = caplog.text
    assert "n.msa: EMSA keyword NPOINTS 'lots' is not a number" in text
    assert "EMSA keyword LIVETIME 'soon' is not a number" in text            # rosettasciio's record, one line
    assert "Traceback" not in text and capsys.readouterr().out == ""
    assert printed == [] and logging.getLogger("rsciio").handlers == [spy]   # restored afterwards


@pytest.mark.parametrize("missing", [("XPERCHAN",), ("OFFSET",), ("XPERCHAN", "OFFSET")])
def test_emsa_y_data_without_xperchan_or_offset_is_refused(tmp_path, missing):
    """Not 1 eV per channel from 0 eV assumed in silence: the standard requires both."""
    path = _emsa(tmp_path / "m.msa", **{k: None for k in missing})
    with pytest.raises(SpectrumFileError, match=rf"m\.msa: the EMSA header has no {' or '.join(missing)}"):
        read_spectrum(path)


def test_npoints_disagreeing_with_the_data(tmp_path, caplog):
    with caplog.at_level("WARNING", logger="eels_helpers.inference.spectrum_files"):
        assert read_spectrum(_emsa(tmp_path / "big.msa", NPOINTS="300")).n_channels == 200
        assert read_spectrum(_emsa(tmp_path / "small.msa", NPOINTS="100")).n_channels == 200
    assert "big.msa: the EMSA header says NPOINTS 300 but the file holds 200 values" in caplog.text
    assert "small.msa: the EMSA header says NPOINTS 100 but the file holds 200 values" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        read_spectrum(_emsa(tmp_path / "ok.msa"))
    assert caplog.text == ""
    with pytest.raises(SpectrumFileError, match=r"cut\.msa: the EMSA header says NPOINTS 2048 but the file holds 200"):
        read_spectrum(_emsa(tmp_path / "cut.msa", NPOINTS="2048"))


@pytest.mark.parametrize("step", ["0", "-0.5", "0.0000"])
def test_a_non_positive_xperchan_is_an_error_naming_file_and_keyword(tmp_path, step):
    with pytest.raises(SpectrumFileError, match=rf"x\.msa: EMSA keyword XPERCHAN '{step}' must be positive \(eV"):
        read_spectrum(_emsa(tmp_path / "x.msa", XPERCHAN=step))


def test_errors_while_reading_name_the_file(tmp_path, monkeypatch):
    from rsciio.hspy import file_writer

    from eels_helpers.inference import text_columns

    file_writer(str(tmp_path / "flat.hspy"), _signal(np.ones(100, np.float32), [_axis("Energy loss", 100, 0.0, 500, "eV")]),
                show_progressbar=False)
    with pytest.raises(SpectrumFileError, match=r"flat\.hspy: the energy axis Energy loss is not strictly monotonic"):
        read_spectrum(tmp_path / "flat.hspy")
    (tmp_path / "a.csv").write_text("".join(f"{500 + i},1\n" for i in range(10)))

    def fails(path, column):   # a check of Spectrum's (a ValueError) reached through the reader
        raise ValueError("energy_eV must be 1-D, got shape (2, 5)")

    monkeypatch.setattr(text_columns, "read_columns", fails)
    with pytest.raises(SpectrumFileError, match=r"a\.csv: energy_eV must be 1-D"):
        read_spectrum(tmp_path / "a.csv")


def test_counts_beyond_float32_are_named_not_reported_as_nan(tmp_path):
    import warnings

    (tmp_path / "huge.csv").write_text("".join(f"{500 + i},{1e300 if i % 2 else 1.0}\n" for i in range(10)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no numpy overflow RuntimeWarning
        with pytest.raises(SpectrumFileError, match=r"huge\.csv: 5 of 10 count value\(s\) exceed float32's range"):
            read_spectrum(tmp_path / "huge.csv")
    (tmp_path / "ok.csv").write_text("".join(f"{500 + i},{3e38}\n" for i in range(10)))
    assert np.isfinite(read_spectrum(tmp_path / "ok.csv").data).all()


def test_coarse_axes_and_nearly_empty_windows_are_refused(tmp_path):
    from eels_helpers.inference.spectrum_files import MAX_CHANNEL_WIDTH_EV, MIN_WINDOW_CHANNELS

    rng = np.random.default_rng(0)
    for name, energy in (("four.csv", 100.0 + 500 * np.arange(4)), ("twenty.csv", 100.0 + 100 * np.arange(20)),
                         ("six.csv", 400.0 + 6 * np.arange(200))):
        (tmp_path / name).write_text("".join(f"{e},{c}\n" for e, c in zip(energy, rng.random(energy.size))))
        with pytest.raises(SpectrumFileError, match=rf"{name}: channels [\d.]+ eV wide \(median\); at most 5 eV"):
            read_spectrum(tmp_path / name)
    energy = 400.0 + MAX_CHANNEL_WIDTH_EV * np.arange(200)         # as coarse as is read
    (tmp_path / "five.csv").write_text("".join(f"{e},1\n" for e in energy))
    assert read_spectrum(tmp_path / "five.csv").dispersion_eV == pytest.approx(MAX_CHANNEL_WIDTH_EV)
    energy = 3069.0 + 0.5 * np.arange(MIN_WINDOW_CHANNELS + 10)      # 3069-3071 eV: 5 channels in the window
    (tmp_path / "edge.csv").write_text("".join(f"{e},1\n" for e in energy))
    assert read_spectrum(tmp_path / "edge.csv").n_channels == MIN_WINDOW_CHANNELS + 10
    (tmp_path / "edge3.csv").write_text("".join(f"{e + 1},1\n" for e in energy))
    with pytest.raises(SpectrumFileError, match=r"edge3\.csv: 3 channel\(s\) in the 75-3071 eV window"):
        read_spectrum(tmp_path / "edge3.csv")
    assert read_spectrum(tmp_path / "edge3.csv", check_window=False).n_channels == MIN_WINDOW_CHANNELS + 10


def test_column_is_ignored_for_an_emsa_file_that_only_the_column_reader_parses(tmp_path, caplog):
    """DATATYPE Y, one value per line with a trailing comma: rosettasciio reads 0 points, the column
    reader reads it from #OFFSET/#XPERCHAN. --column used to be applied there ("no column named 'Counts';
    its columns are 'SPECTRUM', ':'", "column='0' is the energy column") to a file with no columns."""
    import logging

    values = 1e5 * (1.0 + np.arange(200.0)) ** -0.5
    header = ["#FORMAT      : EMSA/MAS Spectral Data File", "#VERSION     : 1.0", "#TITLE       : y",
              f"#NPOINTS     : {values.size}", "#NCOLUMNS    : 1", "#XUNITS      : eV", "#YUNITS      : Counts",
              "#DATATYPE    : Y", "#XPERCHAN    : 0.5", "#OFFSET      : 300", "#SPECTRUM    :"]
    path = tmp_path / "y.msa"
    path.write_text("\n".join(header + [f"{v:.1f}," for v in values] + ["#ENDOFDATA   : "]) + "\n")
    for column in ("Counts", 0):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="eels_helpers.inference.spectrum_files"):
            s = read_spectrum(path, column=column)
        np.testing.assert_allclose(s.energy_eV, 300.0 + 0.5 * np.arange(values.size))
        np.testing.assert_allclose(s.data, np.round(values, 1), rtol=1e-6)
        assert f"y.msa: column={column!r} ignored" in caplog.text
