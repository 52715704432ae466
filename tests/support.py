"""Test support shared by several test modules: spectrum files as microscopes write them, fake
networks with a known answer, a tiny model file, and the exit status of a command.

Importable from every test module: pytest puts this folder (that of the root conftest.py) on
sys.path.
"""

import shutil

import numpy as np
import pytest
import torch

from eels_helpers.physics.elements import element_index


def write_msa(path, energy, counts):
    """``counts`` (n,) on the uniform ``energy`` axis (n,) eV, as an EELS .msa file at ``path``."""
    from rsciio.msa import file_writer

    axes = [{"name": "Energy loss", "size": energy.size, "scale": float(energy[1] - energy[0]),
             "offset": float(energy[0]), "units": "eV", "navigate": False}]
    file_writer(str(path), {"data": counts.astype(np.float32), "axes": axes,
                            "metadata": {"General": {"title": "t"}, "Signal": {"signal_type": "EELS"}},
                            "original_metadata": {}})


def artefact_image():
    """(counts (3, 5, 1600) float64, energy (1600,) eV): an O K image with Poisson noise and one of each
    artefact the pre-processing repairs or cuts: a spike at (0, 1), dead channels at (1, 3), a
    saturated top at (2, 4)."""
    energy = np.arange(100.0, 900.0, 0.5)
    rng = np.random.default_rng(8)
    mean = 2e5 * (energy / 100.0) ** -3.0 + 4e3 * (energy > 532) * (532 / np.maximum(energy, 532)) ** 2
    cube = rng.poisson(mean, size=(3, 5, energy.size)).astype(np.float64)
    cube[0, 1, 700] *= 30.0
    cube[1, 3, 900:906] = 0.0
    cube[2, 4] = np.minimum(cube[2, 4], 1e5)
    return cube, energy


class FeMarker(torch.nn.Module):
    """A fake network: Fe logit 40 (x[700] - x[650] - 0.25), positive where the pre-processed
    spectrum has a spike at 700 eV; every other element -10."""

    def forward(self, x):
        out = torch.full((x.shape[0], 80), -10.0)
        out[:, element_index("Fe")] = 40.0 * (x[:, 700] - x[:, 650] - 0.25)
        return out


#: headless Chromium under any of its package names
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: flags of an offline, headless Chromium on this machine (the closed network refuses the
#: background connections, many at a time, without the networking flags)
HEADLESS_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-extensions", "--hide-scrollbars",
]


def find_chromium(test: str) -> str:
    """The Chromium executable, or skip ``test`` (a phrase for the message) with how to get one."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("Chromium is not installed (Debian: `apt-get install chromium`; .ci/run installs "
                f"it): {test} needs a headless browser")


def tiny_mlp_file(path, threshold: float = 0.5):
    """A model file at ``path``: an untrained MLP (hidden [16], seed 0) with ``threshold``."""
    from eels_helpers.models import create_model
    from eels_helpers.models.model_files import save_model

    torch.manual_seed(0)
    return save_model(path, create_model("mlp", hidden=[16]).eval(), architecture="mlp",
                      options={"hidden": [16]}, threshold=threshold)


def cli_status(argv) -> int:
    """``eels-id``'s ``main(argv)`` return value, or argparse's exit code for a usage error."""
    from eels_helpers.cli import main

    try:
        return main(argv)
    except SystemExit as err:
        return err.code


def constant_presence_resolver(logit: float):
    """A presence twin resolver whose logit is ``logit`` whatever it reads ("absent" below 0)."""
    from eels_helpers.models.twin_resolver import TwinResolver

    net = TwinResolver(presence=True)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.layers[-1].bias.fill_(logit)
    return net.eval()


def terminal_stderr(monkeypatch) -> None:
    """Make the (captured) stderr a terminal, where progress bars are drawn
    (``eels_helpers.progress_bar``); call it in the test's body, after capsys has replaced stderr."""
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
