"""The paper rehearsal as a background process (``eels-id book --profile paper --rehearse
--no-build``) on a temporary copy of the notebooks, for ``tests/book/conftest.py``.

The rehearsal is the suite's slowest fixture (3.5 min on the 2-core Intel machine, 4 min on the
AMD one) and spends most of it in one notebook kernel at a time, while the rest of the suite leaves
one of the two cores idle much of the time: started when collection ends, it runs beside the
other tests, and the ``rehearsal`` fixture waits for it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: the command line after ``eels-id``, less ``--root``
REHEARSAL_ARGS = ("book", "--profile", "paper", "--rehearse", "--no-build", "--no-progress")


def copy_root(repo_root: Path, dest: Path) -> Path:
    """A project folder at ``dest`` holding a copy of ``_toc.yml`` and ``notebooks/``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(repo_root / "_toc.yml", dest / "_toc.yml")
    shutil.copytree(repo_root / "notebooks", dest / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return dest


@dataclass
class BackgroundRehearsal:
    base: Path                    # temporary folder: root/ and rehearsal.log
    process: subprocess.Popen

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def log(self) -> Path:
        return self.base / "rehearsal.log"

    def wait(self) -> int:
        """The rehearsal's exit status, once it has ended."""
        return self.process.wait()

    def log_tail(self, n_chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n_chars:] if self.log.is_file() else ""

    def stop(self) -> None:
        """End the process if it still runs (an interrupted session) and remove its files (the
        paper-size checkpoints are about 2.6 GB)."""
        if self.process.poll() is None:      # its notebook kernels too: the whole process group
            _signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _signal_group(self.process, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def start_rehearsal(repo_root: Path, base: Path) -> BackgroundRehearsal:
    """Start the rehearsal on a copy of ``repo_root``'s notebooks under ``base``; its output goes to
    ``base/rehearsal.log``."""
    copy_root(repo_root, base / "root")
    with open(base / "rehearsal.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "eels_helpers.cli", *REHEARSAL_ARGS,
                                    "--root", str(base / "root")],
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=repo_root, start_new_session=True)   # its own process group
    return BackgroundRehearsal(base, process)
