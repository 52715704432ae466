"""Text columns (:mod:`eels_helpers.inference.text_columns`, read through ``read_spectrum``):
the counts column by header name or number, the default counts column, errors that name the file."""

from __future__ import annotations

import numpy as np
import pytest

from eels_helpers.inference.spectrum_files import SpectrumFileError, read_spectrum


def test_text_column_by_header_name_and_errors_that_name_the_columns(tmp_path):
    e = np.arange(600, 620)
    (tmp_path / "s.csv").write_text("Energy (eV), Background ,Signal\n"
                                    + "".join(f"{x},{i},{3 * i}\n" for i, x in enumerate(e)))
    for column in ("Signal", " signal ", "2", 2):
        np.testing.assert_allclose(read_spectrum(tmp_path / "s.csv", column=column).data, 3 * np.arange(20))
    np.testing.assert_allclose(read_spectrum(tmp_path / "s.csv", column="background").data, np.arange(20))
    with pytest.raises(SpectrumFileError, match=r"s.csv: no column named 'Counts'; its columns are "
                                                r"'Energy \(eV\)', 'Background', 'Signal'"):
        read_spectrum(tmp_path / "s.csv", column="Counts")
    with pytest.raises(SpectrumFileError, match=r"column='energy' is the energy column \(0, counted from 0\)"):
        read_spectrum(tmp_path / "s.csv", column="energy")            # units in brackets may be left out
    with pytest.raises(SpectrumFileError, match=r"column=5 is not a valid intensity column .*counted from 0"):
        read_spectrum(tmp_path / "s.csv", column=5)
    (tmp_path / "twice.csv").write_text("Energy,Counts,Energy2,Counts\n600,1,1,2\n601,1,1,2\n")
    with pytest.raises(SpectrumFileError, match=r"columns 1 and 3 are both named 'Counts': give the number"):
        read_spectrum(tmp_path / "twice.csv", column="Counts", check_window=False)
    with pytest.raises(SpectrumFileError, match=r"s.csv: no column named '--1'"):     # no number: a name
        read_spectrum(tmp_path / "s.csv", column="--1")
    (tmp_path / "bare.txt").write_text("".join(f"{x} {i} {3 * i}\n" for i, x in enumerate(e)))
    with pytest.raises(SpectrumFileError, match=r"bare.txt: no column named 'Signal'; its header names no 3 "
                                                r"columns .*: give a number from 0 to 2"):
        read_spectrum(tmp_path / "bare.txt", column="Signal")
    with pytest.raises(SpectrumFileError, match=r"column=1.5 must be a column number or a header name"):
        read_spectrum(tmp_path / "bare.txt", column=1.5)


@pytest.mark.parametrize("header, expected", [
    ("Energy (eV),Counts,Background", 1),            # the column after the energy, as before
    ("Channel,Energy (eV),Counts", 2),               # not the channel index before the energy
    ("Energy (eV),Background,Signal", 2),            # named like counts
    ("Energy,Background signal,Counts (a.u.)", 2),   # "count" before "signal"
    ("counts,background,energy [keV]", 0),
    ("Index,Energy loss,Data,Fit", 2),               # no counts-like name: the first non-index column
])
def test_the_default_counts_column_follows_the_header(tmp_path, header, expected):
    e = np.arange(600, 610)
    table = np.column_stack([np.arange(10.0) + 100 * k for k in range(4)])[:, :header.count(",") + 1]
    energy_col = next(i for i, n in enumerate(header.split(",")) if "nerg" in n)
    table[:, energy_col] = e / (1000 if "keV" in header else 1)
    (tmp_path / "h.csv").write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in table))
    s = read_spectrum(tmp_path / "h.csv", check_window=False)
    assert s.metadata["intensity_column"] == expected
    np.testing.assert_allclose(s.data, table[:, expected])
