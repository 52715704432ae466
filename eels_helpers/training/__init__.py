"""Training the networks as in the paper (Annys et al. 2023, Methods), and releasing them.

=============  ================================================================================
module         holds
=============  ================================================================================
``config``     :class:`~eels_helpers.training.config.TrainConfig`: everything that defines a run
``loss``       the loss: binary cross-entropy + macro soft-F1 cost
``schedule``   the learning-rate halving on a plateau and the stopping rule
``data``       datasets for training (toy, HDF5, streaming simulator), batch order, sharding
``loop``       :func:`~eels_helpers.training.loop.train`: set-up, resume, one pseudo-epoch, outputs
``runs``       the files of a run directory, Table 2's results, finding runs and trained models
``release``    scoring trained runs and shipping them with the package (model card)
=============  ================================================================================

The command ``eels-id train`` is :mod:`eels_helpers.cli.train`; ``eels-id models`` is
:mod:`eels_helpers.cli.models`.

May import: the foundations (:mod:`eels_helpers.profiles`, :mod:`eels_helpers.device`,
:mod:`eels_helpers.spectrum`) and the lower stages (physics, simulation, datasets, models,
inference, evaluation: a run is validated with the paper's metrics and released with scores
on real spectra). Nothing below imports training.
"""
