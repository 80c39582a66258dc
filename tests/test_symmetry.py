"""Shape symmetries (dataset.categories): NOCS matching modulo a category's symmetry, the rotation error modulo it,
and the symmetry recorded in a dataset's index."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from eopose.dataset.categories import CONTINUOUS, Symmetry, symmetry_of, turn_nocs
from eopose.dataset.keypoints.nocs_matching import match_nocs
from eopose.dataset.synthetic import make_quadruplet_rows, render_ellipsoid

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
