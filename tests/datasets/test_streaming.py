"""The streaming dataset, the in-memory single-element set and the occurrence of streamed spectra."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from dataset_fakes import fake_simulate

from eels_helpers.datasets.streaming import (
    StreamingSpectra,
    named_stream,
    simulated_arrays,
    single_element_arrays,
    stream_occurrence,
)
from eels_helpers.physics.elements import ELEMENTS


def test_stream_occurrence_counts_the_labels_of_whole_batches():
    occ = stream_occurrence(10, seed=2, batch_size=4, simulate_fn=fake_simulate)   # 3 batches
    stream = StreamingSpectra(seed=2, batch_size=4, n_batches=3, simulate_fn=fake_simulate)
    expected = sum(stream.batch(b)["labels_identification"].numpy().sum(axis=0) for b in range(3))
    assert occ.shape == (80,) and occ.dtype == np.int64
    np.testing.assert_array_equal(occ, expected)
    assert occ.sum() >= 12                   # every spectrum holds at least its query element
    with pytest.raises(ValueError, match="n_spectra must be an integer >= 1"):
        stream_occurrence(0)


def test_streaming_shapes_determinism_and_workers():
    assert issubclass(StreamingSpectra, torch.utils.data.IterableDataset)   # a plain class, seen by tools
    assert StreamingSpectra.__module__ == "eels_helpers.datasets.streaming"
    stream = StreamingSpectra(elements=("O", "Fe", "Ce"), seed=5, batch_size=8, n_batches=6,
                              simulate_fn=fake_simulate)
    assert len(stream) == 6
    single = list(torch.utils.data.DataLoader(stream, batch_size=None, num_workers=0))
    multi = list(torch.utils.data.DataLoader(stream, batch_size=None, num_workers=2))
    assert [b["batch_index"] for b in single] == list(range(6)) == [int(b["batch_index"]) for b in multi]
    for a, b in zip(single, multi):
        assert a["spectra"].shape == (8, 3072) and a["labels_identification"].shape == (8, 80)
        assert a["spectra"].dtype == torch.float32
        assert set(a["query"].tolist()) <= {ELEMENTS.index(e) for e in ("O", "Fe", "Ce")}
        assert (a["labels_identification"][torch.arange(8), a["query"]] == 1).all()
        torch.testing.assert_close(a["spectra"], b["spectra"])
    # consecutive batches (served by different workers) differ
    assert not torch.equal(multi[0]["spectra"], multi[1]["spectra"])
    # ranks split the stream without overlap
    r = [StreamingSpectra(seed=5, batch_size=4, n_batches=5, rank=k, world_size=2, simulate_fn=fake_simulate)
         for k in range(2)]
    assert [b["batch_index"] for b in r[0]] == [0, 2, 4] and [b["batch_index"] for b in r[1]] == [1, 3]
    with pytest.raises(ValueError, match="batch_size"):
        StreamingSpectra(batch_size=0)
    with pytest.raises(ValueError, match="unknown"):
        StreamingSpectra(elements=("H",))


def test_single_element_arrays_are_pure_ordered_and_seeded_per_element():
    x, y = single_element_arrays(3, seed=4, elements=("Ce", "O"), simulate_fn=fake_simulate)
    assert x.shape == (6, 3072) and y.shape == (6, 80) and x.dtype == y.dtype == np.float32
    np.testing.assert_array_equal(y.argmax(axis=1), [ELEMENTS.index("O")] * 3 + [ELEMENTS.index("Ce")] * 3)
    assert (y.sum(axis=1) == 1).all()                              # pure elements (Z order: O before Ce)
    x_ce, _ = single_element_arrays(3, seed=4, elements=("Ce",), simulate_fn=fake_simulate)
    np.testing.assert_array_equal(x[3:], x_ce)                      # independent of the other elements
    assert not np.array_equal(x_ce, single_element_arrays(3, seed=5, elements=("Ce",),
                                                          simulate_fn=fake_simulate)[0])
    with pytest.raises(ValueError, match="n_per_element"):
        single_element_arrays(0, seed=0, elements=("Ce",), simulate_fn=fake_simulate)
    with pytest.raises(ValueError, match="unknown"):
        single_element_arrays(1, seed=0, elements=("Xy",), simulate_fn=fake_simulate)


def test_real_streaming():
    stream = StreamingSpectra(elements=("C", "Fe"), seed=1, batch_size=6, n_batches=2)
    batches = list(stream)
    assert [b["spectra"].shape for b in batches] == [(6, 3072)] * 2
    assert not np.array_equal(batches[0]["spectra"].numpy(), batches[1]["spectra"].numpy())


def test_a_mixture_draws_a_share_of_batches_from_the_second_configuration():
    """mix_fraction f: about f of the batches use mix_config, chosen per batch by its own generator
    (the same batches for any f' >= f), and every other batch is bit for bit the unmixed one."""
    seen = []

    def recording(specimens, config, rng):
        seen.append(config)
        return fake_simulate(specimens, config, rng)

    plain = StreamingSpectra(config="A", seed=3, batch_size=2, n_batches=200, simulate_fn=fake_simulate)
    mixed = StreamingSpectra(config="A", seed=3, batch_size=2, n_batches=200, simulate_fn=recording,
                             mix_config="B", mix_fraction=0.3)
    batches = [mixed.batch(b) for b in range(200)]
    from_b = np.array([c == "B" for c in seen])
    assert 0.2 < from_b.mean() < 0.4
    assert [mixed.config_of(b) for b in range(200)] == seen
    more = StreamingSpectra(config="A", seed=3, batch_size=2, mix_config="B", mix_fraction=0.6, simulate_fn=fake_simulate)
    assert all(more.config_of(b) == "B" for b in np.flatnonzero(from_b))
    for b in range(200):
        same = torch.equal(batches[b]["spectra"], plain.batch(b)["spectra"])
        assert same          # the fake draws the same either way: only the configuration differs
    assert plain.config_of(0) == "A"
    with pytest.raises(ValueError, match="mix_fraction"):
        StreamingSpectra(mix_config="B", mix_fraction=1.5)
    with pytest.raises(ValueError, match="needs a mix_config"):
        StreamingSpectra(mix_fraction=0.5)


def test_query_weights_draw_elements_by_their_weight_and_leave_the_uniform_stream_unchanged():
    """query_weights: each element drawn with probability weight / sum (unlisted elements weigh 1);
    without them the stream is bit for bit the paper's uniform one."""
    from eels_helpers.datasets.streaming import query_probabilities

    np.testing.assert_allclose(query_probabilities(("O", "Fe", "Ce"), {"Fe": 3.0, "Ce": 0.0}), [0.25, 0.75, 0.0])
    weighted = StreamingSpectra(elements=("O", "Fe", "Ce"), seed=5, batch_size=50, simulate_fn=fake_simulate,
                                query_weights={"Fe": 3.0, "Ce": 0.0})
    queries = np.concatenate([weighted.batch(b)["query"].numpy() for b in range(40)])     # 2000 draws
    share = np.array([(queries == ELEMENTS.index(e)).mean() for e in ("O", "Fe", "Ce")])
    assert share[2] == 0 and abs(share[1] - 0.75) < 0.04 and abs(share[0] - 0.25) < 0.04
    plain = StreamingSpectra(elements=("O", "Fe"), seed=5, batch_size=8, simulate_fn=fake_simulate)
    empty = StreamingSpectra(elements=("O", "Fe"), seed=5, batch_size=8, simulate_fn=fake_simulate, query_weights={})
    assert torch.equal(plain.batch(3)["query"], empty.batch(3)["query"])
    with pytest.raises(ValueError, match="unknown element symbols"):
        StreamingSpectra(query_weights={"Xy": 1.0})
    with pytest.raises(ValueError, match="finite and >= 0"):
        StreamingSpectra(elements=("O",), query_weights={"O": -1.0})
    with pytest.raises(ValueError, match="must not all be 0"):
        StreamingSpectra(elements=("O",), query_weights={"O": 0.0})


def test_a_configuration_excluding_elements_never_queries_them():
    """SimulationConfig.exclude_elements: the stream never draws those query elements (query weights
    renormalised over the rest); excluding every drawn element is an error that says so."""
    from eels_helpers.simulation.config import SimulationConfig

    config = SimulationConfig(exclude_elements=("Fe",))
    stream = StreamingSpectra(config=config, elements=("O", "Fe", "Ce"), seed=5, batch_size=50,
                              simulate_fn=fake_simulate, query_weights={"Ce": 3.0})
    queries = np.concatenate([stream.batch(b)["query"].numpy() for b in range(20)])
    share = np.array([(queries == ELEMENTS.index(e)).mean() for e in ("O", "Fe", "Ce")])
    assert share[1] == 0 and abs(share[2] - 0.75) < 0.05
    with pytest.raises(ValueError, match="every query element"):
        StreamingSpectra(config=SimulationConfig(exclude_elements=("O",)), elements=("O",),
                         simulate_fn=fake_simulate).batch(0)


def test_open_world_stable_holds_no_tc_or_pm():
    X, Y = simulated_arrays(256, 4, 64, "open-world-stable")
    assert not Y[:, [ELEMENTS.index("Tc"), ELEMENTS.index("Pm")]].any()
    assert Y.any(axis=1).mean() > 0.5          # the other elements are there as before


def test_simulated_arrays_are_the_first_whole_batches_of_the_named_stream():
    x, y = simulated_arrays(6, seed=11, batch_size=4, simulation="open-world-sharp")    # 2 whole batches
    stream = named_stream("open-world-sharp", seed=11, batch_size=4)
    assert x.shape == (8, 3072) and y.shape == (8, 80) and x.dtype == np.float32
    for b in range(2):
        batch = stream.batch(b)
        np.testing.assert_array_equal(x[4 * b:4 * b + 4], batch["spectra"].numpy())
        np.testing.assert_array_equal(y[4 * b:4 * b + 4], batch["labels_identification"].numpy())
    assert stream.n_batches is None and set(stream.elements) <= set(ELEMENTS)     # endless, network elements
    from eels_helpers.simulation.named_configs import named_config  # a configuration object and chosen elements

    chosen = named_stream(named_config("open-world-sharp"), seed=11, batch_size=4, elements=("N", "Sc"))
    assert chosen.elements == ("N", "Sc") and set(chosen.batch(0)["query"].tolist()) <= {ELEMENTS.index("N"),
                                                                                       ELEMENTS.index("Sc")}
    with pytest.raises(ValueError, match="n_spectra must be an integer >= 1"):
        simulated_arrays(0, seed=1)
    with pytest.raises(ValueError, match="open-world-nonsense"):
        named_stream("open-world-nonsense")
