"""ViT backbones for the keypoint cache: presets, weight loading (eopose.dataset.weights) and one truncated
forward pass that yields the `key` facet of one block and the last block's CLS-attention saliency.

The stride trick follows Amir et al. (`extractor.py`, `patch_vit_resolution`): the patch-embedding
convolution runs with a smaller stride (overlapping patches) and the positional embeddings are
resampled bicubically to the denser token grid the way DINO's `interpolate_pos_encoding` does it.
timm's fused attention never materialises attention maps, so the last block's CLS attention is
computed here from its qkv projection (only the CLS row: O(T) instead of O(T^2)); the key facet is
taken by a forward hook on the chosen block's `attn.qkv`.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..weights import resolve, unloadable


@dataclass(frozen=True)
class VitPreset:
    """All settings of one ViT correspondence method; stored verbatim as the cache's params."""

    method: str  # keypoint method name the preset belongs to ("dino" or "dinov2")
    model: str  # timm model name (architecture.tag)
    stride: int  # patch-embedding stride (token grid spacing in load-size pixels)
    layer: int  # 0-based block index whose key facet gives the descriptors
    bin_hierarchy: int  # log-binning levels (0 = no binning), see descriptors.log_bin
    saliency_heads: tuple | None  # heads of the last block averaged for saliency (None = all)
    threshold: float  # foreground threshold on the min-max normalised saliency
    load_size: int  # shorter image side fed to the ViT (Amir et al. resize the image first)

    def params(self) -> dict:
        return asdict(self)


PRESETS = {
    # Amir et al. correspondences.py defaults: dino_vits8, --stride 4, --layer 9 (blocks indexed 0..11, hooked
    # in `_register_hooks` by enumerate), --facet key, --bin True (`_log_bin` default hierarchy=2), --thresh
    # 0.05, --load_size 224; saliency: extractor.extract_saliency_maps, heads [0, 2, 4, 5] of block 11.
    "amir-vits8": VitPreset("dino", "vit_small_patch8_224.dino", stride=4, layer=9, bin_hierarchy=2,
                            saliency_heads=(0, 2, 4, 5), threshold=0.05, load_size=224),
    # EOPose paper 3.1: 768-d descriptors at H/8 x W/8, i.e. ViT-B/8 keys (12 heads x 64) at stride 8, no
    # binning (a binned descriptor would be 17 x 768-d). Layer, threshold and load size as Amir et al.; the
    # head subset above was chosen for ViT-S/8 only, so all heads here.
    "paper-vitb8": VitPreset("dino", "vit_base_patch8_224.dino", stride=8, layer=9, bin_hierarchy=0,
                             saliency_heads=None, threshold=0.05, load_size=224),
    # DINOv2 with registers (Darcet et al. 2024: registers remove the attention artefacts, so all heads give a
    # clean CLS saliency). Stride 7 = patch 14 / 2 (the same halving as Amir's 8 -> 4); other settings as
    # amir-vits8 (not tuned for DINOv2: no published correspondence defaults for it).
    "dinov2-vits14-reg": VitPreset("dinov2", "vit_small_patch14_reg4_dinov2.lvd142m", stride=7, layer=9,
                                   bin_hierarchy=2, saliency_heads=None, threshold=0.05, load_size=224),
}
DEFAULT_PRESET = {"dino": "amir-vits8", "dinov2": "dinov2-vits14-reg"}


def load_vit(model_name: str, weights=None, pretrained: bool = True) -> nn.Module:
    """A timm ViT in eval mode with weights from `weights` (DINO .pth or timm .safetensors) or the local caches
    (eopose.dataset.weights.resolve; never the network); `pretrained=False` gives a randomly initialised model
    (tests). Raises WeightsUnavailable naming --weights."""
    import timm

    if not pretrained:
        return timm.create_model(model_name, pretrained=False, num_classes=0).eval()
    path = resolve(model_name, weights)
    try:
        model = timm.create_model(model_name, pretrained=True, num_classes=0,
                                  pretrained_cfg_overlay={"file": str(path)})
    except (RuntimeError, KeyError, ValueError) as error:
        raise unloadable(model_name, path, error, "check --preset") from None
    return model.eval()


def token_grid(height: int, width: int, patch: int, stride: int) -> tuple[int, int]:
    """Tokens per column and row of a strided patch embedding (Amir et al.: 1 + (H - p) // s)."""
    return 1 + (height - patch) // stride, 1 + (width - patch) // stride


def resample_pos_embed(patch_pos: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Bicubic resampling of [1, g*g, D] patch position embeddings to `grid`, as DINO's
    interpolate_pos_encoding: scale factor (new + 0.1) / old, align_corners False (facebookresearch/dino
    issue #8 explains the 0.1); returned unchanged when the grid already matches."""
    old = int(math.isqrt(patch_pos.shape[1]))
    if grid == (old, old):
        return patch_pos
    dim = patch_pos.shape[-1]
    resampled = F.interpolate(patch_pos.reshape(1, old, old, dim).permute(0, 3, 1, 2),
                              scale_factor=((grid[0] + 0.1) / old, (grid[1] + 0.1) / old),
                              mode="bicubic", align_corners=False, recompute_scale_factor=False)
    return resampled.permute(0, 2, 3, 1).reshape(1, grid[0] * grid[1], dim)


class VitFeatures:
    """Key-facet descriptors and CLS saliency of a timm VisionTransformer at a given stride.

    Runs blocks 0..L-2 and only the qkv projection of the last block; nothing after it.
    """

    def __init__(self, model: nn.Module, stride: int, layer: int, saliency_heads=None):
        self.model = model
        self.stride = stride
        self.layer = layer
        self.patch = model.patch_embed.proj.kernel_size[0]
        if self.patch % stride:
            raise ValueError(f"stride {stride} must divide the patch size {self.patch}")
        self.heads = model.blocks[-1].attn.num_heads
        self.saliency_heads = list(range(self.heads)) if saliency_heads is None else list(saliency_heads)
        self._pos_cache: dict[tuple, torch.Tensor] = {}

    def _pos_embed(self, grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(patch position embeddings on `grid`, prefix-token position embeddings or None)."""
        if grid not in self._pos_cache:
            model = self.model
            prefix = 0 if model.no_embed_class else model.num_prefix_tokens
            self._pos_cache[grid] = resample_pos_embed(model.pos_embed[:, prefix:], grid)
        prefix_pos = None if self.model.no_embed_class else self.model.pos_embed[:, :self.model.num_prefix_tokens]
        return self._pos_cache[grid], prefix_pos

    def _tokens(self, images: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        model = self.model
        proj = model.patch_embed.proj
        x = F.conv2d(images, proj.weight, proj.bias, stride=self.stride)
        grid = (x.shape[2], x.shape[3])
        x = model.patch_embed.norm(x.flatten(2).transpose(1, 2))
        patch_pos, prefix_pos = self._pos_embed(grid)
        prefix = [token.expand(x.shape[0], -1, -1) for token in (model.cls_token, model.reg_token)
                  if token is not None]
        if prefix_pos is None:  # no_embed_class (DINOv2 in timm): position only on patches
            x = torch.cat(prefix + [x + patch_pos], dim=1)
        else:
            x = torch.cat(prefix + [x], dim=1) + torch.cat([prefix_pos, patch_pos], dim=1)
        return model.norm_pre(model.patch_drop(model.pos_drop(x))), grid

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images [B,3,H,W] normalised -> (keys [B, gh, gw, d*h] in Amir et al.'s channel order
        (head-minor: `permute(0, 2, 3, 1).flatten`), saliency [B, gh, gw] min-max normalised to [0, 1])."""
        model = self.model
        blocks = model.blocks
        captured = {}
        hook = blocks[self.layer].attn.qkv.register_forward_hook(
            lambda module, inputs, output: captured.__setitem__("qkv", output))
        try:
            x, grid = self._tokens(images)
            for block in blocks[:-1]:
                x = block(x)
            last = blocks[-1]
            qkv = last.attn.qkv(last.norm1(x))
        finally:
            hook.remove()
        batch, tokens, _ = x.shape
        prefix = model.num_prefix_tokens
        head_dim = last.attn.head_dim

        attn = last.attn
        qkv = qkv.reshape(batch, tokens, 3, self.heads, head_dim)
        q_cls = attn.q_norm(qkv[:, :1, 0].transpose(1, 2))  # [B, h, 1, d]
        k = attn.k_norm(qkv[:, :, 1].transpose(1, 2))  # [B, h, T, d]
        cls_attn = ((q_cls * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)[:, :, 0, prefix:]
        saliency = cls_attn[:, self.saliency_heads].mean(dim=1)
        low, high = saliency.amin(dim=1, keepdim=True), saliency.amax(dim=1, keepdim=True)
        saliency = (saliency - low) / (high - low)  # Amir et al.: "normalize to range [0,1]"

        layer_attn = blocks[self.layer].attn
        keys = captured["qkv"].reshape(batch, tokens, 3, layer_attn.num_heads, layer_attn.head_dim)[:, prefix:, 1]
        keys = layer_attn.k_norm(keys.transpose(1, 2)).permute(0, 2, 3, 1)  # [B, T', d, h]
        return keys.reshape(batch, grid[0], grid[1], -1), saliency.reshape(batch, *grid)
