"""The paper rehearsal, started in the background when collection ends
(:mod:`rehearsal_process`), for the tests that use the ``rehearsal`` fixture.

* ``rehearsal``: ``(root, exit status)`` of ``eels-id book --profile paper --rehearse --no-build``
  on a copy of the notebooks, once per session; the process starts when collection ends if a
  collected test uses this fixture (not for ``--collect-only``, nor when ``-m "not slow"`` or
  ``-k`` deselect them), else when the fixture is first asked for. Its paper-size checkpoints
  (about 2.6 GB) are removed after the module that uses it, the rest when the session ends (the
  process stopped first, should the session be interrupted).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from rehearsal_process import BackgroundRehearsal, start_rehearsal

_KEY = pytest.StashKey[BackgroundRehearsal]()


def _start(config) -> BackgroundRehearsal:
    """Start the rehearsal of the project at pytest's rootdir (the folder of pyproject.toml)."""
    config.stash[_KEY] = start_rehearsal(config.rootpath, Path(tempfile.mkdtemp(prefix="eels-rehearsal-")))
    return config.stash[_KEY]


def pytest_collection_finish(session):
    if session.config.option.collectonly or _KEY in session.config.stash:
        return
    if any("rehearsal" in getattr(item, "fixturenames", ()) for item in session.items):
        _start(session.config)


def pytest_sessionfinish(session):
    background = session.config.stash.get(_KEY, None)
    if background is not None:
        background.stop()


@pytest.fixture(scope="module")
def rehearsal(request):
    background = request.config.stash.get(_KEY, None) or _start(request.config)
    code = background.wait()
    if code != 0:
        print(f"the rehearsal exited with {code}; the end of its output:\n{background.log_tail()}")
    yield background.root, code
    shutil.rmtree(background.root / "_build", ignore_errors=True)   # the paper-size checkpoints, ~2.6 GB
