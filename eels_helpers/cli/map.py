"""``eels-id map`` (TEMPORARY re-export while the relayout lands)."""

from eels_helpers.inference.mapping import configure_parser, main  # noqa: F401
