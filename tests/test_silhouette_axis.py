"""The axis of a body of revolution read from its silhouette (dataset.silhouette_axis), on exact ray-cast
silhouettes of ellipsoids of revolution (dataset.synthetic) seen by the perspective camera of the test shards."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from eopose.dataset.categories import UP_AXIS
from eopose.dataset.silhouette_axis import (MIN_MIRROR_IOU, image_angle_deg, minimal_rotation, mirror_line,
                                            onto_line, refine_view, centre_on_line, shared_centre)
from eopose.dataset.synthetic import render_ellipsoid

PALETTE = np.full((4, 3), 128.0)
SEMI_AXES = (0.45, 0.45, 0.95)  # a body of revolution about the object's up axis (+Z), twice as long as wide


def _view(rotation: np.ndarray, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(mask [H, W], object -> camera rotation) of the ellipsoid posed by `rotation` (object -> world)."""
    passes = render_ellipsoid(SEMI_AXES, rotation, PALETTE, size, size)
    return passes["mask"] > 0, passes["extrinsics"][:3, :3] @ rotation


def _angle_between(first: float, second: float, period: float = 360.0) -> float:
    return abs((first - second + period / 2) % period - period / 2)


@pytest.mark.parametrize("euler", [(30, 60, 10), (-50, 20, 140), (75, -35, -60)])
def test_mirror_line_is_the_image_of_the_axis(euler):
    """Searched from 20 degrees off, the mirror line is within 1 degree of the up axis's image and passes within
    half a pixel of the object centre's (the image centre for this camera)."""
    mask, object_to_camera = _view(Rotation.from_euler("xyz", euler, degrees=True).as_matrix())
    truth = image_angle_deg(object_to_camera @ UP_AXIS)
    line = mirror_line(mask, truth + 20.0)
    assert _angle_between(line.angle_deg, truth, 180.0) < 1.0
    assert line.iou > 0.93  # pixelation: a binary mask mirrored bilinearly
    assert np.abs(onto_line(np.array([32.0, 32.0]), line) - 32.0).max() < 0.5


def test_refine_view_puts_the_axis_on_the_line_and_keeps_its_tilt():
    """A fit whose up axis is spun 12 degrees about the viewing direction comes back within 1 degree of the true
    axis (the spin is all in-image); the axis's tilt towards the camera is kept, and the result is a rotation."""
    mask, truth = _view(Rotation.from_euler("xyz", (40, 25, 70), degrees=True).as_matrix())
    spun = Rotation.from_rotvec([0.0, 0.0, np.radians(12.0)]).as_matrix() @ truth
    refined = refine_view(spun, mask)
    assert refined.line is not None
    before = np.degrees(np.arccos(np.clip(spun[:, 2] @ truth[:, 2], -1, 1)))
    after = np.degrees(np.arccos(np.clip(refined.rotation[:, 2] @ truth[:, 2], -1, 1)))
    assert before > 8.0 and after < 1.0
    assert refined.rotation[2, 2] == pytest.approx(spun[2, 2], abs=1e-9)
    assert np.allclose(refined.rotation @ refined.rotation.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(refined.rotation) == pytest.approx(1.0)


def test_refine_view_leaves_what_the_silhouette_cannot_tell():
    """An axis nearly along the viewing direction (a round silhouette) and a silhouette without a mirror line
    leave the fit unchanged."""
    end_on = Rotation.from_euler("x", 85, degrees=True).as_matrix()  # the axis towards the camera (+Y in the world)
    mask, object_to_camera = _view(end_on)
    spun = Rotation.from_rotvec([0.0, 0.0, np.radians(12.0)]).as_matrix() @ object_to_camera
    assert refine_view(spun, mask).line is None
    assert np.array_equal(refine_view(spun, mask).rotation, spun)
    corner = np.zeros((64, 64), bool)  # an L with unequal arms: no mirror line (equal ones mirror about the diagonal)
    corner[10:54, 10:22] = corner[42:54, 10:40] = True
    tilted = Rotation.from_euler("xyz", (40, 25, 70), degrees=True).as_matrix()
    assert mirror_line(corner, image_angle_deg(tilted[:, 2])).iou < MIN_MIRROR_IOU
    assert refine_view(tilted, corner).line is None


def test_refine_view_turns_to_a_clearly_better_line_across_the_fit():
    """A bowl's silhouette (flat rim, round bottom) mirrors only about its axis: a fit whose axis lies across it
    (90 degrees off, outside the search window) is turned onto the axis. A bar mirrors about both lines equally, so
    the line within the window stays (a cylinder's second mirror line)."""
    across = Rotation.from_euler("y", 90, degrees=True).as_matrix()  # up axis along the image's +x, no tilt
    ys, xs = np.mgrid[0:64, 0:64] + 0.5
    bowl = ((xs - 32) ** 2 + (ys - 20) ** 2 <= 24 ** 2) & (ys >= 20)
    refined = refine_view(across, bowl)
    assert refined.line is not None and refined.line.iou > 0.95
    assert _angle_between(image_angle_deg(refined.rotation[:, 2]), 0.0, 180.0) < 1.0  # vertical in the image
    assert np.linalg.norm(refined.rotation[:2, 2]) == pytest.approx(1.0)  # still no tilt
    bar = np.pad(np.ones((36, 12), bool), ((14, 14), (26, 26)))
    assert _angle_between(image_angle_deg(refine_view(across, bar).rotation[:, 2]), 90.0, 180.0) < 1.0


def test_minimal_rotation_and_onto_line():
    source, target = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.6, 0.8])
    turn = minimal_rotation(source, target)
    assert np.allclose(turn @ source, target) and np.allclose(turn @ np.cross(source, target), np.cross(source, target))
    line = mirror_line(np.pad(np.ones((20, 8), bool), ((22, 22), (28, 28))), 10.0)  # an upright bar
    assert _angle_between(line.angle_deg, 0.0, 180.0) < 0.5
    assert np.allclose(onto_line(np.array([35.0, 20.0]), line), [32.0, 20.0], atol=1e-6)


@pytest.mark.parametrize("category, corrected", [("vases", True), ("briefcases", False)])
def test_pose_inputs_of_a_vase_use_the_silhouette(monkeypatch, category, corrected):
    """estimate_pose_inputs with a NOCS fit spun 12 degrees in the image: a vase's up axis and the relative
    rotation's image of it come back within 1 degree, and the pivot, fitted 4 px off, within 1 px of where the lines
    cross (the object centre's image: the image centre for this camera); a briefcase (a half-turn symmetry, no
    mirror-line argument) keeps the fits."""
    from eopose.dataset import image_pose
    from eopose.dataset.pose_estimate import ViewPose

    masks, truths = zip(*(_view(Rotation.from_euler("xyz", euler, degrees=True).as_matrix())
                          for euler in ((40, 25, 70), (-30, 50, -20))))
    spin = Rotation.from_rotvec([0.0, 0.0, np.radians(12.0)]).as_matrix()
    fits = iter([spin @ truths[0], spin @ truths[1]])
    monkeypatch.setattr(image_pose, "predict", lambda net, rgba, device, categories=None: (
        np.zeros((2, 64, 64, 3), np.float32), np.stack(masks).astype(np.float32), np.ones((2, 64, 64), np.float32)))
    monkeypatch.setattr(image_pose, "fit_view_pose", lambda nocs, mask, confidence: ViewPose(
        next(fits), 1.0, 100, 100, 1.0, 0.0, True))
    monkeypatch.setattr(image_pose, "fit_pivot", lambda nocs, mask, rotation, weights: np.array([36.0, 32.0]))
    rgba = np.zeros((2, 64, 64, 4), np.uint8)
    rgba[..., 3] = np.stack(masks) * 255
    estimate = image_pose.estimate_pose_inputs(None, rgba[:1], rgba[1:], categories=category)

    def error(axis, truth):
        return np.degrees(np.arccos(np.clip(axis.astype(np.float64) @ truth, -1, 1)))

    up_error = error(estimate["up_axis"][0].numpy(), truths[0][:, 2])
    target_error = error(estimate["rotation"][0].numpy() @ estimate["up_axis"][0].numpy(), truths[1][:, 2])
    line = mirror_line(masks[0], image_angle_deg(truths[0][:, 2]))
    distance = np.abs(onto_line(estimate["pivot"][0].numpy(), line) - estimate["pivot"][0].numpy()).max()
    if corrected:
        assert up_error < 1.0 and target_error < 1.0
        assert np.abs(estimate["pivot"][0].numpy() - 32.0).max() < 1.0
    else:
        assert up_error > 8.0 and target_error > 8.0 and distance > 1.0


def test_centre_on_line_halves_a_fit_error_along_the_axis():
    """An ellipsoid is as long above its centre as below, so its extent's midpoint on the mirror line is near its
    centre's image (the near end looks larger): a fitted centre 4 px along the line and 3 px across comes back on the
    line, within 1 px of 2 px along."""
    mask, object_to_camera = _view(Rotation.from_euler("xyz", (30, 60, 10), degrees=True).as_matrix())
    line = mirror_line(mask, image_angle_deg(object_to_camera @ UP_AXIS))
    along = np.array([np.sin(np.radians(line.angle_deg)), -np.cos(np.radians(line.angle_deg))])
    across = np.array([-along[1], along[0]])
    centre = onto_line(np.array([32.0, 32.0]), line)
    assert np.abs(centre_on_line(centre + 4 * along + 3 * across, mask, line) - (centre + 2 * along)).max() < 1.0


def test_mirror_line_of_a_small_object_in_a_large_picture():
    """A product photo: the same silhouette drawn small, off-centre, in a 512 px frame gives the same line (its box is
    searched, not the frame sampled down) and the centroid in the frame's pixels."""
    mask, object_to_camera = _view(Rotation.from_euler("xyz", (-50, 20, 140), degrees=True).as_matrix())
    truth = image_angle_deg(object_to_camera @ UP_AXIS)
    frame = np.zeros((512, 384), bool)
    frame[300:364, 40:104] = mask
    small, large = mirror_line(mask, truth + 20.0), mirror_line(frame, truth + 20.0)
    assert large.angle_deg == small.angle_deg and large.iou == pytest.approx(small.iou, abs=1e-6)
    assert np.allclose(large.centroid, small.centroid + [40, 300], atol=1e-4)


def test_shared_centre_is_where_the_lines_cross():
    """Two mirror lines through (30, 34) at 60 degrees, each picture's along-line estimate 2 px off: the shared centre
    is within 0.25 px of the crossing. Parallel lines leave it to the along-line estimates (their mean); pictures
    without lines to the plain fits (their mean)."""
    from eopose.dataset.silhouette_axis import MirrorLine
    crossing = np.array([30.0, 34.0])

    def direction(angle):
        return np.array([np.sin(np.radians(angle)), -np.cos(np.radians(angle))])

    def line(angle):
        return MirrorLine(angle, 0.95, crossing + 5.0 * direction(angle))

    crossed = shared_centre([(crossing + 2.0 * direction(10.0), line(10.0)),
                             (crossing - 2.0 * direction(70.0), line(70.0))])
    assert np.abs(crossed - crossing).max() < 0.25
    parallel = shared_centre([(crossing + 2.0 * direction(10.0), line(10.0)),
                              (crossing - 1.0 * direction(10.0), line(10.0))])
    assert np.allclose(parallel, crossing + 0.5 * direction(10.0), atol=1e-6)
    assert np.allclose(shared_centre([(np.array([30.0, 30.0]), None), (np.array([34.0, 36.0]), None)]), [32.0, 33.0])
