"""eels_helpers: deep-learning element identification in core-loss EELS.

An executable reproduction of Annys, Jannis & Verbeeck, "Deep learning for automated
materials characterisation in core-loss electron energy loss spectroscopy",
Sci. Rep. 13:13724 (2023), and a command-line tool (``eels-id``) for microscopists.
"""

__version__ = "0.1.0"
