"""Thin-plate-spline flow from keypoint pairs: the target of the warp module's initial TPS
loss (EOPose paper, eq. 3, L_flow(f, f_tps)) and the TPS baseline.

The flow convention is :mod:`eopose.model.flow`'s backward one, so the spline is fitted from
pose-image points to appearance-image points: T(Pp_i) ~= Pa_i, and the flow at output pixel
p is T(p) - p (the output, in the pose of Ip, samples Ia at T(p)).

Spline (Bookstein, PAMI 1989): T(p) = a0 + A p + sum_i w_i U(|p - c_i|), U(r) = r^2 log r^2,
with the regularised system [[K + lambda I, P], [P^T, 0]] [w; a] = [v; 0]. Coordinates are
normalised (centre 0, longer half side 1) so that lambda does not depend on resolution.
Invalid points are removed from the system (their rows become identity with zero target,
so their weights are 0). Samples with fewer than 3 valid points get a translation by the
mean valid offset (identity when none is valid).
"""

from __future__ import annotations

import torch

from .flow import pixel_centres


def _tps_kernel(sq_dist: torch.Tensor) -> torch.Tensor:
    """U = r^2 log r^2, with U(0) = 0."""
    return sq_dist * torch.log(sq_dist.clamp_min(1e-20))


def _normaliser(height: int, width: int):
    centre = torch.tensor([width / 2.0, height / 2.0])
    return centre, max(height, width) / 2.0


def fit_tps(src: torch.Tensor, dst: torch.Tensor, valid: torch.Tensor, lam: float = 0.0):
    """Fit T(src_i) ~= dst_i per sample. ``src``, ``dst`` [B, k, 2], ``valid`` [B, k].

    Returns (weights [B, k, 2], affine [B, 3, 2]), float64, so that
    T(p) = [1, p] @ affine + U(|p - src|) @ weights.
    """
    src, dst = src.double(), dst.double()
    batch, k, _ = src.shape
    mask = valid.to(torch.float64)
    pair = mask.unsqueeze(2) * mask.unsqueeze(1)
    kernel = _tps_kernel(_squared_distances(src, src)) * pair
    eye = torch.eye(k, dtype=torch.float64, device=src.device)
    # valid rows get the lambda ridge, invalid rows the identity (weight forced to 0)
    kernel = kernel + eye * (lam * mask + (1.0 - mask)).unsqueeze(1)
    ones = torch.ones(batch, k, 1, dtype=torch.float64, device=src.device)
    poly = torch.cat([ones, src], dim=2) * mask.unsqueeze(2)
    zeros = torch.zeros(batch, 3, 3, dtype=torch.float64, device=src.device)
    system = torch.cat([torch.cat([kernel, poly], 2), torch.cat([poly.transpose(1, 2), zeros], 2)], 1)
    rhs = torch.cat([dst * mask.unsqueeze(2), torch.zeros(batch, 3, 2, dtype=torch.float64,
                                                          device=src.device)], 1)
    # pinv (symmetric) instead of solve: stays defined for duplicate or collinear points
    solution = torch.linalg.pinv(system, hermitian=True) @ rhs
    return solution[:, :k], solution[:, k:]


def apply_tps(points: torch.Tensor, ctrl: torch.Tensor, weights: torch.Tensor,
              affine: torch.Tensor) -> torch.Tensor:
    """Evaluate a fitted spline at ``points`` [B, N, 2] (same units as the fit)."""
    points = points.to(weights.dtype)
    ones = torch.ones(*points.shape[:2], 1, dtype=points.dtype, device=points.device)
    linear = torch.cat([ones, points], dim=2) @ affine
    return linear + _tps_kernel(_squared_distances(points, ctrl.to(points.dtype))) @ weights


def _squared_distances(points: torch.Tensor, ctrl: torch.Tensor) -> torch.Tensor:
    """[B, N, k] squared distances by broadcasting (exact; torch.cdist measured ~30x slower here, 64x64 px,
    k = 35, float64 on the CPU)."""
    return (points.unsqueeze(2) - ctrl.unsqueeze(1)).square().sum(dim=-1)


@torch.no_grad()
def tps_flow(points_a: torch.Tensor, points_p: torch.Tensor, valid: torch.Tensor,
             height: int, width: int, lam: float = 0.0) -> torch.Tensor:
    """Dense TPS flow ``[B, 2, H, W]`` (pixels, backward convention) warping the appearance
    image (points ``points_a``) onto the pose (points ``points_p``); points in pixel (x, y)."""
    device = points_a.device
    centre, scale = _normaliser(height, width)
    centre = centre.to(device, torch.float64)
    src = (points_p.double() - centre) / scale
    dst = (points_a.double() - centre) / scale
    weights, affine = fit_tps(src, dst, valid, lam)

    batch = points_a.shape[0]
    grid = pixel_centres(height, width, device, torch.float64).flatten(2).transpose(1, 2)
    grid_n = ((grid - centre) / scale).expand(batch, -1, -1)
    mapped = apply_tps(grid_n, src, weights, affine)
    flow = (mapped - grid_n) * scale  # [B, HW, 2] pixels

    mask = valid.to(torch.float64).unsqueeze(2)
    count = mask.sum(dim=1)  # [B, 1]
    mean_offset = ((points_a.double() - points_p.double()) * mask).sum(1) / count.clamp_min(1)
    few = (count < 3).view(batch, 1, 1)
    flow = torch.where(few, mean_offset.unsqueeze(1).expand_as(flow), flow)
    return flow.transpose(1, 2).reshape(batch, 2, height, width).to(points_a.dtype)
