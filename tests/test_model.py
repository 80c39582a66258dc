"""Tests of eopose.model: conventions (heatmaps, flow, convex upsampling, TPS), shapes,
gradients, a one-batch overfit, and the VGG19 weight loading."""

import dataclasses
import math

import pytest
import torch

from eopose.dataset.weights import WeightsUnavailable
from eopose.train.config import load_config
from eopose.train.stages import build_stage
from eopose.model.losses import GeneratorLossWeights, object_ssim_loss
from eopose.model import (EOPose, GeneratorLoss, PatchDiscriminator,
                          VGG19Features, VGGLoss, WEIGHTS_FILENAME,
                          WarpLoss, WarpLossWeights, WarpModule, convex_upsample, fit_tps,
                          flow_l1, gaussian_heatmaps, lsgan_d_loss, lsgan_g_loss, pixel_centres,
                          tps_flow, warp)

K = 6  # keypoints in the tiny configurations


def tiny_model(k=K, seed=0):
    torch.manual_seed(seed)  # tiny widths: fix the init so no layer starts all-dead
    return EOPose(num_points=k, warp_channels=4, warp_depth=6, num_flows=4, gen_channels=8,
                  gen_scales=3)


def affine_map(points, height, width, angle_deg=12.0, scale=1.05, shift=(3.0, -2.0)):
    """A rotation+scale about the image centre plus a shift; points [..., 2] pixel (x, y)."""
    a = math.radians(angle_deg)
    rot = scale * torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    centre = torch.tensor([width / 2.0, height / 2.0])
    return (points - centre) @ rot.T + centre + torch.tensor(shift)


def smooth_image(height, width):
    """Low-frequency colour pattern in [0.1, 0.9] (bilinear sampling is nearly exact)."""
    grid = pixel_centres(height, width)
    x, y = grid[:, :1] / width, grid[:, 1:] / height
    return torch.cat([0.5 + 0.4 * torch.sin(2 * math.pi * (1.5 * x + 0.5 * y)),
                      0.5 + 0.4 * torch.cos(2 * math.pi * (1.2 * y - 0.3 * x)),
                      0.5 + 0.3 * torch.sin(4 * math.pi * x * y)], dim=1)


def random_batch(batch, height, width, k=K, seed=0):
    g = torch.Generator().manual_seed(seed)
    size = torch.tensor([width, height], dtype=torch.float32)
    valid = torch.ones(batch, k, dtype=torch.bool)
    valid[0, -1] = False
    return dict(appearance=torch.rand(batch, 3, height, width, generator=g),
                pose=torch.rand(batch, 3, height, width, generator=g),
                target=torch.rand(batch, 3, height, width, generator=g),
                mask_appearance=(torch.rand(batch, 1, height, width, generator=g) > 0.3).float(),
                mask_pose=(torch.rand(batch, 1, height, width, generator=g) > 0.3).float(),
                mask_target=(torch.rand(batch, 1, height, width, generator=g) > 0.3).float(),
                points_a=torch.rand(batch, k, 2, generator=g) * size,
                points_p=torch.rand(batch, k, 2, generator=g) * size, valid=valid)


def run(model, batch, **kwargs):
    return model(batch["appearance"], batch["pose"], batch["points_a"], batch["points_p"], batch["valid"],
                 batch["mask_appearance"], batch["mask_pose"], **kwargs)


@pytest.fixture(scope="module")
def random_vgg():
    with pytest.warns(UserWarning, match="random weights"):
        return VGGLoss(pretrained=False)


# ---------------------------------------------------------------- conventions

def test_heatmaps_peak_at_pixel_centre_order_and_invalid():
    points = torch.tensor([[[10.5, 20.5], [3.0, 4.0], [30.5, 5.5]]])
    valid = torch.tensor([[True, False, True]])
    maps = gaussian_heatmaps(points, valid, 32, 40, sigma=2.0)
    assert maps.shape == (1, 3, 32, 40)
    assert maps[0, 0, 20, 10].item() == pytest.approx(1.0, abs=1e-6)  # (row 20, col 10)
    assert maps[0, 0].argmax().item() == 20 * 40 + 10
    assert maps[0, 2].argmax().item() == 5 * 40 + 30
    assert maps[0, 1].abs().max().item() == 0.0
    # one pixel away: exp(-1 / (2 sigma^2))
    assert maps[0, 0, 20, 11].item() == pytest.approx(math.exp(-1 / 8), rel=1e-5)


def test_warp_zero_flow_is_identity_and_shift_follows_convention():
    image = torch.rand(2, 3, 16, 24)
    assert torch.allclose(warp(image, torch.zeros(2, 2, 16, 24)), image, atol=1e-5)
    flow = torch.zeros(2, 2, 16, 24)
    flow[:, 0] = 2.0  # output pixel p samples the source at p + (2, 0)
    flow[:, 1] = -1.0
    out = warp(image, flow, fill=0.5)
    assert torch.allclose(out[..., 1:, :-2], image[..., :-1, 2:], atol=1e-5)
    assert torch.allclose(out[..., :, -2:], torch.full_like(out[..., :, -2:], 0.5), atol=1e-5)


@pytest.mark.parametrize("factor", [2, 4])
def test_convex_upsampling_of_constant_flow(factor):
    flow = torch.tensor([1.25, -0.5]).view(1, 2, 1, 1).expand(2, 2, 5, 7).contiguous()
    mask = torch.randn(2, 9 * factor * factor, 5, 7)
    up = convex_upsample(flow, mask, factor)
    assert up.shape == (2, 2, 5 * factor, 7 * factor)
    expected = factor * torch.tensor([1.25, -0.5]).view(1, 2, 1, 1)
    assert torch.allclose(up, expected.expand_as(up), atol=1e-5)


# ---------------------------------------------------------------- TPS

def test_tps_interpolates_control_points_exactly_with_zero_lambda():
    g = torch.Generator().manual_seed(1)
    src, dst = torch.rand(2, 9, 2, generator=g) * 2 - 1, torch.rand(2, 9, 2, generator=g) * 2 - 1
    valid = torch.ones(2, 9, dtype=torch.bool)
    weights, affine = fit_tps(src, dst, valid, lam=0.0)
    ones = torch.ones(2, 9, 1, dtype=torch.float64)
    r2 = torch.cdist(src.double(), src.double()) ** 2
    mapped = torch.cat([ones, src.double()], 2) @ affine \
        + (r2 * torch.log(r2.clamp_min(1e-20))) @ weights
    assert torch.allclose(mapped, dst.double(), atol=1e-8)
    # the dense flow at pose points sitting on pixel centres is exactly Pa - Pp
    height, width = 32, 48
    cols, rows = torch.tensor([[3, 40, 20, 7, 31]]), torch.tensor([[5, 2, 16, 28, 22]])
    points_p = torch.stack([cols + 0.5, rows + 0.5], dim=-1).float()
    points_a = points_p + torch.randn(1, 5, 2, generator=g) * 3
    flow = tps_flow(points_a, points_p, torch.ones(1, 5, dtype=torch.bool), height, width, lam=0.0)
    assert torch.allclose(flow[0, :, rows[0], cols[0]].T, points_a[0] - points_p[0], atol=1e-4)
    # regularisation trades exactness for smoothness
    smooth = tps_flow(points_a, points_p, torch.ones(1, 5, dtype=torch.bool), height, width, lam=1.0)
    assert (smooth[0, :, rows[0], cols[0]].T - (points_a[0] - points_p[0])).abs().max() > 1e-2


def test_tps_flow_reproduces_a_known_affine_warp():
    height, width = 48, 64
    g = torch.Generator().manual_seed(2)
    points_p = torch.rand(1, 12, 2, generator=g) * torch.tensor([width - 8.0, height - 8.0]) + 4
    points_a = affine_map(points_p, height, width)
    valid = torch.ones(1, 12, dtype=torch.bool)
    # invalid garbage points must not change the fit
    points_p = torch.cat([points_p, torch.full((1, 3, 2), 7.0)], 1)
    points_a = torch.cat([points_a, torch.full((1, 3, 2), 50.0)], 1)
    valid = torch.cat([valid, torch.zeros(1, 3, dtype=torch.bool)], 1)
    flow = tps_flow(points_a, points_p, valid, height, width, lam=0.0)
    grid = pixel_centres(height, width)
    expected = affine_map(grid[0].permute(1, 2, 0), height, width).permute(2, 0, 1) - grid[0]
    assert torch.allclose(flow[0], expected, atol=1e-3)
    # the warped image at output pixel p shows the source content at T(p)
    image = smooth_image(height, width)
    warped = warp(image, flow)
    mapped = grid[0] + flow[0]
    x, y = mapped[0] / width, mapped[1] / height
    analytic = 0.5 + 0.4 * torch.sin(2 * math.pi * (1.5 * x + 0.5 * y))
    inside = (mapped[0] > 1) & (mapped[0] < width - 1) & (mapped[1] > 1) & (mapped[1] < height - 1)
    assert inside.float().mean() > 0.7
    assert (warped[0, 0] - analytic)[inside].abs().max() < 0.01


def test_tps_falls_back_to_translation_with_fewer_than_three_points():
    points_p = torch.tensor([[[10.0, 10.0], [20.0, 5.0], [0.0, 0.0]]]).repeat(2, 1, 1)
    points_a = points_p + torch.tensor([[4.0, -2.0], [2.0, 0.0], [9.0, 9.0]])
    valid = torch.tensor([[True, True, False], [False, False, False]])
    flow = tps_flow(points_a, points_p, valid, 16, 32)
    assert torch.allclose(flow[0], torch.tensor([3.0, -1.0]).view(2, 1, 1).expand(2, 16, 32))
    assert flow[1].abs().max() == 0


# ---------------------------------------------------------------- network

@pytest.mark.parametrize("height,width", [(64, 64), (64, 128), (128, 128)])
def test_output_shapes(height, width):
    model = tiny_model()
    batch = random_batch(2, height, width)
    with torch.no_grad():
        out = model(batch["appearance"], batch["pose"], batch["points_a"], batch["points_p"],
                    batch["valid"])  # no masks: the model takes the pixels differing from the background
    assert len(out.warp.flows) == len(out.warp.warped) == 4
    for level, (flow, native, image) in enumerate(zip(out.warp.flows, out.warp.native_flows, out.warp.warped)):
        assert flow.shape == (2, 2, height, width)
        assert image.shape == (2, 3, height, width)
        factor = 2 ** (3 - level)
        assert native.shape == (2, 2, height // factor, width // factor)
    assert out.output.shape == (2, 3, height, width)
    assert 0 <= out.output.min() and out.output.max() <= 1
    assert out.heatmaps_a.shape == (2, K, height, width)
    assert out.heatmaps_a[0, -1].abs().max() == 0  # invalid point -> empty channel
    disc = PatchDiscriminator(K, base_channels=4)
    assert disc(out.output, out.heatmaps_p).shape[:2] == (2, 1)


def test_default_configuration_extends_the_paper_input():
    warp_module = WarpModule()  # k = 35, 12-layer Skip-UNet
    # the paper's 76 channels (Ia, H(Pa), Ip, H(Pp)) + both masks + TPS prior flow, warped Ia and warped mask
    assert warp_module.unet.stem[0].in_channels == 76 + 2 + 2 + 3 + 1
    assert len(warp_module.unet.down) + len(warp_module.unet.up) == 12


def test_untrained_model_warps_like_tps_and_generator_returns_its_warp():
    model = tiny_model()
    batch = random_batch(2, 64, 64)
    with torch.no_grad():
        out = run(model, batch)
    assert torch.equal(out.flow, out.warp.prior)  # zero-initialised residual heads: exactly the TPS flow
    assert out.warp.prior.abs().max() > 1  # ... which is not the identity
    assert torch.equal(out.output, out.composed)  # zero-initialised residual: an untrained EOPose == its warp
    tps_image = warp(batch["appearance"], out.warp.prior, fill=1.0)
    assert torch.equal(out.warp.warped[-1], tps_image)


def test_a_silhouette_gated_generator_redraws_only_inside_the_silhouette():
    from eopose.model.generator import Generator
    g = torch.Generator().manual_seed(3)
    warped, visibility = torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 1, 16, 16, generator=g)
    silhouette = torch.zeros(2, 1, 16, 16)
    silhouette[:, :, 4:12, 4:12] = 1.0
    silhouette[:, :, 4:12, 2:4] = 0.5
    heatmaps = torch.rand(2, K, 16, 16, generator=g)
    outputs = {}
    for gated in (False, True):
        torch.manual_seed(0)
        generator = Generator(K, 8, 2, silhouette_gate=gated)
        with torch.no_grad():  # non-zero tRGB convs: a residual to draw
            for block in generator.blocks:
                block.to_rgb.weight.normal_(0, 0.5)
            outputs[gated] = generator(warped, silhouette, visibility, heatmaps, heatmaps)
    residual = {gated: out - warped for gated, out in outputs.items()}
    outside = (silhouette == 0).expand_as(warped)
    assert residual[False][outside].abs().max() > 1e-3  # ungated: drawn everywhere
    assert torch.equal(outputs[True][outside], warped[outside])  # gated: Iwrp kept outside the silhouette
    inside = (silhouette == 1).expand_as(warped)
    assert torch.allclose(residual[True][inside], residual[False][inside], atol=1e-6)
    half = (silhouette == 0.5).expand_as(warped)
    assert torch.allclose(residual[True][half], 0.5 * residual[False][half], atol=1e-6)


def test_a_state_dict_saved_under_the_old_head_names_loads():
    trained = tiny_model(seed=1)
    with torch.no_grad():  # non-zero heads, so a head left at its init would change the output
        for param in trained.warp.parameters():
            param.add_(0.05 * torch.randn_like(param))
    old_names = {}
    for key, value in trained.state_dict().items():
        key = key.replace("warp.shape_heads.", "warp.mask_heads.").replace(".upsample_head.", ".mask_head.")
        old_names[key] = value
    assert "warp.mask_heads.0.0.weight" in old_names and "warp.levels.1.mask_head.0.weight" in old_names
    loaded = tiny_model(seed=2)
    loaded.load_state_dict(old_names)  # strict: every renamed key found its parameter
    batch = random_batch(1, 64, 64)
    with torch.no_grad():
        assert torch.equal(run(loaded, batch).composed, run(trained, batch).composed)


def test_composition_uses_silhouette_visibility_and_fill():
    from eopose.model.warp_module import compose, mean_colour
    warped = torch.full((1, 3, 4, 4), 0.2)
    appearance = torch.zeros(1, 3, 4, 4)
    appearance[..., :2] = 0.6
    mask_a = torch.zeros(1, 1, 4, 4)
    mask_a[..., :2] = 1.0
    silhouette = torch.zeros(1, 1, 4, 4)
    silhouette[..., 1:] = 1.0
    visibility = torch.zeros(1, 1, 4, 4)
    visibility[..., 2:] = 1.0
    image = compose(warped, mean_colour(appearance, mask_a), silhouette, visibility, background=1.0)
    assert torch.allclose(image[..., 0], torch.tensor(1.0))  # outside the silhouette: background
    assert torch.allclose(image[..., 1], torch.tensor(0.6))  # inside, occluded: Ia's mean foreground colour
    assert torch.allclose(image[..., 2:], torch.tensor(0.2))  # inside, visible: the warp


def test_warp_samples_at_fp32_positions_under_autocast():
    """At 256 px a bf16 grid rounds coordinates above 128 to whole pixels; flows and sampling stay float32."""
    torch.manual_seed(0)
    model = EOPose(num_points=K, warp_channels=4, warp_depth=4, num_flows=2, gen_channels=4, gen_scales=2)
    batch = random_batch(1, 256, 256)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = run(model, batch, with_generator=False)
    assert out.flow.dtype == torch.float32 and out.warp.warped[-1].dtype == torch.float32
    with torch.no_grad():
        reference = warp(batch["appearance"], out.flow, fill=1.0)
    assert (out.warp.warped[-1] - reference).abs().max() < 1e-5


def _assert_all_grads(module):
    missing = [n for n, p in module.named_parameters()
               if p.grad is None or not torch.isfinite(p.grad).all() or p.grad.abs().sum() == 0]
    assert not missing, missing


def trained_looking(model):
    """The model with its zero-initialised parts (residual flow heads, mask heads, tRGB convs) moved off
    zero, as after a first optimiser step: at exactly zero they block the gradient of what feeds them."""
    with torch.no_grad():
        for parameter in model.parameters():
            if not parameter.any():
                parameter.normal_(0.0, 0.05).abs_()
    return model


def test_every_warp_parameter_gets_a_gradient(random_vgg):
    model = trained_looking(tiny_model())
    batch = random_batch(2, 64, 64)
    out = run(model, batch, with_generator=False)
    batch["flow_gt"] = torch.randn(2, 2, 64, 64)
    batch["flow_valid"] = (torch.rand(2, 1, 64, 64) > 0.5).float()
    total, terms = WarpLoss(random_vgg)(out.warp, batch)
    assert set(terms) == {"l1", "perceptual", "style", "tv", "tps", "flow_gt", "image", "silhouette",
                          "visibility"}
    total.backward()
    _assert_all_grads(model.warp)
    assert all(p.grad is None for p in model.generator.parameters())


def test_every_generator_and_discriminator_parameter_gets_a_gradient(random_vgg):
    model = trained_looking(tiny_model())
    build_stage(load_config("tiny"), "gen").set_trainable(model)
    disc = PatchDiscriminator(K, base_channels=4)
    batch = random_batch(2, 64, 64)
    out = run(model, batch)
    total, terms = GeneratorLoss(random_vgg)(out.output, batch["target"],
                                             disc(out.output, out.heatmaps_p))
    assert set(terms) == {"l1", "perceptual", "style", "adv"}
    total.backward()
    _assert_all_grads(model.generator)
    assert all(p.grad is None for p in model.warp.parameters())
    disc.zero_grad()
    d_loss = lsgan_d_loss(disc(batch["target"], out.heatmaps_p),
                          disc(out.output.detach(), out.heatmaps_p))
    d_loss.backward()
    _assert_all_grads(disc)


def test_object_terms_score_only_the_object_and_need_its_mask():
    torch.manual_seed(0)
    target = torch.ones(2, 3, 32, 32)
    target[..., 8:24, 8:24] = torch.rand(2, 3, 16, 16)  # a textured object on a white background
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1.0
    assert object_ssim_loss(target, target, mask).item() == pytest.approx(0.0, abs=1e-6)
    far_off = target.clone()
    far_off[..., :1, :] = 0.0  # background pixels beyond the 2 px dilation plus the 5 px SSIM window
    assert object_ssim_loss(far_off, target, mask).item() == pytest.approx(0.0, abs=1e-6)
    flat = target.clone()
    flat[..., 8:24, 8:24] = target[..., 8:24, 8:24].mean()  # the object's texture averaged away
    assert object_ssim_loss(flat, target, mask).item() > 0.4
    weights = GeneratorLossWeights(perceptual=0.0, style=0.0, object_l1=1.0, object_ssim=1.0)
    total, terms = GeneratorLoss(None, weights)(flat, target, mask_target=mask)
    inside = (flat - target).abs()[..., 8:24, 8:24].mean()
    assert terms["object_l1"].item() == pytest.approx(inside.item(), rel=1e-5)
    assert terms["l1"].item() == pytest.approx(inside.item() / 4, rel=1e-5)  # the object is a quarter of the frame
    with pytest.raises(ValueError, match="target mask"):
        GeneratorLoss(None, weights)(flat, target)


def test_learning_rate_warms_up_at_the_start_of_every_stage():
    config = load_config("tiny")
    config = dataclasses.replace(config, optim=dataclasses.replace(config.optim, lr=1e-3, warmup_steps=4))
    for name in ("warp", "gen", "e2e"):
        rates = [build_stage(config, name).learning_rate(step) for step in range(6)]
        assert rates == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])
    plain = dataclasses.replace(config, optim=dataclasses.replace(config.optim, warmup_steps=0))
    assert build_stage(plain, "e2e").learning_rate(0) == 1e-3


def test_stages_and_lsgan_values():
    model, config = tiny_model(), load_config("tiny")
    assert {id(p) for p in build_stage(config, "warp").set_trainable(model)} == \
        {id(p) for p in model.warp.parameters()}
    assert {id(p) for p in build_stage(config, "gen").set_trainable(model)} == \
        {id(p) for p in model.generator.parameters()}
    assert len(build_stage(config, "e2e").set_trainable(model)) == len(list(model.parameters()))
    with pytest.raises(ValueError):
        build_stage(config, "both")
    ones, zeros = torch.ones(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    assert lsgan_d_loss(ones, zeros).item() == 0.0
    assert lsgan_d_loss(zeros, ones).item() == pytest.approx(1.0)
    assert lsgan_g_loss(ones).item() == 0.0 and lsgan_g_loss(zeros).item() == pytest.approx(0.5)


def test_flow_gt_loss_counts_only_valid_pixels():
    flow = torch.zeros(1, 2, 8, 8)
    gt = torch.zeros(1, 2, 8, 8)
    gt[..., :4] = 5.0  # wrong only where invalid
    valid = torch.zeros(1, 1, 8, 8)
    valid[..., 4:] = 1.0
    assert flow_l1(flow, gt, valid).item() == 0.0
    gt[0, 0, :, 4:] = 4.0  # 4 px in x on every valid pixel = 1.0 grid unit at width 8
    assert flow_l1(flow, gt, valid).item() == pytest.approx(0.5)


def test_overfitting_one_batch_improves_on_a_poor_tps_start():
    """Keypoints with 4 px noise give a poor TPS prior; the residual flow learns the true warp from the
    ground-truth flow and the visible-pixel photometric loss."""
    torch.manual_seed(0)
    height = width = 64
    grid = pixel_centres(height, width)
    true_flow = affine_map(grid[0].permute(1, 2, 0), height, width).permute(2, 0, 1)[None] - grid
    appearance = smooth_image(height, width)
    target = warp(appearance, true_flow, fill=1.0)
    points_p = torch.rand(1, 8, 2) * (width - 16) + 8
    points_a = affine_map(points_p, height, width) + 4 * torch.randn(1, 8, 2)
    valid = torch.ones(1, 8, dtype=torch.bool)
    ones = torch.ones(1, 1, height, width)
    batch = {"target": target, "mask_target": ones, "flow_gt": true_flow, "flow_valid": ones}
    warp_module = WarpModule(num_points=8, base_channels=8, depth=4, num_flows=4)
    loss = WarpLoss(None, WarpLossWeights(perceptual=0.0, style=0.0, tps=0.0))
    hm_a, hm_p = (gaussian_heatmaps(p, valid, height, width) for p in (points_a, points_p))
    prior = tps_flow(points_a, points_p, valid, height, width, 1e-2)
    optimiser = torch.optim.Adam(warp_module.parameters(), lr=2e-3)

    def forward():
        return warp_module(appearance, target, hm_a, hm_p, ones, ones, prior)

    def final_l1():
        with torch.no_grad():
            return (forward().warped[-1] - target).abs().mean().item()

    before = final_l1()
    for _ in range(150):
        total, _ = loss(forward(), batch)
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
    after = final_l1()
    assert after * 3 < before, (before, after)


# ---------------------------------------------------------------- VGG weights

def test_vgg_without_weights_offline_raises_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise OSError("network blocked in test")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(WeightsUnavailable) as info:
        VGG19Features(["relu1_1"])
    message = str(info.value)
    assert "--vgg-weights PATH" in message and WEIGHTS_FILENAME in message
    assert str(tmp_path / "hub" / "checkpoints") in message and "\n" not in message
    with pytest.raises(WeightsUnavailable, match="not found"):
        VGG19Features(["relu1_1"], weights_path=tmp_path / "missing.pth")


def test_vgg_loads_a_local_state_dict(tmp_path):
    from torchvision.models import vgg19

    reference = vgg19(weights=None)
    path = tmp_path / WEIGHTS_FILENAME
    torch.save(reference.state_dict(), path)
    try:
        features = VGG19Features(["relu2_2", "relu1_1"], weights_path=path)
    finally:
        path.unlink()  # 550 MB: do not leave it in pytest's kept tmp dirs
    assert torch.equal(features.features[0].weight, reference.features[0].weight)
    out = features(torch.rand(1, 3, 32, 32))
    assert out["relu1_1"].shape == (1, 64, 32, 32) and out["relu2_2"].shape == (1, 128, 16, 16)
    assert not any(p.requires_grad for p in features.parameters())
    features.train()
    assert not features.features.training
