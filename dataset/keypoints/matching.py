"""Best-buddy matching, seeded k-means and per-cluster selection (Amir et al. correspondences.py, vectorised).

Procedure for one image pair (token index sets A, P):
1. best buddies: i in A and j = NN_P(i) with NN_A(j) = i under cosine similarity over ALL tokens,
   kept when both i and j are foreground (the intent stated in Amir et al.'s code comment "remove best
   buddies where at least one descriptor is marked bg"; their pose-side test `nn_2[fg_mask2]` is slightly
   looser, see tests/amir_reference.py);
2. k-means with n = min(k, #pairs) clusters on the L2-normalised concatenation [d_a(i), d_p(j)];
3. per cluster the pair with the highest rank (mean saliency for the ViT methods), first pair on ties;
4. channel order: the selected pairs sorted by the raster index of their appearance point (row-major),
   so channel j is the j-th selected point top-to-bottom, left-to-right in the appearance image.

k-means (sklearn's KMeans(random_state=0) in Amir et al.; sklearn is not a dependency here): k-means++
seeding with one candidate per step (Arthur & Vassilvitskii 2007) from numpy's default_rng(seed), then
Lloyd iterations until the assignment no longer changes (at most `max_iter`, sklearn's default 300); an
empty cluster keeps its previous centre.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

KMEANS_MAX_ITER = 300  # sklearn.cluster.KMeans default


def best_buddies(desc_a: torch.Tensor, desc_p: torch.Tensor, fg_a: torch.Tensor, fg_p: torch.Tensor):
    """Foreground mutual nearest neighbours: (indices into A, indices into P), A-ascending."""
    similarity = F.normalize(desc_a, dim=1) @ F.normalize(desc_p, dim=1).T
    nn_ap = similarity.argmax(dim=1)
    nn_pa = similarity.argmax(dim=0)
    keep = (nn_pa[nn_ap] == torch.arange(len(desc_a), device=desc_a.device)) & fg_a & fg_p[nn_ap]
    index_a = keep.nonzero().squeeze(1)
    return index_a, nn_ap[index_a]


def kmeans_pp_init(points: torch.Tensor, k: int, rng: np.random.Generator) -> torch.Tensor:
    """Indices of k initial centres by k-means++ (distance-squared sampling, one candidate per step)."""
    chosen = [int(rng.integers(len(points)))]
    closest = ((points - points[chosen[0]]) ** 2).sum(dim=1).double().cpu().numpy()
    for _ in range(1, k):
        total = closest.sum()
        pick = int(np.searchsorted(np.cumsum(closest), rng.random() * total, side="right")) if total > 0 \
            else int(rng.integers(len(points)))
        pick = min(pick, len(points) - 1)
        chosen.append(pick)
        distance = ((points - points[pick]) ** 2).sum(dim=1).double().cpu().numpy()
        closest = np.minimum(closest, distance)
    return torch.tensor(chosen, device=points.device)


def kmeans(points: torch.Tensor, k: int, seed: int, max_iter: int = KMEANS_MAX_ITER) -> torch.Tensor:
    """Cluster labels [N] of points [N, D] (see the module docstring)."""
    rng = np.random.default_rng(seed)
    centres = points[kmeans_pp_init(points, k, rng)].clone()
    squared_norms = (points ** 2).sum(dim=1, keepdim=True)
    labels = None
    for _ in range(max_iter):
        distances = squared_norms - 2 * points @ centres.T + (centres ** 2).sum(dim=1)
        new_labels = distances.argmin(dim=1)
        if labels is not None and torch.equal(new_labels, labels):
            break
        labels = new_labels
        counts = torch.bincount(labels, minlength=k)
        sums = torch.zeros_like(centres).index_add_(0, labels, points)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None].to(points.dtype)
    return labels


def select_per_cluster(labels: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Index of the highest-ranked member of every non-empty cluster (the first one on ties)."""
    order = np.lexsort((np.arange(len(labels)), -ranks, labels))
    _, first = np.unique(labels[order], return_index=True)
    return order[first]


def cluster_pairs(index_a: np.ndarray, features: torch.Tensor, ranks: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Rows of the selected pairs (<= k), in channel order (raster index `index_a` ascending).

    features [N, D]: what k-means clusters (already normalised as the method wants); ranks [N]: higher wins.
    """
    if len(index_a) == 0:
        return np.zeros(0, dtype=np.int64)
    labels = kmeans(features, min(k, len(index_a)), seed).cpu().numpy()
    selected = select_per_cluster(labels, ranks)
    return selected[np.argsort(index_a[selected], kind="stable")]


def match_descriptors(desc_a, desc_p, saliency_a, saliency_p, fg_a, fg_p, k: int, seed: int):
    """Amir et al.'s correspondences for one pair of flattened token maps.

    desc [T, C], saliency [T], fg [T] bool -> (token indices in A, token indices in P), each [<= k], in
    channel order.
    """
    index_a, index_p = best_buddies(desc_a, desc_p, fg_a, fg_p)
    pair_features = F.normalize(torch.cat([desc_a[index_a], desc_p[index_p]], dim=1), dim=1)
    ranks = ((saliency_a[index_a] + saliency_p[index_p]) / 2).cpu().numpy()
    index_a, index_p = index_a.cpu().numpy(), index_p.cpu().numpy()
    rows = cluster_pairs(index_a, pair_features, ranks, k, seed)
    return index_a[rows], index_p[rows]
