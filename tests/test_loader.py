"""Training loader: sample expansion, compositing, resizing, keypoints, exact flow, splits and workers."""
import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from eopose.dataset import DatasetFormatError, add_keypoints, open_dataset, split_of_model
from eopose.dataset.geometry import ground_truth_flow, pixel_centres
from eopose.dataset.compositing import composite
from eopose.dataset.pairs import PairSampleDataset
from eopose.dataset.shard_format import SAMPLE_VIEWS, shard_name
from eopose.dataset.synthetic import write_synthetic_dataset


def test_four_samples_per_quadruplet_in_paper_order(synthetic_dataset):
    samples = PairSampleDataset(synthetic_dataset)
    assert len(samples) == 48
    record = open_dataset(synthetic_dataset)[2]
    for sample, (a, p, t) in enumerate(SAMPLE_VIEWS):
        item = samples[2 * 4 + sample]
        for key, view in (("appearance", a), ("pose", p), ("target", t)):
            expected, alpha = composite(record["rgba"][view], (1.0, 1.0, 1.0))
            torch.testing.assert_close(item[key], expected)
        torch.testing.assert_close(item["mask_target"][0], torch.from_numpy(record["rgba"][t][..., 3] / 255.0).float())
    # appearance and target show the same model, pose the other one
    assert SAMPLE_VIEWS == ((0, 3, 1), (1, 2, 0), (2, 1, 3), (3, 0, 2))


def test_composite_on_background_and_resize(synthetic_dataset):
    black = PairSampleDataset(synthetic_dataset, background=(0.0, 0.0, 0.0))[0]
    white = PairSampleDataset(synthetic_dataset)[0]
    outside = black["mask_appearance"][0] == 0
    assert outside.any()
    assert torch.all(black["appearance"][:, outside] == 0) and torch.all(white["appearance"][:, outside] == 1)
    small = PairSampleDataset(synthetic_dataset, resolution=32)[0]
    assert small["appearance"].shape == (3, 32, 32) and small["mask_pose"].shape == (1, 32, 32)
    assert abs(small["mask_appearance"].mean() - white["mask_appearance"].mean()) < 0.01


def test_keypoints_are_returned_and_scaled(synthetic_dataset, tmp_path):
    data_dir = shutil.copytree(synthetic_dataset, tmp_path / "data")
    with pytest.raises(DatasetFormatError, match="no 'nocs' keypoints; run `build-keypoint-cache"):
        PairSampleDataset(data_dir, keypoint_method="nocs")
    for shard in range(3):
        points = np.arange(4 * 4 * 5 * 2, dtype=np.float32).reshape(4, 4, 5, 2) + shard
        add_keypoints(data_dir / shard_name(shard), "nocs", points, points + 0.5, np.ones((4, 4, 5), bool), {})
    item = PairSampleDataset(data_dir, keypoint_method="nocs", resolution=32)[4 * 5 + 3]  # shard 1, row 1, sample 3
    expected = (np.arange(160, dtype=np.float32).reshape(4, 4, 5, 2)[1, 3] + 1) * 0.5
    np.testing.assert_allclose(item["points_a"].numpy(), expected)
    np.testing.assert_allclose(item["points_p"].numpy(), expected + 0.25)
    assert item["valid"].dtype == torch.bool and item["valid"].all()


def test_ground_truth_flow_maps_target_to_same_surface_point(synthetic_dataset):
    data = open_dataset(synthetic_dataset)
    checked = 0
    for quad in range(len(data)):
        record = data[quad]
        for a, _, t in SAMPLE_VIEWS:
            flow, valid = ground_truth_flow(record, a, t)
            if valid.sum() < 50:
                continue  # views almost opposite: nothing of the target is visible in the appearance view
            source = pixel_centres(*valid.shape) + flow.transpose(1, 2, 0)
            cols, rows = (np.floor(source[valid]).astype(int).T)
            nocs_a = record["nocs"][a][rows, cols].astype(np.float64)
            nocs_t = record["nocs"][t][valid].astype(np.float64)
            # one pixel of NOCS change on a 64-px object is ~0.03; nearest lookup stays within that
            assert np.median(np.abs(nocs_a - nocs_t).max(-1)) < 0.02
            checked += 1
    assert checked >= 10


def test_flow_in_loader_matches_geometry_and_scales(synthetic_dataset):
    full = PairSampleDataset(synthetic_dataset, with_flow=True)[6]
    half = PairSampleDataset(synthetic_dataset, with_flow=True, resolution=32)[6]
    assert full["flow_gt"].shape == (2, 64, 64) and half["flow_gt"].shape == (2, 32, 32)
    torch.testing.assert_close(half["flow_gt"], full["flow_gt"][:, ::2, ::2] * 0.5)
    assert full["flow_valid"].sum() > 0


def test_splits_never_share_a_model(tmp_path):
    data_dir = write_synthetic_dataset(tmp_path / "many", quads=40, resolution=16, quads_per_shard=20)
    seen = {}
    for split in ("train", "val", "test"):
        samples = PairSampleDataset(data_dir, split=split)
        data = samples.datasets[0]
        ids = data.column("model_id")
        for _, quad in samples.quads:
            for model in ids[quad]:
                assert split_of_model(model) == split
                assert seen.setdefault(model, split) == split
    assert len(PairSampleDataset(data_dir, split="train")) > 0


def _collect(loader):
    out = []
    for batch in loader:
        for i in range(len(batch["index"])):
            out.append({k: (v[i] if isinstance(v, torch.Tensor) else v[i]) for k, v in batch.items()})
    return sorted(out, key=lambda item: int(item["index"]))


def test_two_worker_loader_yields_exactly_the_single_process_samples(synthetic_dataset):
    single = _collect(DataLoader(PairSampleDataset(synthetic_dataset, with_flow=True), batch_size=5, num_workers=0))
    samples = PairSampleDataset(synthetic_dataset, with_flow=True)
    assert samples.datasets[0]._handles == {}  # building the index of samples leaves no file open to fork
    double_loader = DataLoader(samples, batch_size=5, num_workers=2, persistent_workers=True, shuffle=True,
                               generator=torch.Generator().manual_seed(0))
    for _ in range(2):  # persistent workers serve a second epoch with their own lazily opened handles
        double = _collect(double_loader)
        assert [int(s["index"]) for s in double] == list(range(48))
        for one, two in zip(single, double):
            for key, value in one.items():
                if isinstance(value, torch.Tensor):
                    assert torch.equal(value, two[key]), key
                else:
                    assert value == two[key]
    assert samples.datasets[0]._handles == {}  # only the workers opened shards


def test_uint8_samples_round_the_float_ones_and_to_device_restores_them(synthetic_dataset):
    from eopose.train.steps import to_device
    as_float = PairSampleDataset(synthetic_dataset, resolution=32)[5]
    as_uint8 = PairSampleDataset(synthetic_dataset, resolution=32, uint8=True)[5]
    for key in ("appearance", "pose", "target", "mask_appearance", "mask_pose", "mask_target"):
        assert as_uint8[key].dtype == torch.uint8
        restored = to_device({key: as_uint8[key]}, torch.device("cpu"))[key]
        assert restored.dtype == torch.float32
        assert (restored - as_float[key]).abs().max() <= 0.5 / 255 + 1e-6
