"""Training data: batch order, sharding and exact resume of each kind of dataset."""

import pytest
import torch

from eels_helpers.training.config import TrainConfig
from eels_helpers.training.data import iterate_batches

TINY = dict(model="mlp", model_options={"width": 0.02}, batch_size=8, steps_per_epoch=3, max_epochs=2,
            progress=False, num_threads=1)


class FakeStream:
    """Duck-typed like eels_helpers.datasets.streaming.StreamingSpectra: batch(b) is a function of b only."""

    def __init__(self, batch_size=4, rank=0, world_size=1):
        self.batch_size, self.rank, self.world_size, self.n_batches = batch_size, rank, world_size, None

    def batch(self, b):
        x = torch.full((self.batch_size, 3072), float(b))
        return {"spectra": x, "labels_identification": torch.zeros(self.batch_size, 80), "batch_index": b}


@pytest.mark.parametrize("workers", [0, 2])
def test_stream_adapter_resumes_at_the_right_batch(workers):
    cfg = TrainConfig(**{**TINY, "batch_size": 4, "num_workers": workers})
    it = iterate_batches(FakeStream(rank=1, world_size=2), cfg, start_batches=5, rank=1, world=2)
    seen = [int(next(it)[0][0, 0]) for _ in range(4)]
    assert seen == [1 + 2 * k for k in range(5, 9)]


def test_map_dataset_position_and_sharding():
    cfg = TrainConfig(**{**TINY, "batch_size": 2})

    class Index(torch.utils.data.Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return torch.tensor([float(i)]), torch.zeros(80)

    it = iterate_batches(Index(), cfg, 0, 0, 1)
    whole = [int(v) for _ in range(10) for v in next(it)[0].ravel()]     # two passes of 10
    assert sorted(whole[:10]) == list(range(10)) and sorted(whole[10:]) == list(range(10))
    later = iterate_batches(Index(), cfg, 3, 0, 1)
    assert [int(v) for v in next(later)[0].ravel()] == whole[6:8]
    r0, r1 = iterate_batches(Index(), cfg, 0, 0, 2), iterate_batches(Index(), cfg, 0, 1, 2)
    shards = [int(v) for v in next(r0)[0].ravel()] + [int(v) for v in next(r1)[0].ravel()]
    assert sorted(shards) == sorted(whole[:4])
