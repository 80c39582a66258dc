"""Rotation from canonical coordinates (dataset.pose_estimate) against the rotations stored in rendered shards, and
the shard rotation itself against the exact flow (dataset.geometry)."""


import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from eopose.dataset import open_dataset
from eopose.dataset.categories import CONTINUOUS, Symmetry
from eopose.dataset.geometry import ground_truth_flow, pixel_centres, pivot_pixel, relative_rotation
from eopose.dataset.pose_estimate import (UNKNOWN_CAMERA, estimate_relative_rotations, fit_view_pose,
                                          relative_rotation_from_nocs, rotation_error_deg, up_axis_in_camera)

# appearance -> target view pairs: the same model (0->1, 2->3) and the category-aligned pose pairs of the samples
PAIRS = ((0, 1), (2, 3), (0, 3), (1, 2))


@pytest.fixture(scope="module")
def records(synthetic_dataset):
    dataset = open_dataset(synthetic_dataset)
    return [dataset.read(index, ("nocs", "mask", "depth", "rotations", "nocs_to_object", "intrinsics", "extrinsics"))
            for index in range(len(dataset))]


def _errors(records, camera: str, corrupt=None) -> np.ndarray:
    errors = []
    for record in records:
        nocs = record["nocs"].astype(np.float32) if corrupt is None else corrupt(record)
        for a, t in PAIRS:
            estimate, valid = relative_rotation_from_nocs(
                nocs[a], record["mask"][a], nocs[t], record["mask"][t],
                intrinsics={"known": record["intrinsics"], "weak": None, "unknown": UNKNOWN_CAMERA}[camera])
            assert valid
            errors.append(rotation_error_deg(estimate, relative_rotation(record, a, t)))
    return np.array(errors)


def test_recovers_the_shard_rotation_from_rendered_nocs(records):
    known = _errors(records, "known")
    assert len(known) == 48 and known.max() < 0.1  # POSIT: exact up to the NOCS quantisation
    unknown = _errors(records, "unknown")  # a photo's case: the focal length searched
    assert np.median(unknown) < 0.2 and unknown.max() < 1.0
    weak = _errors(records, "weak")
    # weak perspective at camera distance 4 (unit bounding sphere): a bias of about a degree
    assert 0.3 < np.median(weak) < 2.0 and weak.max() < 5.0


def test_thirty_percent_outlier_pixels(records):
    rng = np.random.default_rng(0)

    def corrupt(record):
        nocs = record["nocs"].astype(np.float32)
        outliers = (record["mask"] > 0) & (rng.random(record["mask"].shape) < 0.3)
        nocs[outliers] = rng.random((int(outliers.sum()), 3))
        return nocs

    assert _errors(records, "known", corrupt=corrupt).max() < 2.0
    assert _errors(records, "unknown", corrupt=corrupt).max() < 2.0


def test_view_pose_is_a_proper_rotation_facing_the_camera(records):
    record = records[0]
    pose = fit_view_pose(record["nocs"][0], record["mask"][0], intrinsics=record["intrinsics"])
    truth = record["extrinsics"][:3, :3] @ record["rotations"][0]
    assert pose.valid and pose.inliers > 0.95 * pose.points
    assert np.linalg.det(pose.rotation) == pytest.approx(1.0, abs=1e-9)
    assert rotation_error_deg(pose.rotation, truth) < 0.1
    assert pose.facing > 0.9  # the visible surface lies on the camera's side of the centre
    assert fit_view_pose(record["nocs"][0], np.zeros_like(record["mask"][0])).valid is False


def test_nocs_to_object_affine_is_honoured(records):
    """NOCS stretched per axis with the matching affine describe the same object points: the same rotation."""
    record = records[1]
    stretch = np.array([1.0, 0.5, 0.8])
    affine = record["nocs_to_object"][0].astype(np.float64).copy()
    affine[:3, :3] = affine[:3, :3] / stretch
    affine[:3, 3] = affine[:3, 3] - affine[:3, :3] @ (0.5 * (1 - stretch))
    stretched = 0.5 + (record["nocs"][0].astype(np.float64) - 0.5) * stretch
    plain = fit_view_pose(record["nocs"][0], record["mask"][0], intrinsics=record["intrinsics"])
    moved = fit_view_pose(stretched, record["mask"][0], nocs_to_object=affine, intrinsics=record["intrinsics"])
    assert rotation_error_deg(moved.rotation, plain.rotation) < 0.01
    ignored = fit_view_pose(stretched, record["mask"][0], intrinsics=record["intrinsics"])
    assert rotation_error_deg(ignored.rotation, plain.rotation) > 5.0


def _camera_points(record, view: int, intrinsics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pixel centres [m, 2], camera points [m, 3]) of a view's foreground, back-projected from its depth pass
    (independent of NOCS and rotations)."""
    mask = record["mask"][view] > 0
    pixels = pixel_centres(*mask.shape)[mask]
    rays = np.concatenate([pixels, np.ones((len(pixels), 1))], axis=1) @ np.linalg.inv(intrinsics).T
    return pixels, rays * record["depth"][view][mask].astype(np.float64)[:, None]


def _project(points: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    homogeneous = points @ intrinsics.T
    return homogeneous[:, :2] / homogeneous[:, 2:]


def test_shard_rotation_moves_appearance_points_onto_the_exact_flow(records):
    """x_cam_target - c = R (x_cam_appearance - c), checked against the exact backward flow target -> appearance
    (geometry.ground_truth_flow, computed from NOCS, rotations and the depth test): each appearance pixel's camera
    point turned by R about the object centre lands on a target pixel whose flow points back to it (within the
    pixel's rounding), and each visible target pixel's point turned back by R^T lands exactly where its flow
    points."""
    for record in records[:6]:
        intrinsics = record["intrinsics"].astype(np.float64)
        centre = record["extrinsics"][:3, 3].astype(np.float64)  # the world origin in camera coordinates
        assert np.allclose(pivot_pixel(record), _project(centre[None], intrinsics)[0])
        height, width = record["mask"].shape[1:]
        for a, t in ((0, 1), (1, 0), (2, 3)):
            rotation = relative_rotation(record, a, t)
            flow, valid = ground_truth_flow(record, a, t)
            pixels, camera_a = _camera_points(record, a, intrinsics)
            camera_t = (camera_a - centre) @ rotation.T + centre
            cols, rows = np.floor(_project(camera_t, intrinsics)).astype(int).T
            inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
            cols, rows, pixels, camera_t = cols[inside], rows[inside], pixels[inside], camera_t[inside]
            # visible in the target: on a valid flow pixel and not behind another surface there
            seen = valid[rows, cols] & (np.abs(camera_t[:, 2] - record["depth"][t][rows, cols]) < 0.05)
            assert seen.sum() > 100
            back = pixel_centres(height, width)[rows[seen], cols[seen]] + flow[:, rows[seen], cols[seen]].T
            forward_error = np.linalg.norm(back - pixels[seen], axis=1)
            assert np.median(forward_error) < 0.6 and np.percentile(forward_error, 95) < 1.5

            targets, camera_target = _camera_points(record, t, intrinsics)
            landing = _project((camera_target - centre) @ rotation + centre, intrinsics)
            on_flow = valid[record["mask"][t] > 0]
            backward_error = np.linalg.norm(landing[on_flow] - (targets[on_flow] + flow[:, valid].T), axis=1)
            assert on_flow.sum() > 100 and backward_error.max() < 0.1  # float16 depth and NOCS


def test_symmetric_error_ignores_the_turn_about_the_up_axis(records):
    record = records[2]
    truth = relative_rotation(record, 0, 1)
    up = up_axis_in_camera(record, 0)
    turn = Rotation.from_rotvec(np.radians(40.0) * up).as_matrix()  # the appearance object about its own axis
    side = np.cross(up, [1.0, 0.0, 0.0])
    tilt = Rotation.from_rotvec(np.radians(10.0) * side / np.linalg.norm(side)).as_matrix()
    assert rotation_error_deg(truth @ turn, truth) == pytest.approx(40.0, abs=1e-4)
    vase = Symmetry(CONTINUOUS)
    assert rotation_error_deg(truth @ turn, truth, vase, up) == pytest.approx(0.0, abs=1e-4)
    assert rotation_error_deg(truth @ tilt @ turn, truth, vase, up) == pytest.approx(10.0, abs=1e-4)
    batch = np.stack([truth @ turn, truth @ tilt])
    assert np.allclose(rotation_error_deg(batch, np.stack([truth] * 2), vase, np.stack([up] * 2)), [0.0, 10.0],
                       atol=1e-4)


def test_batched_entry_point_numpy_and_torch(records):
    nocs = np.stack([record["nocs"].astype(np.float32) for record in records[:3]])
    mask = np.stack([record["mask"] for record in records[:3]])
    mask[2, 3] = 0  # a pose view with no foreground: no estimate
    intrinsics = np.stack([record["intrinsics"] for record in records[:3]])
    rotations, valid = estimate_relative_rotations(nocs[:, 0], mask[:, 0], nocs[:, 3], mask[:, 3],
                                                   intrinsics=intrinsics)
    assert rotations.shape == (3, 3, 3) and valid.tolist() == [True, True, False]
    assert np.allclose(rotations[2], np.eye(3))
    truth = np.stack([relative_rotation(record, 0, 3) for record in records[:2]])
    assert rotation_error_deg(rotations[:2], truth).max() < 0.1
    tensors, tensor_valid = estimate_relative_rotations(torch.from_numpy(nocs[:, 0]), torch.from_numpy(mask[:, 0]),
                                                        torch.from_numpy(nocs[:, 3]), torch.from_numpy(mask[:, 3]),
                                                        intrinsics=torch.from_numpy(intrinsics))
    assert isinstance(tensors, torch.Tensor) and tensors.dtype == torch.float32
    assert np.allclose(tensors.numpy(), rotations, atol=1e-6) and tensor_valid.tolist() == valid.tolist()


def test_image_pose_inputs_from_exact_canonical_coordinates(records, monkeypatch):
    """estimate_pose_inputs with nocs-net's prediction replaced by the rendered NOCS: the appearance object's up
    axis within 3 degrees of the shard's (up_axis_in_camera), the pivot within 1.5 px, and the category's
    symmetry order."""
    from eopose.dataset import image_pose

    record = records[0]
    appearance, target = 0, 1
    nocs, mask = record["nocs"][[appearance, target]].astype(np.float32), record["mask"][[appearance, target]] > 0
    monkeypatch.setattr(image_pose, "predict", lambda net, rgba, device, categories=None: (
        nocs, mask.astype(np.float32), np.ones(mask.shape, np.float32)))
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    rgba[..., 3] = mask * 255
    estimate = image_pose.estimate_pose_inputs(None, rgba[:1], rgba[1:], categories="briefcases")
    truth = up_axis_in_camera(record, appearance)
    angle = np.degrees(np.arccos(np.clip(float(estimate["up_axis"][0].double() @ torch.from_numpy(truth)), -1, 1)))
    assert bool(estimate["valid"][0]) and angle < 3.0
    assert np.abs(estimate["pivot"][0].numpy() - pivot_pixel(record)).max() < 1.5
    assert estimate["symmetry_order"].tolist() == [2]
