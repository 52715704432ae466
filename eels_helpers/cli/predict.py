"""``eels-id predict`` (TEMPORARY re-export while the relayout lands)."""

from eels_helpers.inference.predict import configure_parser, main  # noqa: F401
