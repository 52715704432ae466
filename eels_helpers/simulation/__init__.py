"""The spectrum simulator of the paper (Annys et al. 2023, Methods, Table 1 and Fig. 2).

Modules
-------
config
    ``SimulationConfig``: every parameter of Table 1, validated at construction.
named_configs
    The named configurations (``paper``, ``open-world``, ...) and their one-line notes.
specimens
    ``Specimen`` and the Materials Project compositions specimens are drawn from.
shape_tables
    Cross-section shape tables per beam energy (from :mod:`eels_helpers.physics.edge_shapes`)
    and their disk cache; which families a GOS source can compute.
parameters
    ``draw_parameters``: every random parameter of a batch, in a fixed order (reproducible
    datasets), as a frozen ``BatchParameters``.
steps
    The steps of Fig. 2 (edges, fine structure, plural scattering, background, instrumental
    shift and window, noise, labels), without randomness except the counting noise.
lowloss, fine_structure, background, noise
    The physics of each step (zero-loss peak and plasmons, generic fine structure, power-law
    background, Poisson noise).
pipeline
    ``simulate_batch`` = draw + steps; ``SimulatedBatch``, ``PARAM_DOC``, ``profile_steps``.
open_world, gas_phase, bonding_lines, detectability
    The open-world steps of issue 15 (each off by default); labels by detectability.
superlattice
    A synthetic LaMnO3/BaTiO3/SrTiO3 spectrum image with ground truth (the mapping chapter).
figures, interactive, preview
    Fig. 2 panels and galleries; the ipywidgets simulator; a quick look at a few spectra.

Its modules may import physics (the stage below) and the foundations (``eels_helpers.profiles``,
``eels_helpers.device``, ``eels_helpers.spectrum``, ``eels_helpers.files``) only, besides each other; nothing from
datasets, models or later stages.
"""
