"""Physics of core-loss EELS: what an edge looks like before any instrument or noise.

Modules
-------
elements
    The 80 elements Be..Bi and their 107 edge families (onsets, major edges) of the paper's Fig. 1,
    and their edges outside those families (``OTHER_EDGES``).
gos_tables
    Generalised oscillator strength tables: the GOSH file format, GOS sources (builtin table,
    hydrogenic, a Dirac file) and :func:`~eels_helpers.physics.gos_tables.resolve_gos`.
dirac_download
    The paper's Dirac GOS file: its Zenodo records and the optional download.
atomic_gos
    The in-house all-electron atomic GOS that the builtin table is computed from.
hydrogenic
    Egerton's hydrogenic K and L GOS (SIGMAK3/SIGMAL3), a cross-check and fallback source.
cross_section
    dsigma/dE (barn/eV per atom) from a GOS for (E0, alpha, beta), vectorised; kinematics and
    Egerton's effective collection angle.
edge_shapes
    Edge-shape tables of every family for one beam energy, interpolated in beta* (what the
    simulator's shape tables are built from).
gos_checks
    Validation aids: GOS surface, Bethe sum rule, optical limit against Kissel (xraylib).

Physics is the lowest stage: its modules may import the foundations only (``eels_helpers.profiles``,
``eels_helpers.device``, ``eels_helpers.spectrum``, ``eels_helpers.files``), besides each other. Physics functions state
their equation, its source and their units in their docstrings.
"""
