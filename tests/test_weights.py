"""The weights module: one table of sources, one resolver, one offline error naming the fix."""
from __future__ import annotations

import huggingface_hub.constants
import pytest
import torch

from eopose.dataset import weights
from eopose.dataset.keypoints import backbones, descriptors
from eopose.dataset.weights import WEIGHTS, WeightsUnavailable, resolve
from eopose.model import vgg_features


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    return tmp_path


def test_every_weight_set_offline_names_its_flag_and_cache(empty_caches):
    assert {"vit_small_patch8_224.dino", "vit_base_patch8_224.dino", "vit_small_patch14_reg4_dinov2.lvd142m",
            "vgg19", "lpips-alexnet", "fid-inception", "nocs-net", "eopose"} <= set(WEIGHTS)
    for name, source in WEIGHTS.items():
        with pytest.raises(WeightsUnavailable) as info:
            resolve(name)
        message = str(info.value)
        assert "\n" not in message and f"{source.flag} PATH" in message
        if source.url:  # downloadable: the cache folder and file name that fix it
            assert str(empty_caches / "torch" / "hub" / "checkpoints") in message and source.cache_file.name in message
        else:  # trained here: how to make one
            assert "final.pt" in message


def test_resolve_prefers_the_given_file_then_the_cache(empty_caches):
    given = empty_caches / "mine.pth"
    given.write_bytes(b"x")
    assert resolve("vgg19", given) == given
    with pytest.raises(WeightsUnavailable, match="--vgg-weights .*missing.pth: file not found"):
        resolve("vgg19", empty_caches / "missing.pth")
    cached = WEIGHTS["vgg19"].cache_file
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert resolve("vgg19") == cached


def test_download_failure_is_the_same_one_line_error(empty_caches, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network blocked in test")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(WeightsUnavailable, match=r"--lpips-weights PATH .*\(OSError\)$"):
        resolve("lpips-alexnet", download=True)


def test_imagenet_statistics_defined_once():
    assert descriptors.IMAGENET_MEAN is weights.IMAGENET_MEAN and vgg_features.IMAGENET_STD is weights.IMAGENET_STD
    assert not hasattr(backbones, "IMAGENET_MEAN")
