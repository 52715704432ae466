"""Evaluation: the paper's metrics and what it reports about its networks.

- ``metrics``: the one metrics API, ``evaluate(y_true, y_prob, threshold, exclude_carbon)``
  (support-weighted precision, recall, F1, exact match ratio, RMSE) and ``select_threshold``
  (the paper's rule: precision closest to recall);
- ``held_out``: the seeds of the simulated validation and test spectra;
- ``confusion``: reading the single-element confusion matrix;
- ``real_spectra``: labelled real spectra (manifest, the shipped set, split by compound) and a
  model's scores on them;
- ``intervals``: 95 % intervals of scores on few spectra (Wilson, bootstrap) and of the threshold;
- ``paired_comparison``: two models on the same labelled spectra, the difference of their scores with
  its interval over resampled compound groups, and the files only one gets right;
- ``mistakes``: the paper's two typical mistakes and the examples of Fig. 6;
- ``failure_analysis``, ``failure_artefacts``, ``failure_figures``: every mistake on real spectra
  grouped by cause, the artefacts of real spectra, and the figures over simulated spectra;
- ``ensemble_members``: an ensemble and its members side by side;
- ``report_precision``: how often each reported element is right on simulated spectra, per window
  class (the table behind ``predict``'s reliability notes);
- ``paper_numbers``: the paper's Tables 2 and 3, and ours beside them.

Stage rule: evaluation may import physics, simulation, datasets, models, inference and the
foundation modules (``eels_helpers.profiles``, ``eels_helpers.device``, ``eels_helpers.spectrum``,
``eels_helpers.files``);
never training, book or cli (training uses evaluation, not the reverse).
"""
