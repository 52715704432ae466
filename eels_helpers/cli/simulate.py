"""``eels-id simulate`` (TEMPORARY re-export while the relayout lands)."""

from eels_helpers.datasets.hdf5 import configure_parser, main  # noqa: F401
