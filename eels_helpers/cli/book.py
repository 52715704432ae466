"""``eels-id book`` (TEMPORARY re-export while the relayout lands)."""

from eels_helpers.book.runner import configure_parser, main  # noqa: F401
