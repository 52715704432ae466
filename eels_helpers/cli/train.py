"""``eels-id train`` (TEMPORARY re-export while the relayout lands)."""

from eels_helpers.training.loop import configure_parser, main  # noqa: F401
