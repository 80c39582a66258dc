"""nocs-net's object-centred framing (dataset/keypoints/object_crop.py): the crop around the foreground, the way
back to the picture, a network that sees the same crop wherever the object sits, and the training views."""
from __future__ import annotations

import json

import numpy as np
import torch

from eopose.dataset.keypoints.nocs_net import NocsNet, NocsNetConfig, NocsNetOutput, load_nocs_net, predict
from eopose.dataset.keypoints.object_crop import compose, crop_thetas, invert, sample_crops, uncrop
from eopose.dataset.synthetic import write_synthetic_dataset
from eopose.train.nocs.augment import augment_views
from eopose.train.nocs.cli import main as train_nocs
from eopose.train.nocs.config import AugmentConfig

CLEAN = dict(white_balance=0.0, brightness=0.0, contrast=0.0, saturation=0.0, gamma=1.0, blur=0.0, noise=0.0,
             jpeg=0.0)


def test_a_box_fills_its_crop_and_comes_back_where_it_was():
    masks = np.zeros((2, 40, 60), bool)
    masks[0, 10:20, 30:50] = True  # 20 wide, 10 tall
    theta = crop_thetas(masks, 0.0)
    crops = sample_crops(torch.from_numpy(masks[:, None].astype(np.float32)), theta, 20, "nearest", "zeros")
    assert crops[0, 0].sum() == 200  # 20 x 10 pixels at one crop pixel per picture pixel
    assert torch.equal(crops[0, 0].any(dim=0), torch.ones(20, dtype=torch.bool))  # the box spans the crop's width
    assert torch.equal(crops[0, 0].any(dim=1).nonzero()[:, 0], torch.arange(5, 15))  # centred vertically
    back = uncrop(crops, theta, 40, 60)
    assert torch.equal(back[0, 0] > 0.5, torch.from_numpy(masks[0]))
    # no foreground: the whole picture's square on its centre
    assert torch.allclose(theta[1], torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.5, 0.0]]))
    assert torch.allclose(compose(theta, invert(theta)), torch.eye(2, 3).expand(2, 2, 3), atol=1e-6)
    wider = crop_thetas(masks[:1], 0.5)
    assert torch.allclose(wider[0, :, :2], 1.5 * theta[0, :, :2]) and torch.allclose(wider[0, :, 2], theta[0, :, 2])


def test_a_large_picture_is_filtered_before_its_crop_is_sampled():
    stripes = torch.zeros(1, 1, 256, 256)
    stripes[..., ::2] = 1.0  # one-pixel stripes: a 16 px crop of the whole picture should see their mean
    theta = crop_thetas(np.ones((1, 256, 256), bool), 0.0)
    crop = sample_crops(stripes, theta, 16)
    assert torch.allclose(crop, torch.full_like(crop, 0.5), atol=0.02)


def _object_at(canvas: int, top: int, left: int) -> np.ndarray:
    rgba = np.zeros((canvas, canvas, 4), np.uint8)
    patch = np.random.default_rng(3).integers(0, 256, (20, 14, 3), dtype=np.uint8)
    rgba[top:top + 20, left:left + 14, :3] = patch
    rgba[top:top + 20, left:left + 14, 3] = 255
    return rgba


def test_a_cropping_network_sees_the_object_alike_wherever_it_sits():
    torch.manual_seed(0)
    net = NocsNet(NocsNetConfig(resolution=32, channels=(8, 16, 32), crop=0.2)).eval()
    rgba = np.stack([_object_at(96, 10, 12), _object_at(96, 60, 70)])
    nocs, probability, confidence = predict(net, rgba)
    first, second = nocs[0, 10:30, 12:26], nocs[1, 60:80, 70:84]
    assert np.abs(first - second).max() < 1e-4  # the same crop, so the same NOCS on the object
    assert np.abs(nocs[0, 10:30, 12:26] - nocs[1, 10:30, 12:26]).max() > 1e-3  # not the frame's position
    outside = np.ones((96, 96), bool)
    outside[:40, :40] = False  # the first object's crop (side 24, on its centre) lies within this corner
    assert probability[0][outside].max() == 0 and confidence[0][outside].max() == 0 and nocs[0][outside].max() == 0
    # an explicit foreground replaces the alpha: the same object, framed by a mask around the second position
    masks = np.zeros((2, 96, 96), bool)
    masks[:, 60:80, 70:84] = True
    opaque = rgba.copy()
    opaque[rgba[..., 3] == 0] = 255  # the same picture on white, without alpha
    moved, _, _ = predict(net, opaque, masks=masks)
    assert np.abs(moved[1, 60:80, 70:84] - second).max() < 1e-4


def test_training_views_are_the_object_crops_at_the_network_resolution():
    rgba = torch.zeros(4, 64, 64, 4, dtype=torch.uint8)
    nocs, mask = torch.zeros(4, 64, 64, 3), torch.zeros(4, 64, 64)
    for view, (top, left, size) in enumerate(((4, 4, 12), (30, 20, 30), (40, 40, 20), (10, 30, 16))):
        rgba[view, top:top + size, left:left + size] = torch.tensor([200, 30, 30, 255], dtype=torch.uint8)
        nocs[view, top:top + size, left:left + size] = 0.5
        mask[view, top:top + size, left:left + size] = 1
    images, targets, masks = augment_views(rgba, nocs, mask, AugmentConfig(geometric=0.0, white=1.0, **CLEAN),
                                           torch.Generator().manual_seed(0), crop=0.25, size=20)
    assert images.shape == (4, 3, 20, 20) and targets.shape == (4, 3, 20, 20) and masks.shape == (4, 1, 20, 20)
    for view in range(4):  # every object 16 of the 20 crop pixels across, in the middle, whatever its size
        rows, cols = torch.nonzero(masks[view, 0], as_tuple=True)
        assert (int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())) == (2, 17, 2, 17)
    assert torch.all((targets[:, 0] > 0) == (masks[:, 0] > 0))
    assert float((images[:, 1, 4:16, 4:16] < 0.2).float().mean()) > 0.95  # the object's colour inside the mask
    assert float((images[:, 1][masks[:, 0] == 0] > 0.5).float().mean()) > 0.95  # white around it


def test_train_nocs_with_a_crop_writes_a_network_that_crops(tmp_path):
    data = write_synthetic_dataset(tmp_path / "data", quads=6, resolution=48, quads_per_shard=6)
    config = tmp_path / "crop.toml"
    config.write_text('name = "crop"\n[net]\nresolution = 16\nchannels = [8, 16]\ncrop = 0.2\n'
                      '[optim]\nbatch_size = 8\nsteps = 6\n[run]\ncheckpoint_every = 3\nlog_every = 3\n'
                      'image_every = 3\n')
    out = tmp_path / "run"
    assert train_nocs(["--data", str(data), "--config", str(config), "--out", str(out)]) == 0
    net, _ = load_nocs_net(out / "checkpoints" / "final.pt")
    assert net.config.crop == 0.2 and net.config.resolution == 16
    assert json.loads((out / "config.json").read_text())["net"]["crop"] == 0.2
    assert (out / "samples" / "nocs-000003.png").is_file()


class _DarkIsForeground(NocsNet):
    """A stand-in network whose foreground is the dark pixels of its input and whose NOCS are the input colours."""

    def forward(self, images, category=None):
        darkness = 10.0 * (0.5 - images.mean(dim=1, keepdim=True))
        return NocsNetOutput(images, darkness, torch.ones_like(darkness))


def test_an_opaque_picture_is_framed_by_the_networks_own_foreground():
    net = _DarkIsForeground(NocsNetConfig(resolution=32, channels=(8, 16), crop=0.2)).eval()
    picture = np.full((1, 96, 96, 4), 255, np.uint8)  # opaque, white, no foreground given
    picture[0, 60:80, 10:24, :3] = 40  # a dark object, 20 x 14 px
    nocs, probability, _ = predict(net, picture)
    # the crop: 24 px square on the object's box centre (70, 17): everything outside it is 0
    assert nocs[0, :56].max() == 0 and nocs[0, :, 32:].max() == 0 and probability[0, 84:].max() == 0
    assert probability[0, 65:75, 12:22].min() > 0.9 and nocs[0, 62:78, 12:22].max() < 0.2
    # with the whole picture given as foreground (an alpha that is all object), the same framing
    same, _, _ = predict(net, picture, masks=np.ones((1, 96, 96), bool))
    assert np.array_equal(same, nocs)
