"""The volume3d warp's geometry (eopose.model.volume_warp): turning a volume, the rotation read from a shard against
the exact flow, rendering Ia's own silhouette, flips of rotated samples, and the symmetric hull prior."""
import math

import numpy as np
import torch

from eopose.dataset.geometry import ground_truth_flow, pivot_pixel, relative_rotation
from eopose.dataset.shard_format import SAMPLE_VIEWS, QuadDataset
from eopose.model.loading import ModelConfig, build_model
from eopose.model.volume_warp import axis_rotations, rotate_volume, source_coordinates, symmetric_hull, turn_points
from eopose.train.augment import flip_samples

ORTHOGRAPHIC = torch.tensor([1e6])  # a camera this far away projects orthographically


def _rotation_y(degrees: float) -> torch.Tensor:
    angle = math.radians(degrees)
    return torch.tensor([[math.cos(angle), 0.0, math.sin(angle)], [0.0, 1.0, 0.0],
                         [-math.sin(angle), 0.0, math.cos(angle)]])


def test_identity_rotation_leaves_a_volume_unchanged():
    volume = torch.rand(2, 3, 8, 10, 10)
    coords = source_coordinates(torch.eye(3).expand(2, 3, 3), torch.zeros(2, 2), torch.tensor([3.2, 3.2]), 10, 8)
    assert torch.allclose(rotate_volume(volume, coords), volume, atol=1e-5)


def test_quarter_turn_moves_a_voxel_where_expected():
    # 9 voxels per axis: centres (2i + 1) / 9 - 1, index 4 at 0 and index 7 at +2/3. A quarter turn about the
    # camera's y axis (x' = z, z' = -x) takes the point (x, z) = (2/3, 0) to (0, -2/3): index x 4, depth 1.
    volume = torch.zeros(1, 1, 9, 9, 9)
    volume[0, 0, 4, 4, 7] = 1.0  # [depth, y, x]
    coords = source_coordinates(_rotation_y(90)[None], torch.zeros(1, 2), ORTHOGRAPHIC, 9, 9)
    turned = rotate_volume(volume, coords)[0, 0]
    assert turned.argmax().item() == np.ravel_multi_index((1, 4, 4), (9, 9, 9))
    assert turned.max().item() > 0.99 and turned.sum().item() < 1.01


def test_turned_volume_keeps_a_voxel_at_the_pivot():
    volume = torch.zeros(1, 1, 9, 9, 9)
    volume[0, 0, 4, 2, 6] = 1.0  # the voxel at (x, y, z) = (4/9, -4/9, 0): the pivot
    pivot = torch.tensor([[4 / 9, -4 / 9]])
    coords = source_coordinates(_rotation_y(37)[None], pivot, torch.tensor([3.2]), 9, 9)
    assert rotate_volume(volume, coords)[0, 0, 4, 2, 6].item() > 0.99


def test_shard_rotation_maps_target_pixels_onto_the_exact_flow(synthetic_dataset):
    """Each visible target pixel, lifted to 3-D with the target's rendered depth and turned back by the shard's
    relative rotation about the pivot, lands where the exact (NOCS-based) flow says, within 0.1 px."""
    data = QuadDataset(synthetic_dataset)
    checked = 0
    for quad in range(3):
        record = data.read(quad, ["mask", "depth", "nocs", "nocs_to_object", "rotations", "intrinsics", "extrinsics"])
        focal, centre_depth = float(record["intrinsics"][0, 0]), float(record["extrinsics"][2, 3])
        for sample, (appearance, _, target) in enumerate(SAMPLE_VIEWS):
            flow, valid = ground_truth_flow(record, appearance, target)
            height, width = valid.shape
            rows, cols = np.nonzero(valid)
            half_width_depth = centre_depth * (width / 2) / focal
            points = np.stack([(cols + 0.5) / (width / 2) - 1, (rows + 0.5) / (height / 2) - 1,
                               (record["depth"][target][rows, cols] - centre_depth) / half_width_depth], axis=-1)
            pivot = 2 * pivot_pixel(record) / np.array([width, height]) - 1
            source = turn_points(torch.from_numpy(points)[None], torch.from_numpy(relative_rotation(record, appearance,
                                                                                                     target))[None],
                                 torch.from_numpy(pivot)[None], torch.tensor([2 * focal / width]))[0].numpy()
            landed = (source[:, :2] + 1) * np.array([width, height]) / 2
            expected = np.stack([cols + 0.5 + flow[0, rows, cols], rows + 0.5 + flow[1, rows, cols]], axis=-1)
            assert np.abs(landed - expected).max() < 0.1
            checked += len(rows)
    assert checked > 1000


def _volume_model():
    config = ModelConfig(num_points=4, warp="volume3d", warp_channels=8, warp_depth=2, gen_channels=8, gen_scales=2,
                         volume_channels=4, volume_size=16, depth_bins=16)
    torch.manual_seed(0)
    return build_model(config, (1.0, 1.0, 1.0))


def _disc_batch(offset: float = 0.0):
    """A white image with a grey disc of radius 10 px centred `offset` px right of the centre, 32x32."""
    ys, xs = torch.meshgrid(torch.arange(32) + 0.5, torch.arange(32) + 0.5, indexing="ij")
    mask = (((xs - 16 - offset) ** 2 + (ys - 16) ** 2) < 100).float()[None, None]
    image = 1 - 0.6 * mask.expand(1, 3, 32, 32)
    return image, mask


def test_untrained_volume_renders_the_appearance_silhouette_at_identity():
    model = _volume_model().eval()
    image, mask = _disc_batch()
    points = torch.full((1, 4, 2), 16.0)
    with torch.no_grad():
        out = model(image, image, points, points, torch.ones(1, 4, dtype=torch.bool), mask, mask,
                    with_generator=False, rotation=torch.eye(3)[None], pivot=torch.tensor([[16.0, 16.0]]),
                    camera_depth=torch.tensor([3.2]))
    for silhouette in (out.warp.shape.silhouette, out.warp.shape.own_silhouette, out.warp.silhouette):
        inter = ((silhouette > 0.5) & (mask > 0.5)).sum().item()
        union = ((silhouette > 0.5) | (mask > 0.5)).sum().item()
        assert inter / union > 0.9
    assert out.flow[:, :, mask[0, 0] > 0.5].abs().max() < 0.5  # identity: every object pixel comes from itself


def test_flipping_a_rotated_sample_mirrors_the_rendered_flow():
    model = _volume_model().eval()
    image, mask = _disc_batch(offset=4.0)
    rotation, pivot = _rotation_y(40)[None], torch.tensor([[20.0, 16.0]])
    points = torch.full((1, 4, 2), 16.0)
    batch = {"appearance": image, "pose": image, "mask_appearance": mask, "mask_pose": mask, "rotation": rotation,
             "pivot": pivot, "points_a": points, "points_p": points}
    flipped = flip_samples(batch, torch.tensor([True]))

    def flow(b):
        with torch.no_grad():
            return model(b["appearance"], b["pose"], b["points_a"], b["points_p"], torch.ones(1, 4, dtype=torch.bool),
                         b["mask_appearance"], b["mask_pose"], with_generator=False, rotation=b["rotation"],
                         pivot=b["pivot"], camera_depth=torch.tensor([3.2])).warp.prior
    direct, mirrored = flow(batch), flow(flipped)
    expected = direct.flip(-1) * torch.tensor([-1.0, 1.0]).view(1, 2, 1, 1)
    inside = (mask.flip(-1) > 0.5).expand(1, 2, 32, 32)
    assert direct[:, 0].abs().max() > 1.0  # the turn moves pixels
    assert (mirrored - expected)[inside].abs().max() < 0.5


def _upright_cylinder_mask(size: int = 32) -> torch.Tensor:
    """[1, 1, size, size]: the side view of an upright cylinder, a rectangle 16 px wide and 20 px tall, centred."""
    mask = torch.zeros(1, 1, size, size)
    mask[..., 6:26, 8:24] = 1.0
    return mask


def test_continuous_symmetric_hull_is_the_body_of_revolution_inscribed_in_the_silhouette():
    """Seen from the side, an upright cylinder's silhouette is a rectangle; with the vertical image axis as its up
    axis and a continuous symmetry, the hull is a cylinder whose depth extent at the centre column equals its
    width, while without symmetry it is the whole cone (every depth)."""
    mask, size, bins = _upright_cylinder_mask(), 32, 32
    up = torch.tensor([[0.0, -1.0, 0.0]])  # camera frame: y points down
    args = (mask, torch.zeros(1, 2), ORTHOGRAPHIC, up)
    revolved = symmetric_hull(*args, torch.tensor([0]), size, bins)[0, 0]
    plain = symmetric_hull(*args, torch.tensor([1]), size, bins)[0, 0]
    depth_extent = (revolved[:, 16, 15:17].mean(dim=1) > 0.5).sum().item() * 2 / bins  # grid units
    assert abs(depth_extent - 16 * 2 / size) <= 2 * 2 / bins  # the width, 1.0 grid units, within two bins
    assert (plain[:, 16, 16] > 0.5).all()  # no symmetry: the ray is inside the hull at every depth
    x = (2 * 9 + 1) / size - 1  # column 9, near the silhouette's edge: a chord 2 sqrt(r^2 - x^2) of the circle
    chord_bins = 2 * math.sqrt(0.5 ** 2 - x ** 2) / (2 / bins)
    assert abs((revolved[:, 16, 9] > 0.5).sum().item() - chord_bins) <= 2
    # a quarter turn about the up axis leaves a body of revolution's silhouette unchanged
    coords = source_coordinates(_rotation_y(90)[None], torch.zeros(1, 2), ORTHOGRAPHIC, size, bins)
    turned = rotate_volume(revolved[None, None].clamp(0, 0.999), coords)
    silhouette = 1 - torch.prod(1 - turned, dim=2)[0, 0]
    inter = ((silhouette > 0.5) & (mask[0, 0] > 0.5)).sum().item()
    assert inter / ((silhouette > 0.5) | (mask[0, 0] > 0.5)).sum().item() > 0.9


def test_half_turn_symmetric_hull_carves_an_oblique_view():
    """Order 2: the cone of a view intersected with its half turn about an up axis tilted towards the camera is
    bounded in depth, where the plain cone is not; the half turn of the hull is the hull itself."""
    mask, bins = _upright_cylinder_mask(), 32
    up = torch.nn.functional.normalize(torch.tensor([[0.0, -1.0, -1.0]]), dim=1)  # tilted 45 degrees
    hull = symmetric_hull(mask, torch.zeros(1, 2), ORTHOGRAPHIC, up, torch.tensor([2]), 32, bins)[0, 0]
    assert (hull[:, 16, 16] > 0.5).sum().item() < 0.75 * bins
    half_turn = axis_rotations(up, torch.tensor([[math.pi]]))[:, 0]
    coords = source_coordinates(half_turn, torch.zeros(1, 2), ORTHOGRAPHIC, 32, bins)
    turned = rotate_volume(hull[None, None], coords)[0, 0]
    assert ((turned > 0.5) != (hull > 0.5)).float().mean().item() < 0.02


def test_a_batch_of_mixed_symmetries_gives_each_sample_its_own_hull():
    """A batch samples as many turns as its largest group needs; a sample of a smaller group repeats its own turns,
    so its hull is exactly the one it gets alone."""
    mask, bins = _upright_cylinder_mask(), 16
    up = torch.nn.functional.normalize(torch.tensor([[0.0, -1.0, -0.5], [0.3, -1.0, 0.4], [0.0, -1.0, 0.0]]), dim=1)
    orders = torch.tensor([0, 2, 1])
    args = (mask.expand(3, -1, -1, -1), torch.zeros(3, 2), ORTHOGRAPHIC.expand(3), up)
    together = symmetric_hull(*args, orders, 32, bins)
    for index in range(3):
        alone = symmetric_hull(*(arg[index:index + 1] for arg in args), orders[index:index + 1], 32, bins)
        assert torch.equal(together[index:index + 1], alone)
    assert not torch.equal(together[0], together[1])  # the groups differ
