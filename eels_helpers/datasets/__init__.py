"""Simulated datasets: the paper's splits written to HDF5 and read back, or streamed with no file.

* :mod:`~eels_helpers.datasets.config`: what a dataset holds (``DatasetConfig``: scale, splits,
  query elements, storage dtype), its work units and the content of a unit (reproducible per unit);
* :mod:`~eels_helpers.datasets.hdf5_writer`: ``write_dataset`` (resumable, sharded, parallel;
  the file layout);
* :mod:`~eels_helpers.datasets.hdf5_reader`: ``open_dataset`` (one file, shards or a glob),
  ``SplitView``, ``TorchSplit``, and ``open_training_split``, the one reader of training data
  (our files and plain HDF5 files);
* :mod:`~eels_helpers.datasets.streaming`: ``StreamingSpectra`` (fresh batches, no disk),
  ``single_element_arrays``, ``stream_occurrence``;
* :mod:`~eels_helpers.datasets.occurrence`: ``element_occurrence`` (paper Fig. 4) from a label
  matrix, a split, as a table or a plot.

This stage may import :mod:`eels_helpers.physics`, :mod:`eels_helpers.simulation` and the
foundations (:mod:`eels_helpers.profiles`, :mod:`eels_helpers.device`,
:mod:`eels_helpers.spectrum`, :mod:`eels_helpers.files`) only. Nothing is imported here: import the modules
(``from eels_helpers.datasets.hdf5_reader import open_dataset``); only ``streaming`` imports torch.
"""
