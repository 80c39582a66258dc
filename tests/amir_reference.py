"""Plain, loop-based re-statement of Amir et al.'s published correspondence procedure (yardstick only).

Follows github.com/ShirAmir/dino-vit-features (`extractor.py`, `correspondences.py`) step by step on a
timm DINO ViT: stride patched on the patch embedding with DINO's positional-encoding interpolation,
one full forward pass per image for the key facet (hook on the attention module, qkv recomputed) and
another for the saliency (hook on `attn_drop`, so timm's fused attention is switched off), `_log_bin`'s
loop over tokens, `chunk_cosine_sim`'s loop over tokens, and the per-cluster selection double loop.
Three deliberate differences, shared with eopose.dataset.keypoints so the outputs can be compared:
- foreground additionally requires the patch centre inside the rendered mask (eopose's restriction);
- a best-buddy pair needs BOTH of its tokens in the foreground, the intent of the published comment
  ("remove best buddies where at least one descriptor is marked bg"); the published pose-side test
  (`fg_mask2_mask_new_coors = nn_2[fg_mask2]`) also accepts a pair whose pose token is background when
  another foreground pose token has the appearance token as its nearest neighbour;
- k-means: sklearn's KMeans(random_state=0) is replaced by the k-means++ / Lloyd specification in
  eopose.dataset.keypoints.matching, written out here with loops.
Used by tests/test_keypoints_fidelity.py and benchmarks/keypoints.py; never by the package.
"""
from __future__ import annotations

import math
import types

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import transforms

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def distinctive_init(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights whose token descriptors are not nearly parallel: timm's init (std 0.02) gives cosine
    ~0.997 between most tokens, where nearest neighbours flip on float rounding (~1e-6) between any two
    implementations. Linear weights std fan_in^-1/2, class token and position embeddings std 1."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * module.in_features ** -0.5)
        model.pos_embed.copy_(torch.randn(model.pos_embed.shape, generator=generator))
        model.cls_token.copy_(torch.randn(model.cls_token.shape, generator=generator))
    return model


def count_same_pairs(ours, reference, tol: float = 1e-3) -> int:
    """How many reference point pairs ((x1, y1), (x2, y2)) appear in `ours` ([m, 4] x1 y1 x2 y2) within
    `tol` pixels (float32 vs float64 coordinates differ in the last digits)."""
    ours = np.asarray(ours, dtype=np.float64).reshape(-1, 4)
    return sum(bool(len(ours)) and bool(np.any(np.all(np.abs(ours - np.r_[a, b]) <= tol, axis=1)))
               for a, b in reference)


def patch_vit_resolution(model: nn.Module, stride: int) -> nn.Module:
    """Amir et al.'s patch_vit_resolution for a timm ViT: new conv stride + DINO interpolate_pos_encoding."""
    model.patch_embed.proj.stride = (stride, stride)
    model.patch_embed.strict_img_size = False

    def pos_embed(self, x):
        B, gh, gw, dim = x.shape[0], *self._grid, x.shape[-1]
        x = torch.cat((self.cls_token.expand(B, -1, -1), x.reshape(B, -1, dim)), dim=1)
        npatch = x.shape[1] - 1
        N = self.pos_embed.shape[1] - 1
        if npatch == N and gw == gh:
            return x + self.pos_embed
        class_pos_embed = self.pos_embed[:, 0]
        patch_pos_embed = self.pos_embed[:, 1:]
        w0, h0 = gw + 0.1, gh + 0.1
        patch_pos_embed = nn.functional.interpolate(
            patch_pos_embed.reshape(1, int(math.sqrt(N)), int(math.sqrt(N)), dim).permute(0, 3, 1, 2),
            scale_factor=(w0 / math.sqrt(N), h0 / math.sqrt(N)), mode='bicubic', align_corners=False,
            recompute_scale_factor=False)
        patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).view(1, -1, dim)
        return x + torch.cat((class_pos_embed.unsqueeze(0), patch_pos_embed), dim=1)

    model._pos_embed = types.MethodType(pos_embed, model)
    for block in model.blocks:
        block.attn.fused_attn = False
    return model


class ReferenceExtractor:
    """Amir et al.'s ViTExtractor, reduced to what correspondences.py uses."""

    def __init__(self, model: nn.Module, stride: int):
        self.model = patch_vit_resolution(model, stride).eval()
        self.p = model.patch_embed.patch_size[0]
        self.stride = (stride, stride)
        self._feats = []

    def preprocess(self, rgb: np.ndarray, load_size: int):
        pil_image = transforms.Resize(load_size, interpolation=transforms.InterpolationMode.LANCZOS)(
            Image.fromarray(rgb))
        prep = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean=MEAN, std=STD)])
        return prep(pil_image)[None, ...]

    def _extract_features(self, batch, layer: int, facet: str):
        B, C, H, W = batch.shape
        self.num_patches = (1 + (H - self.p) // self.stride[0], 1 + (W - self.p) // self.stride[1])
        self.model._grid = self.num_patches
        self._feats = []
        block = self.model.blocks[layer]
        if facet == 'attn':
            handle = block.attn.attn_drop.register_forward_hook(lambda m, i, o: self._feats.append(o))
        else:
            def hook(module, input, output):
                input = input[0]
                B, N, C = input.shape
                qkv = module.qkv(input).reshape(B, N, 3, module.num_heads, C // module.num_heads).permute(
                    2, 0, 3, 1, 4)
                self._feats.append(qkv[1])
            handle = block.attn.register_forward_hook(hook)
        self.model.forward_features(batch)
        handle.remove()
        return self._feats

    def _log_bin(self, x, hierarchy: int = 2):
        B = x.shape[0]
        num_bins = 1 + 8 * hierarchy
        bin_x = x.permute(0, 2, 3, 1).flatten(start_dim=-2, end_dim=-1)
        bin_x = bin_x.permute(0, 2, 1)
        bin_x = bin_x.reshape(B, bin_x.shape[1], self.num_patches[0], self.num_patches[1])
        sub_desc_dim = bin_x.shape[1]
        avg_pools = []
        for k in range(0, hierarchy):
            win_size = 3 ** k
            avg_pool = torch.nn.AvgPool2d(win_size, stride=1, padding=win_size // 2, count_include_pad=False)
            avg_pools.append(avg_pool(bin_x))
        bin_x = torch.zeros((B, sub_desc_dim * num_bins, self.num_patches[0], self.num_patches[1]))
        for y in range(self.num_patches[0]):
            for x in range(self.num_patches[1]):
                part_idx = 0
                for k in range(0, hierarchy):
                    kernel_size = 3 ** k
                    for i in range(y - kernel_size, y + kernel_size + 1, kernel_size):
                        for j in range(x - kernel_size, x + kernel_size + 1, kernel_size):
                            if i == y and j == x and k != 0:
                                continue
                            temp_i = max(0, min(i, self.num_patches[0] - 1))
                            temp_j = max(0, min(j, self.num_patches[1] - 1))
                            bin_x[:, part_idx * sub_desc_dim: (part_idx + 1) * sub_desc_dim, y, x] = \
                                avg_pools[k][:, :, temp_i, temp_j]
                            part_idx += 1
        return bin_x.flatten(start_dim=-2, end_dim=-1).permute(0, 2, 1).unsqueeze(dim=1)

    def extract_descriptors(self, batch, layer: int, hierarchy: int):
        x = self._extract_features(batch, layer, 'key')[0][:, :, 1:, :]
        if hierarchy == 0:
            return x.permute(0, 2, 3, 1).flatten(start_dim=-2, end_dim=-1).unsqueeze(dim=1)
        return self._log_bin(x, hierarchy)

    def extract_saliency_maps(self, batch, head_idxs):
        curr_feats = self._extract_features(batch, len(self.model.blocks) - 1, 'attn')[0]
        cls_attn_map = curr_feats[:, head_idxs, 0, 1:].mean(dim=1)
        temp_mins, temp_maxs = cls_attn_map.min(dim=1)[0], cls_attn_map.max(dim=1)[0]
        return (cls_attn_map - temp_mins) / (temp_maxs - temp_mins)


def chunk_cosine_sim(x, y):
    result_list = []
    for token_idx in range(x.shape[2]):
        token = x[:, :, token_idx, :].unsqueeze(dim=2)
        result_list.append(torch.nn.CosineSimilarity(dim=3)(token, y))
    return torch.stack(result_list, dim=2)


def reference_kmeans(points: np.ndarray, k: int, seed: int, max_iter: int = 300) -> np.ndarray:
    """k-means++ (one candidate per step, numpy default_rng(seed)) + Lloyd until labels are stable."""
    rng = np.random.default_rng(seed)
    n = len(points)
    chosen = [int(rng.integers(n))]
    closest = [float(np.sum((points[i] - points[chosen[0]]) ** 2)) for i in range(n)]
    for _ in range(1, k):
        total = sum(closest)
        if total > 0:
            target, running, pick = rng.random() * total, 0.0, n - 1
            for i in range(n):
                running += closest[i]
                if running > target:
                    pick = i
                    break
        else:
            pick = int(rng.integers(n))
        chosen.append(pick)
        closest = [min(closest[i], float(np.sum((points[i] - points[pick]) ** 2))) for i in range(n)]
    centres = points[chosen].copy()
    labels = None
    for _ in range(max_iter):
        new_labels = np.array([int(np.argmin([np.sum((point - centre) ** 2) for centre in centres]))
                               for point in points])
        if labels is not None and np.array_equal(new_labels, labels):
            break
        labels = new_labels
        for c in range(k):
            members = points[labels == c]
            if len(members):
                centres[c] = members.mean(axis=0)
    return labels


def composite_white(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    return np.round(rgba[..., :3].astype(np.float32) * alpha + 255 * (1.0 - alpha)).astype(np.uint8)


def reference_correspondences(extractor: ReferenceExtractor, rgba1, mask1, rgba2, mask2, *, load_size: int,
                              layer: int, hierarchy: int, heads, thresh: float, num_pairs: int, seed: int = 0):
    """Amir et al.'s correspondences.py main loop for one image pair; returns the list of
    ((x1, y1), (x2, y2)) point pairs in stored-image pixels."""
    with torch.no_grad():
        batches, descriptors, saliency, fg = [], [], [], []
        for rgba, mask in ((rgba1, mask1), (rgba2, mask2)):
            batch = extractor.preprocess(composite_white(rgba), load_size)
            descriptors.append(extractor.extract_descriptors(batch, layer, hierarchy))
            num_patches = extractor.num_patches
            saliency_map = extractor.extract_saliency_maps(batch, heads)[0]
            fg_mask = saliency_map > thresh
            scale_y, scale_x = mask.shape[0] / batch.shape[2], mask.shape[1] / batch.shape[3]
            for t in range(num_patches[0] * num_patches[1]):  # eopose: patch centre inside the mask
                y, x = t // num_patches[1], t % num_patches[1]
                cy = (y * extractor.stride[0] + extractor.p / 2) * scale_y
                cx = (x * extractor.stride[1] + extractor.p / 2) * scale_x
                if not mask[min(int(cy), mask.shape[0] - 1), min(int(cx), mask.shape[1] - 1)]:
                    fg_mask[t] = False
            batches.append((batch.shape[2:], num_patches, scale_x, scale_y))
            saliency.append(saliency_map)
            fg.append(fg_mask)
        descriptors1, descriptors2 = descriptors
        num_patches1, num_patches2 = batches[0][1], batches[1][1]
        similarities = chunk_cosine_sim(descriptors1, descriptors2)
        image_idxs = torch.arange(num_patches1[0] * num_patches1[1])
        sim_1, nn_1 = torch.max(similarities, dim=-1)
        sim_2, nn_2 = torch.max(similarities, dim=-2)
        nn_1, nn_2 = nn_1[0, 0], nn_2[0, 0]
        bbs_mask = nn_2[nn_1] == image_idxs
        bbs_mask = torch.bitwise_and(bbs_mask, fg[0])
        bbs_mask = torch.bitwise_and(bbs_mask, fg[1][nn_1])  # both ends foreground (see module docstring)
        if not bool(bbs_mask.any()):
            return []
        bb_descs1 = descriptors1[0, 0, bbs_mask, :].numpy()
        bb_descs2 = descriptors2[0, 0, nn_1[bbs_mask], :].numpy()
        all_keys_together = np.concatenate((bb_descs1, bb_descs2), axis=1).astype(np.float64)
        n_clusters = min(num_pairs, len(all_keys_together))
        length = np.sqrt((all_keys_together ** 2).sum(axis=1))[:, None]
        normalized = all_keys_together / length
        labels = reference_kmeans(normalized, n_clusters, seed)
        bb_topk_sims = np.full((n_clusters), -np.inf)
        bb_indices_to_show = np.full((n_clusters), -1)
        ranks = ((saliency[0][bbs_mask] + saliency[1][nn_1[bbs_mask]]) / 2).numpy()
        for k in range(n_clusters):
            for i, (label, rank) in enumerate(zip(labels, ranks)):
                if rank > bb_topk_sims[label]:
                    bb_topk_sims[label] = rank
                    bb_indices_to_show[label] = i
        bb_indices_to_show = bb_indices_to_show[bb_indices_to_show >= 0]
        indices_to_show = torch.nonzero(bbs_mask, as_tuple=False).squeeze(dim=1)[bb_indices_to_show]
        img2_indices_to_show = nn_1[indices_to_show]
        points = []
        for i1, i2 in zip(indices_to_show.tolist(), img2_indices_to_show.tolist()):
            y1, x1 = i1 // num_patches1[1], i1 % num_patches1[1]
            y2, x2 = i2 // num_patches2[1], i2 % num_patches2[1]
            x1_show = (int(x1) - 1) * extractor.stride[1] + extractor.stride[1] + extractor.p // 2
            y1_show = (int(y1) - 1) * extractor.stride[0] + extractor.stride[0] + extractor.p // 2
            x2_show = (int(x2) - 1) * extractor.stride[1] + extractor.stride[1] + extractor.p // 2
            y2_show = (int(y2) - 1) * extractor.stride[0] + extractor.stride[0] + extractor.p // 2
            points.append(((x1_show * batches[0][2], y1_show * batches[0][3]),
                           (x2_show * batches[1][2], y2_show * batches[1][3])))
        return points
