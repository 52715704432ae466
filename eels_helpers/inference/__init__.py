"""Inference: from spectrum files to the elements they hold, element maps and amounts.

- ``spectrum_files``: read .dm3/.dm4/.msa/.hspy/.emd and text files into a
  :class:`eels_helpers.spectrum.Spectrum` (energy axis last, eV);
- ``preprocess``: the paper's pre-processing onto the networks' 0-3071 eV input grid;
- ``predict``: :func:`~eels_helpers.inference.predict.predict`, the elements of spectra and
  spectrum images (``eels-id predict``);
- ``mapping``: per-pixel probability maps of a spectrum image with the paper's 1 % presence
  criterion, Fig. 7 (``eels-id map``);
- ``quantify``: model-based quantification (cross sections, power-law background, NNLS);
- ``hyperspy_signals``: HyperSpy / exspy signals in (``predict``, ``map_elements``) and the
  detected elements out (``metadata.Sample.elements``, probability maps, an offline exspy model).
- ``verification`` (+ ``verification_rules``, ``verification_figures``): a model fit of each
  spectrum confirms or rejects the network's candidate elements and says why (``--verify``);
- ``cautions``, ``report_reliability``: lines for reported elements to check by eye (commonly
  confused neighbours; elements a model rarely reports rightly in such windows, in simulation).

Stage rule: inference may import physics, simulation, datasets, models and the foundation
modules (``eels_helpers.profiles``, ``eels_helpers.device``, ``eels_helpers.spectrum``, ``eels_helpers.files``); never
evaluation, training, book or cli. The command lines live in :mod:`eels_helpers.cli`.
"""
