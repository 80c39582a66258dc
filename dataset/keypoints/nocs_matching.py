"""The `nocs` correspondence method: matches in canonical object space, from the rendered NOCS pass.

Models of one category share a canonical frame, so the NOCS value of a pixel names "the same place on
the object" across models and poses. For one view pair:
0. (predicted NOCS only) the pixels whose confidence is too low are left out (confident_pixels);
1. candidate pairs: each appearance pixel and its nearest neighbour in NOCS (Euclidean, k-d trees) among the pose
   view's pixels, kept when the cycle closes: that pixel's own nearest neighbour back in the appearance view lies
   within CYCLE_FRACTION x max(H, W) pixels of where it started (0 would be Amir et al.'s best buddies, mutual
   nearest neighbours). Two different models (the training samples) or two poses seen from different sides share
   a NOCS surface only along curves: strict mutual pairs then bunch on one rim, and a few pixels of slack in the
   cycle let the pairs cover the whole visible overlap. Pairs farther apart than OUTLIER_FACTOR x the median
   distance of the strict mutual pairs are dropped (where the views share little visible surface, the rim of one
   view's visible region pairs with unrelated points of the other); a pose pixel keeps only its nearest pair;
2. k-means (matching.kmeans, same seeding) with n = min(k, #pairs) clusters on the pairs' joint pixel positions
   (appearance x, y, pose x, y) / max(H, W): the clusters tile the overlap in both images, so the chosen points
   spread over it (accuracy.coverage_distance measures it);
3. per cluster the pair whose less confident pixel is the most confident, less its NOCS distance (rendered NOCS:
   confidence 1 everywhere, so the smallest NOCS distance, the most exact match; first on ties);
4. channel order as the ViT methods: raster order of the appearance point.
Modulo a shape symmetry (match_nocs's `symmetry`, dataset.categories): NOCS predicted from an image of a briefcase
may be off by the half turn about up that leaves its shape unchanged, so step 1 runs against each turn of the pose
view's NOCS and keeps the turn whose pairs are closest (the identity unless a turn is clearly closer); the points
stay pixels of the two views. The rendered pass is the exact canonical frame and is matched as it is.
Points are pixel centres (j + 0.5, i + 0.5). Needs no weights: the offline default. Deterministic for a seed.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from scipy.spatial import cKDTree

from ..categories import Symmetry, turn_nocs
from .matching import cluster_pairs

# Same-model mutual pairs lie within ~1 pixel's NOCS step (median 0.003, 99th percentile 0.008 at 128 px on
# eopose.dataset.synthetic scenes) and rim artefacts 0.1-0.33; cross-model pairs: median 0.019, 99th
# percentile 0.11. A factor of 8 removes the artefacts (same-model PCK@0.05 0.987 -> 1.0 on 16 synthetic
# quadruplets) and keeps 96% of the cross-model points.
OUTLIER_FACTOR = 8.0
# Cycle slack, as a fraction of max(H, W) (5 px at 64 px). Held-out demo vases (36 quadruplets; eval-correspondences
# --split test): training samples (two models) with rendered NOCS 4542 -> 4971 points of 5040, coverage 6.65 ->
# 6.14 px; with a 500-step demo nocs-net 1706 -> 2680 points, coverage 13.1 -> 12.0 px, and on same-model pairs a
# per-point PCK@0.10 of 0.41 -> 0.36 (the added points lie where the network's two predictions agree less).
CYCLE_FRACTION = 0.08
# Confidence-aware selection (nocs-net's per-pixel confidence; rendered NOCS have none, i.e. 1 everywhere): a view's
# pixels below CONFIDENCE_THRESHOLD are left out of matching, except that the MIN_CONFIDENT_FRACTION most confident
# foreground pixels always stay (a view the network is unsure of still gets points).
CONFIDENCE_THRESHOLD = 0.5
MIN_CONFIDENT_FRACTION = 0.25
# Matching modulo a shape symmetry (symmetric_candidate_pairs). Turns of a continuous symmetry (vases) tried: every
# 10 degrees, so one lies within 5 degrees of any turn (5 degrees move a point at NOCS radius 0.5 by 0.044). A turn
# replaces the NOCS as they are when the median NOCS distance of its candidate pairs is smaller by more than
# SYMMETRY_TOLERANCE (a quarter of the cross-model median pair distance above). Shape alone cannot tell the turns of
# a symmetric shape apart: this takes back a turn that makes the two views disagree, for NOCS predicted from images;
# the rendered pass is the exact canonical frame and needs none. On exact NOCS of two differently shaped ellipsoids
# (symmetric under a half turn; 96 samples of eopose.dataset.synthetic, seed 1) order 2 keeps the identity for 71%
# and takes back a half turn applied to the pose view for 48%: where the two shapes differ as much as there, shape
# alone often cannot say which turn is right.
CONTINUOUS_STEPS = 36
SYMMETRY_TOLERANCE = 0.005


def confident_pixels(mask: np.ndarray, confidence: np.ndarray | None) -> np.ndarray:
    """Raster indices of the foreground pixels of one view that take part in matching."""
    foreground = np.asarray(mask).reshape(-1) > 0
    if confidence is not None and foreground.any():
        values = np.asarray(confidence).reshape(-1)
        floor = min(CONFIDENCE_THRESHOLD, np.quantile(values[foreground], 1.0 - MIN_CONFIDENT_FRACTION))
        foreground &= values >= floor
    return np.flatnonzero(foreground)


def pair_confidence(confidence_a: np.ndarray, raster_a: np.ndarray, confidence_p: np.ndarray,
                    raster_p: np.ndarray) -> np.ndarray:
    """Step 3's confidence of each pair: the lower of its two pixels' (views' confidence maps [H, W], the pairs' raster
    indices [C]). A cluster's most exact pair in NOCS can join two pixels whose predictions are both wrong; the
    pixel the network trusts less bounds the pair. Held-out demo vases (benchmarks/nocs_net.py, 5 demo-config
    networks): PCK@0.10 +0.008 on average (-0.001 to +0.017) at the same points; the photo network +0.006 on
    held-out models and urns under random rigs."""
    lower = np.minimum(np.asarray(confidence_a).reshape(-1)[raster_a], np.asarray(confidence_p).reshape(-1)[raster_p])
    return lower.astype(np.float64)


class CandidatePairs(NamedTuple):
    index: np.ndarray  # [C] candidate appearance pixels (indices into the view's matched pixels), ascending
    partner: np.ndarray  # [C] their pose pixels (indices into the pose view's matched pixels)
    distance: np.ndarray  # [C] NOCS distance of each pair


def candidate_pairs(coords_a: np.ndarray, pixels_a: np.ndarray, coords_p: np.ndarray, size: int) -> CandidatePairs:
    """Step 1 of the module docstring between the matched pixels of two views: NOCS [A, 3] / [P, 3], the
    appearance pixels' (x, y) [A, 2], the image size max(H, W)."""
    distance, nn_ap = cKDTree(coords_p).query(coords_a)
    _, nn_pa = cKDTree(coords_a).query(coords_p)
    cycle = np.linalg.norm(pixels_a[nn_pa[nn_ap]] - pixels_a, axis=1)
    mutual = cycle == 0
    reference = np.median(distance[mutual]) if mutual.any() else np.median(distance)
    candidates = np.flatnonzero((cycle <= CYCLE_FRACTION * size) & (distance <= OUTLIER_FACTOR * reference))
    # one pair per pose pixel (its nearest appearance candidate): a sample and its swap share points both ways
    order = candidates[np.lexsort((candidates, distance[candidates], nn_ap[candidates]))]
    candidates = np.sort(order[np.unique(nn_ap[order], return_index=True)[1]])
    return CandidatePairs(candidates, nn_ap[candidates], distance[candidates])


def symmetric_candidate_pairs(coords_a: np.ndarray, pixels_a: np.ndarray, coords_p: np.ndarray, size: int,
                              symmetry: Symmetry) -> tuple[CandidatePairs, int]:
    """(candidates, turn): step 1 against each turn of the pose view's NOCS about the up axis
    (categories.turn_nocs over symmetry.rotations(CONTINUOUS_STEPS), the identity first), keeping the turn whose
    candidate pairs are closest in NOCS (median distance); a later turn must beat the best so far by
    SYMMETRY_TOLERANCE, so the NOCS as they are keep their pairs unless a turn matches clearly better."""
    def median(pairs: CandidatePairs) -> float:
        return float(np.median(pairs.distance)) if len(pairs.distance) else np.inf

    best, best_turn = candidate_pairs(coords_a, pixels_a, coords_p, size), 0  # rotations() starts at the identity
    best_median = median(best)
    for turn, rotation in enumerate(symmetry.rotations(CONTINUOUS_STEPS)[1:], start=1):
        pairs = candidate_pairs(coords_a, pixels_a, turn_nocs(coords_p, rotation), size)
        if median(pairs) < best_median - SYMMETRY_TOLERANCE:
            best, best_turn, best_median = pairs, turn, median(pairs)
    return best, best_turn


def match_nocs(nocs_a: np.ndarray, mask_a: np.ndarray, nocs_p: np.ndarray, mask_p: np.ndarray, k: int,
               seed: int = 0, confidence_a: np.ndarray | None = None, confidence_p: np.ndarray | None = None,
               symmetry: Symmetry | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points_a [k, 2], points_p [k, 2], valid [k]) between two views given as NOCS [H, W, 3] and foreground
    masks [H, W] (steps 1-4 of the module docstring). The one matching code path of `nocs` (rendered NOCS) and
    `nocs-net` (predicted NOCS). `symmetry` (dataset.categories.symmetry_of(category)): the two views' NOCS may
    disagree by a turn of that group about the up axis (NOCS predicted from shape cannot tell them apart), so
    step 1 runs against every turn of the pose view's NOCS and keeps the best (symmetric_candidate_pairs); None
    or an order-1 symmetry matches the NOCS as they are."""
    height, width = mask_a.shape
    size = max(height, width)
    raster_a = confident_pixels(mask_a, confidence_a)
    raster_p = confident_pixels(mask_p, confidence_p)
    points_a = np.zeros((k, 2), np.float32)
    points_p = np.zeros((k, 2), np.float32)
    if len(raster_a) == 0 or len(raster_p) == 0:
        return points_a, points_p, np.zeros(k, bool)
    coords_a = nocs_a.reshape(-1, 3)[raster_a].astype(np.float32)
    coords_p = nocs_p.reshape(-1, 3)[raster_p].astype(np.float32)
    pixels_a, pixels_p = (np.stack([raster % width, raster // width], axis=1).astype(np.float32)
                          for raster in (raster_a, raster_p))
    if symmetry is None or symmetry.order == 1:
        pairs = candidate_pairs(coords_a, pixels_a, coords_p, size)
    else:
        pairs, _ = symmetric_candidate_pairs(coords_a, pixels_a, coords_p, size, symmetry)
    candidates, partner, distance = pairs
    positions = torch.from_numpy(np.concatenate([pixels_a[candidates], pixels_p[partner]], axis=1) / size)
    ranks = -distance
    if confidence_a is not None and confidence_p is not None:
        ranks = ranks + pair_confidence(confidence_a, raster_a[candidates], confidence_p, raster_p[partner])
    chosen = cluster_pairs(raster_a[candidates], positions, ranks, k, seed)
    count = len(chosen)
    for points, pixels in ((points_a, pixels_a[candidates[chosen]]), (points_p, pixels_p[partner[chosen]])):
        points[:count] = pixels + 0.5
    return points_a, points_p, np.arange(k) < count


class NocsCorrespondences:
    """A correspondence method (interface: `name`, `params()`, `prepare(rows)`, `match(state, row, a, p)`) over
    the NOCS of `prepare`'s state: here the rendered pass; `nocs_net_method` overrides `prepare` only."""

    name = "nocs"

    def __init__(self, k: int = 35, seed: int = 0):
        self.k = k
        self.seed = seed

    def params(self) -> dict:
        return {"method": self.name, "k": self.k, "seed": self.seed,
                "matching": "cycle-consistent-nn(nocs)+kmeans(k-means++,lloyd; joint pixel positions)"
                            "+min-nocs-distance",
                "outlier_factor": OUTLIER_FACTOR, "cycle_fraction": CYCLE_FRACTION,
                "order": "raster(points_a)"}

    def prepare(self, rows: dict) -> dict:
        """Nothing to precompute: the state is `rows` (`nocs` [n, V, H, W, 3], `mask` [n, V, H, W]; no `symmetry`:
        the rendered pass is the exact canonical frame)."""
        return rows

    def match(self, state: dict, row: int, a: int, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(points_a [k, 2], points_p [k, 2], valid [k]) between views a and p of row `row`; modulo the state's
        `symmetry` (a Symmetry) where the state holds one, else as the NOCS are (no `prepare` puts one: the rendered
        pass is exact, and nocs_net_method says why predicted NOCS are matched as they are)."""
        confidence = state.get("confidence")
        return match_nocs(state["nocs"][row, a], state["mask"][row, a], state["nocs"][row, p], state["mask"][row, p],
                          self.k, self.seed, *((None, None) if confidence is None else (confidence[row, a],
                                                                                       confidence[row, p])),
                          symmetry=state.get("symmetry"))
