"""Test support shared by several test modules: spectrum files as microscopes write them, and
fake networks with a known answer.

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
