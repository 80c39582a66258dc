"""Shared pytest fixtures: small analytic datasets written through the real shard format."""
import pytest

from eopose.dataset.synthetic import write_synthetic_dataset


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory):
    """12 quadruplets of 64x64 analytic ellipsoids in 3 shards (read-only: copy before modifying)."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("synthetic"), quads=12, resolution=64, quads_per_shard=4)
