"""Shared pytest fixtures: small analytic datasets written through the real shard format."""
import os

import pytest

# submitit configures its log handlers on import with the sys.stdout/sys.stderr of that moment: under pytest,
# one test's capture streams, closed by the time a later test logs ("I/O operation on closed file", then
# "lost sys.stderr"). NOCONFIG (submitit/core/logger.py) leaves its records to the root logger, which pytest
# captures per test.
os.environ.setdefault("SUBMITIT_LOG_LEVEL", "NOCONFIG")

from eopose.dataset.synthetic import write_synthetic_dataset


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory):
    """12 quadruplets of 64x64 analytic ellipsoids in 3 shards (read-only: copy before modifying)."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("synthetic"), quads=12, resolution=64, quads_per_shard=4)
