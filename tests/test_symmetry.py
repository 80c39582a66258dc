"""Shape symmetries (dataset.categories): NOCS matching modulo a category's symmetry, the rotation error modulo it,
and the symmetry recorded in a dataset's index."""
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation
from torch.utils.data import default_collate

from eopose.dataset.categories import CONTINUOUS, Symmetry, symmetry_of, symmetry_of_settings, turn_nocs
from eopose.dataset.keypoints.nocs_matching import NocsCorrespondences, match_nocs
from eopose.dataset.pairs import PairSampleDataset
from eopose.dataset.pose_estimate import axis_rotations, rotation_error_deg
from eopose.dataset.shard_format import open_dataset, read_index, update_index
from eopose.dataset.synthetic import make_quadruplet_rows, render_ellipsoid, write_synthetic_dataset
from eopose.render import cli as render_cli
from eopose.render.run import render_settings_of, shard_settings_of
from eopose.render.sources import read_manifest, run_symmetry
from eopose.train.augment import flip_samples
from eopose.train.evaluation import rotations

HALF_TURN = Symmetry(2).rotations()[1]


@pytest.fixture(scope="module")
def ellipsoids():
    """Synthetic quadruplet rows: ellipsoids centred on the NOCS origin, so shapes symmetric under a half turn
    about up."""
    return make_quadruplet_rows(6, 64, 64, seed=0)


def view(rows, row, index):
    return rows["nocs"][row, index].astype(np.float32), rows["mask"][row, index]


def turned(nocs, mask, rotation):
    """The NOCS map of one view as a network that mistook the object's turn about up would predict it."""
    return np.where(mask[..., None] > 0, turn_nocs(nocs, rotation), 0).astype(np.float32)


def matched_error(points_a, points_p, valid, nocs_a, nocs_p) -> float:
    """Mean NOCS distance between the true canonical coordinates at the matched pixels."""
    pixel_a, pixel_p = points_a[valid].astype(int), points_p[valid].astype(int)
    return float(np.linalg.norm(nocs_a[pixel_a[:, 1], pixel_a[:, 0]] - nocs_p[pixel_p[:, 1], pixel_p[:, 0]],
                                axis=1).mean())


def test_turn_nocs_keeps_the_up_axis_and_turns_about_it():
    nocs = np.array([[0.5, 0.5, 0.2], [0.9, 0.5, 0.7], [0.5, 0.1, 0.3]], np.float32)
    np.testing.assert_allclose(turn_nocs(nocs, HALF_TURN), [[0.5, 0.5, 0.2], [0.1, 0.5, 0.7], [0.5, 0.9, 0.3]],
                               atol=1e-6)
    np.testing.assert_array_equal(turn_nocs(nocs, np.eye(3)), nocs)


def test_matching_takes_back_a_half_turn_for_order_2_only(ellipsoids):
    nocs_a, mask_a = view(ellipsoids, 5, 0)
    nocs_p, mask_p = view(ellipsoids, 5, 3)
    today = match_nocs(nocs_a, mask_a, nocs_p, mask_p, 35)
    mistaken = turned(nocs_p, mask_p, HALF_TURN)
    recovered = match_nocs(nocs_a, mask_a, mistaken, mask_p, 35, symmetry=Symmetry(2))
    assert all(np.array_equal(x, y) for x, y in zip(today, recovered))
    assert matched_error(*recovered, nocs_a, nocs_p) == pytest.approx(0.0251, abs=1e-3)
    for no_symmetry in (None, Symmetry(1)):
        plain = match_nocs(nocs_a, mask_a, mistaken, mask_p, 35, symmetry=no_symmetry)
        assert matched_error(*plain, nocs_a, nocs_p) > 0.3  # front matched to back
    # the correct map keeps today's points with the symmetry too (the identity is tried first)
    assert all(np.array_equal(x, y) for x, y in zip(today, match_nocs(nocs_a, mask_a, nocs_p, mask_p, 35,
                                                                         symmetry=Symmetry(2))))


def spheroid_view(semi_axes, euler_deg):
    """(NOCS, mask) of a spheroid (a surface of revolution about up) posed by XYZ Euler angles."""
    passes = render_ellipsoid(semi_axes, Rotation.from_euler("xyz", euler_deg, degrees=True).as_matrix(),
                              np.zeros((4, 3)), 64, 64)
    return passes["nocs"].astype(np.float32), passes["mask"]


def test_matching_a_surface_of_revolution_needs_no_turn():
    """Any turn of a spheroid's NOCS lies on the same surface: its pairs already agree in radius and height about
    the up axis, so the continuous symmetry keeps them."""
    nocs_a, mask_a = spheroid_view((0.55, 0.55, 0.95), (60, 20, 30))
    nocs_p, mask_p = spheroid_view((0.5, 0.5, 0.9), (80, 0, -40))
    mistaken = turned(nocs_p, mask_p, Rotation.from_euler("z", 100, degrees=True).as_matrix())
    plain = match_nocs(nocs_a, mask_a, mistaken, mask_p, 35)
    symmetric = match_nocs(nocs_a, mask_a, mistaken, mask_p, 35, symmetry=Symmetry(CONTINUOUS))
    assert all(np.array_equal(x, y) for x, y in zip(plain, symmetric))
    points_a, points_p, valid = symmetric
    assert valid.sum() == 35
    true_a = nocs_a[points_a[:, 1].astype(int), points_a[:, 0].astype(int)] - 0.5
    true_p = nocs_p[points_p[:, 1].astype(int), points_p[:, 0].astype(int)] - 0.5
    radius_error = np.abs(np.hypot(*true_a[:, :2].T) - np.hypot(*true_p[:, :2].T)).mean()
    assert radius_error < 0.03 and np.abs(true_a[:, 2] - true_p[:, 2]).mean() < 0.03
    assert matched_error(*symmetric, nocs_a, nocs_p) > 0.2  # but not the same places: the turn is unknowable


def test_rotation_error_modulo_a_half_turn():
    rng = np.random.default_rng(3)
    truth = Rotation.random(random_state=rng).as_matrix()
    up = Rotation.random(random_state=rng).as_matrix()[:, 2]  # the appearance object's up axis, camera frame
    about_up = lambda degrees: Rotation.from_rotvec(np.radians(degrees) * up).as_matrix()
    side = np.cross(up, [1.0, 0.0, 0.0])
    tilt = Rotation.from_rotvec(np.radians(7.0) * side / np.linalg.norm(side)).as_matrix()
    briefcase, shoe = Symmetry(2), Symmetry(1)
    flipped = truth @ about_up(180)  # front and back swapped: the same shape
    assert rotation_error_deg(flipped, truth) == pytest.approx(180.0, abs=1e-4)
    assert rotation_error_deg(flipped, truth, briefcase, up) == pytest.approx(0.0, abs=1e-4)
    assert rotation_error_deg(flipped, truth, shoe, up) == pytest.approx(180.0, abs=1e-4)
    assert rotation_error_deg(truth @ about_up(150), truth, briefcase, up) == pytest.approx(30.0, abs=1e-4)
    assert rotation_error_deg(truth @ about_up(60), truth, briefcase, up) == pytest.approx(60.0, abs=1e-4)
    assert rotation_error_deg(truth @ tilt @ about_up(180), truth, briefcase, up) == pytest.approx(7.0, abs=1e-4)
    assert rotation_error_deg(truth @ about_up(60), truth, Symmetry(CONTINUOUS), up) == pytest.approx(0.0, abs=1e-4)
    batch = np.stack([flipped, truth @ about_up(90)])
    assert np.allclose(rotation_error_deg(batch, np.stack([truth] * 2), briefcase, np.stack([up] * 2)), [0.0, 90.0],
                       atol=1e-4)
    with pytest.raises(ValueError, match="axis"):
        rotation_error_deg(flipped, truth, briefcase)


@pytest.fixture(scope="module")
def briefcase_like(tmp_path_factory):
    """Synthetic quadruplets whose index records a half-turn symmetry, as render-pairs writes for briefcases."""
    folder = write_synthetic_dataset(tmp_path_factory.mktemp("half_turn"), quads=2, resolution=32)
    update_index(folder, {**read_index(folder)["settings"], "symmetry": Symmetry(2).to_json()})
    return folder


def test_dataset_symmetry_from_the_index_or_the_category(briefcase_like, synthetic_dataset):
    assert open_dataset(briefcase_like).symmetry == Symmetry(2)
    assert open_dataset(synthetic_dataset).symmetry == Symmetry(1)  # no key, no declared category
    assert symmetry_of_settings({"category": "vases"}) == Symmetry(CONTINUOUS)  # written before the key existed
    assert symmetry_of_settings({"category": "vases", "symmetry": {"axis": "up", "order": 1}}) == Symmetry(1)
    assert [symmetry_of(c).order for c in ("vases", "briefcases", "file_cabinets", "shoes")] == [0, 2, 2, 1]


def test_evaluation_reports_the_rotation_error_modulo_the_symmetry(briefcase_like, monkeypatch):
    """An estimate off by exactly the half turn: 180 degrees plain, 0 modulo the dataset's symmetry."""
    samples = PairSampleDataset(briefcase_like, with_rotation=True)
    batch = default_collate([samples[index] for index in range(len(samples))])
    half_turns = axis_rotations(batch["up_axis"].double().numpy(), np.array([math.pi]))[:, 0]
    flipped = torch.from_numpy(batch["rotation"].double().numpy() @ half_turns).float()
    one_category = SimpleNamespace(conditioned=False)  # a network without a category input
    monkeypatch.setattr(rotations, "load_nocs_net", lambda weights, device: (one_category, weights))
    monkeypatch.setattr(rotations, "estimate_pose_inputs", lambda *args, **kwargs: {
        "rotation": flipped, "pivot": batch["pivot"], "camera_depth": batch["camera_depth"],
        "up_axis": -batch["up_axis"], "valid": torch.ones(len(flipped), dtype=torch.bool)})
    estimator = rotations.EstimatedRotations("nocs.pt", samples.categories)
    estimated = estimator(batch)
    # the warp gets the estimated up axis; the error is scored against the shard's
    assert torch.equal(estimated["up_axis"], -batch["up_axis"]) and torch.equal(estimated["rotation"], flipped)
    summary = estimator.summary()
    assert batch["symmetry_order"].tolist() == [2] * 8 and summary["pairs"] == 8
    assert summary["median_deg"] == pytest.approx(180.0, abs=0.01)
    assert summary["p90_mod_symmetry_deg"] == pytest.approx(0.0, abs=0.01)


def write_manifest(folder, **header):
    path = folder / "manifest.json"
    path.write_text(json.dumps({"category": "vases", "source": "dir", **header,
                                "models": [{"model_id": "vase000", "canonical_euler_deg": [0, 0, 90]}]}))
    return path


@pytest.mark.parametrize("declared, expected", [("continuous", Symmetry(CONTINUOUS)), ("none", Symmetry(1)),
                                                (3, Symmetry(3))])
def test_manifest_symmetry_is_what_the_run_records(tmp_path, declared, expected):
    manifest = read_manifest(write_manifest(tmp_path, symmetry=declared))
    assert manifest["symmetry"] == expected and manifest["models"] == {"vase000": (0.0, 0.0, 90.0)}
    assert run_symmetry("vases", manifest) == expected
    assert run_symmetry("vases", read_manifest(write_manifest(tmp_path))) == Symmetry(CONTINUOUS)  # the category's
    assert run_symmetry("shoes", None) == Symmetry(1)


def test_render_pairs_writes_the_symmetry_into_the_settings(tmp_path):
    options = render_cli.parse_args(["--category", "briefcases", "--out", str(tmp_path / "out"), "--quiet"])
    settings = shard_settings_of(options, [], render_settings_of(options))
    assert settings["symmetry"] == {"axis": "up", "order": 2}
    assert symmetry_of_settings(json.loads(json.dumps(settings))) == Symmetry(2)
    manifest = write_manifest(tmp_path, category="briefcases", symmetry=4)
    options = render_cli.parse_args(["--category", "briefcases", "--manifest", str(manifest), "--source", "dir",
                                     "--mesh-dir", str(tmp_path), "--out", str(tmp_path / "out"), "--quiet"])
    assert shard_settings_of(options, [], render_settings_of(options))["symmetry"] == {"axis": "up", "order": 4}


@pytest.mark.parametrize("declared", ["twofold", 0, -2, 1.5, True, {"order": 2}])
def test_bad_manifest_symmetry_is_one_line_naming_the_file(tmp_path, capsys, declared):
    manifest = write_manifest(tmp_path, symmetry=declared)
    with pytest.raises(SystemExit) as stop:
        render_cli.main(["--category", "vases", "--manifest", str(manifest), "--source", "dir", "--mesh-dir",
                         str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1, err
    assert str(manifest) in err and "symmetry" in err and '"continuous", "none" or a positive' in err
    assert not (tmp_path / "out").exists()


def test_a_flipped_sample_keeps_its_error_modulo_the_symmetry(briefcase_like):
    samples = PairSampleDataset(briefcase_like, with_rotation=True)
    batch = default_collate([samples[index] for index in range(4)])
    estimate = batch["rotation"].double() @ torch.from_numpy(axis_rotations(batch["up_axis"].double().numpy(),
                                                                              np.array([math.radians(150)]))[:, 0])
    flipped = flip_samples({**batch, "estimate": estimate}, torch.ones(4, dtype=torch.bool))
    mirror = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))
    errors = [rotation_error_deg(e.numpy(), t.double().numpy(), Symmetry(2), u.double().numpy())
              for e, t, u in ((estimate, batch["rotation"], batch["up_axis"]),
                              (mirror @ estimate @ mirror, flipped["rotation"], flipped["up_axis"]))]
    assert np.allclose(errors, 30.0, atol=1e-3)  # 150 degrees about up is 30 from the half turn


def test_the_nocs_method_matches_modulo_a_symmetry_its_state_carries(ellipsoids):
    method = NocsCorrespondences()
    rows = {"nocs": ellipsoids["nocs"][5:6].astype(np.float32).copy(), "mask": ellipsoids["mask"][5:6]}
    today = method.match(method.prepare(rows), 0, 0, 3)  # rendered NOCS: matched as they are
    rows["nocs"][0, 3] = turned(rows["nocs"][0, 3], rows["mask"][0, 3], HALF_TURN)
    assert all(np.array_equal(x, y) for x, y in zip(today, method.match({**rows, "symmetry": Symmetry(2)}, 0, 0, 3)))
    assert not np.array_equal(today[1], method.match(rows, 0, 0, 3)[1])
