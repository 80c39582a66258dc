"""Deterministic run plan: per-quadruplet seeds, rotations and model pairs, and the quadruplets of each
shard (`--shard-index/--num-shards` partitions the shards: eopose.dataset.launch.partition_shards).

Everything is a pure function of (seed, quad index, model list, set of bad models), so any
process, in any order, after any interruption, makes the same choices: shard j holds quads
[j*Q, (j+1)*Q).
"""
from __future__ import annotations

import math

import numpy as np

from eopose.dataset.splits import split_of_model
from eopose.render.camera import euler_xyz_matrix

ANGLE_RANGE_DEG = (30.0, 180.0)  # per-axis Euler angles, EOPose paper 3.4.1


class NoPairError(RuntimeError):
    """No two usable models of one split are left to pair."""


def quad_seed(seed: int, quad_index: int) -> int:
    """The quadruplet's own seed (rotations, pairing, Cycles noise), from SeedSequence."""
    state = np.random.SeedSequence(entropy=seed, spawn_key=(quad_index,)).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def rotations(qseed: int, angle_range=ANGLE_RANGE_DEG):
    """Euler angles [2,3] (c1, c2; degrees, uniform per axis) and rotation matrices [2,3,3]."""
    rng = np.random.default_rng([qseed, 0])
    euler = rng.uniform(angle_range[0], angle_range[1], size=(2, 3))
    return euler, np.stack([euler_xyz_matrix(e) for e in euler])


def cycles_seed(qseed: int) -> int:
    return qseed % (2**31)


def split_groups(model_ids) -> dict:
    """split name -> indices of the models in it (pairs never cross splits)."""
    groups: dict = {}
    for i, model_id in enumerate(model_ids):
        groups.setdefault(split_of_model(model_id), []).append(i)
    return groups


def choose_pair(qseed: int, model_ids, groups: dict, bad) -> tuple[int, int]:
    """(M1, M2) model indices for a quad: M1 is the first usable model of a seeded permutation
    with a usable partner in its split; M2 the first usable other model of that split's own
    permutation. Random draws never depend on `bad`, so replacing a bad model changes only
    the quads that would have used it."""
    rng = np.random.default_rng([qseed, 1])
    order = rng.permutation(len(model_ids))
    partners = {name: [members[k] for k in rng.permutation(len(members))] for name, members in sorted(groups.items())}
    for m1 in order:
        if m1 in bad:
            continue
        split = split_of_model(model_ids[m1])
        for m2 in partners[split]:
            if m2 != m1 and m2 not in bad:
                return int(m1), int(m2)
    raise NoPairError(f"no two usable models of one split among {len(model_ids)} ({len(bad)} failed)")


def num_shards(num_quads: int, quads_per_shard: int) -> int:
    return math.ceil(num_quads / quads_per_shard)


def quads_of_shard(shard: int, num_quads: int, quads_per_shard: int) -> range:
    return range(shard * quads_per_shard, min((shard + 1) * quads_per_shard, num_quads))
