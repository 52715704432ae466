"""``eels-id failures``: the table, --json, --out and the errors, on a small synthetic manifest
with the shipped default model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import write_msa

from eels_helpers.cli import main


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three labelled spectra: Fe L + O K, an edge-free power law labelled O (no O K in the
    window), and a window starting at 50 eV labelled Al (only Al L2,3 there)."""
    out = tmp_path_factory.mktemp("failures_cli")
    specs = {"feo.msa": (400, 900, [(532, 0.6), (708, 1.0)]), "noedge.msa": (100, 400, []),
             "al.msa": (50, 400, [(73, 1.0)])}
    for name, (start, end, edges) in specs.items():
        energy = np.arange(start, end, 0.5)
        counts = 1e6 * (energy / 100.0) ** -3.0
        for onset, jump in edges:
            counts += np.where(energy >= onset, jump * 1e6 * (onset / 100.0) ** -3.0 * (energy / onset) ** -3.5, 0)
        write_msa(out / name, energy, counts)
    (out / "manifest.csv").write_text("file,elements,notes\nfeo.msa,Fe;O,\nnoedge.msa,O,\nal.msa,Al,\n")
    return out


def test_help_lists_the_flags(capsys):
    with pytest.raises(SystemExit) as err:
        main(["failures", "--help"])
    assert err.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--model", "--experimental-dir", "--threshold", "--keep-twins", "--out", "--json", "--device",
                 "--compare"):
        assert flag in out


def test_table_json_and_figures(folder, tmp_path, capsys):
    assert main(["failures", "--experimental-dir", str(folder), "--threshold", "0.5"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert out.startswith("model default, threshold 0.50, 3 spectra:")
    assert f"eels-id failures: real spectra: 3 real spectra from {folder}" in captured.err   # which spectra
    assert "edge outside the 107 families" in out and "no edge in the window" in out
    assert "al.msa: FN Al" in out and "noedge.msa: FN O" in out
    assert "exact match on all of them" in out and "alone" in out
    assert "pair of commonly confused elements" in out or "pairs of commonly confused elements" in out

    assert main(["failures", "--experimental-dir", str(folder), "--json", "--out", str(tmp_path / "figs")]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["model"] == "default" and data["spectra"] == 3 and 0 < data["threshold"] < 1
    groups = {g["cause"]: g for g in data["groups"]}
    assert groups["outside_families"]["files"][0] == "al.msa" and groups["outside_families"]["false_negatives"] == 1
    assert groups["no_edge_in_window"]["false_negatives"] == 1
    assert {m["cause"] for m in data["mistakes"]} <= set(groups)
    pairs = data["neighbour_pairs"]
    assert pairs["pairs"] == pairs["both_labelled"] + pairs["one_labelled"] + pairs["neither_labelled"]
    assert "written to" in captured.err
    pngs = sorted(p.name for p in (tmp_path / "figs").glob("*.png"))
    assert "default_outside_families.png" in pngs and "default_no_edge_in_window.png" in pngs
    assert (tmp_path / "figs" / "default_mistakes.csv").read_text().startswith("row,file,kind,element")


def test_errors_name_the_problem(folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as usage:          # argparse's usage error
        main(["failures", "--experimental-dir", str(folder), "--threshold", "1.5"])
    assert usage.value.code == 2
    assert "argument --threshold: must be a probability in (0, 1), got '1.5'" in capsys.readouterr().err
    assert main(["failures", "--experimental-dir", str(tmp_path)]) == 2
    assert f"--experimental-dir {tmp_path}: no manifest.csv there" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    assert main(["failures", "--experimental-dir", str(folder), "--out", str(tmp_path / "afile")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert main(["failures", "--experimental-dir", str(folder), "--model", "no-such-model"]) == 2
    assert "no-such-model" in capsys.readouterr().err


def test_compare_puts_a_second_model_beside_on_the_same_spectra(folder, capsys):
    assert main(["failures", "--experimental-dir", str(folder), "--compare", "default"]) == 0
    out = capsys.readouterr().out
    assert "default (B) against default (A) on the same 3 spectra (3 compound groups" in out
    assert "exact match:" in out and "difference +0.000" in out and "exact only with B (0): -" in out
    assert main(["failures", "--experimental-dir", str(folder), "--compare", "default", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    cmp = data["comparison"]
    assert cmp["spectra"] == 3 and cmp["scores"]["F1"]["difference"] == 0.0 and cmp["exact_only_a"] == []
    assert cmp["scores"]["exact match"]["a"] == data["exact_matches"] / 3
    assert main(["failures", "--experimental-dir", str(folder), "--compare", "no-such-model"]) == 2
    assert "no-such-model" in capsys.readouterr().err
