"""``eels-id models`` (TEMPORARY re-export while the relayout lands)."""

from eels_helpers.training.release import configure_parser, main  # noqa: F401
