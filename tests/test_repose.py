"""repose: non-square RGB without alpha (border-estimated foreground), alpha images, the CSV/folder batch
forms, keypoints from a randomly initialised ViT-S/8 given as a local weights file, the offline error, and the
inputs it refuses (tiny, empty, too few keypoints) or warns about (few or bunched keypoints), and the framing
that zooms in on small objects."""

import numpy as np
import pytest
import torch
from PIL import Image

from eopose.dataset import open_dataset
from eopose.dataset import weights as weight_sources
from eopose.dataset.clutter import busy_background
from eopose.dataset.compositing import opaque
from eopose.dataset.keypoints.backbones import PRESETS, load_vit
from eopose.dataset.keypoints import nocs_net as nocs_net_module
from eopose.dataset.keypoints.nocs_net import NocsNet, NocsNetConfig, checkpoint_payload
from eopose.dataset.synthetic import write_synthetic_dataset
from eopose.train.checkpoint import save_checkpoint
from eopose.train.config import load_config
from eopose.train.inference import repose as repose_module
from eopose.train.inference.repose import (ReposeError, estimate_foreground, load_rgba, plain_background,
                                           with_foreground)
from eopose.train.inference.cli import main as repose_main
from eopose.model.loading import build_model

GREY = (90, 110, 130)


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """A tiny checkpoint in train-eopose's format (repose needs its format, not its quality: test_eval trains
    one), a randomly initialised ViT-S/8 saved as a local weights file, and images from analytic renders."""
    root = tmp_path_factory.mktemp("repose")
    config = load_config("tiny")
    torch.manual_seed(0)
    checkpoint = save_checkpoint(root / "final.pt", {"model": build_model(config.model, config.data.background).state_dict(),
                                                     "config": config.to_dict(), "stages": ["warp", "gen", "e2e"],
                                                     "progress": {}})
    from safetensors.torch import save_file
    weights = root / "vits8-random.safetensors"
    vit = load_vit(PRESETS["amir-vits8"].model, pretrained=False)
    save_file({name: value.contiguous() for name, value in vit.state_dict().items()}, weights)
    nocs_net = save_checkpoint(root / "nocs-net.pt", checkpoint_payload(NocsNet(NocsNetConfig(channels=(8, 16, 32)))))
    views = open_dataset(write_synthetic_dataset(root / "data", quads=1, resolution=64)).read(0, ("rgba",))["rgba"]
    alpha = views[..., 3:].astype(np.float32) / 255
    on_grey = np.round(views[..., :3] * alpha + np.array(GREY) * (1 - alpha)).astype(np.uint8)
    wide = np.zeros((64, 100, 3), np.uint8) + np.array(GREY, np.uint8)  # non-square, plain background, no alpha
    wide[:, 18:82] = on_grey[0]
    Image.fromarray(wide).save(root / "appearance.png")
    Image.fromarray(on_grey[3][8:56]).save(root / "pose.png")  # 64 x 48, the other way round
    Image.fromarray(views[1]).save(root / "pose-alpha.png")  # RGBA with transparency
    return {"root": root, "checkpoint": checkpoint, "weights": weights, "nocs_net": nocs_net}


def _common(assets):
    return ["--checkpoint", str(assets["checkpoint"]), "--method", "dino", "--weights", str(assets["weights"]),
            "--load-size", "48"]


def test_plain_background_foreground_with_filled_holes():
    image = np.zeros((30, 40, 3), np.uint8) + 200
    image[5:25, 10:30] = (20, 40, 60)
    image[12:18, 17:23] = 200  # object pixels that happen to have the background colour
    mask = estimate_foreground(image)
    expected = np.zeros((30, 40), bool)
    expected[5:25, 10:30] = True
    assert np.array_equal(mask, expected)


def test_opaque_arrays_get_the_border_estimate_like_files():
    """Reposer takes arrays too: a fully opaque one is treated as an image file without alpha (the border estimate),
    an alpha with any transparency is kept, and one plain colour is refused naming the picture."""
    image = np.zeros((30, 40, 4), np.uint8) + 255
    image[..., :3] = 200
    image[5:25, 10:30, :3] = (20, 40, 60)
    rgba, how = with_foreground(image, "pose.png")
    assert how == "border estimate" and np.array_equal(rgba[..., 3] > 0, estimate_foreground(image[..., :3]))
    assert int((rgba[..., 3] > 0).sum()) == 20 * 20
    cut_out = image.copy()
    cut_out[..., 3] = 0
    cut_out[0:3, 0:3, 3] = 255
    assert with_foreground(cut_out, "a.png")[1] == "alpha" and np.array_equal(with_foreground(cut_out, "a.png")[0],
                                                                               cut_out)
    with pytest.raises(ReposeError, match="pose.png: no foreground found"):
        with_foreground(np.full((30, 40, 4), 255, np.uint8), "pose.png")


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_pictures_stored_turned_are_read_upright(tmp_path, suffix):
    """A phone saves a portrait photo as landscape pixels with EXIF Orientation 6 (turn 90 degrees clockwise to show);
    repose reads it as a viewer shows it: upright, the object's top at the top."""
    upright = np.full((48, 32, 3), 230, np.uint8)
    upright[4:20, 8:24] = (200, 30, 30)  # the object's top: red, in the upper half
    upright[20:44, 8:24] = (30, 30, 200)
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # 32 x 48 stored, top to the left
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / f"portrait{suffix}"
    stored.save(path, exif=exif, **({"quality": 95} if suffix == ".jpg" else {}))
    rgba, how = load_rgba(path)
    assert how == "border estimate" and rgba.shape == (48, 32, 4)
    assert rgba[10, 16, 0] > 150 > rgba[10, 16, 2] and rgba[35, 16, 2] > 150 > rgba[35, 16, 0]
    assert rgba[..., 3][4:44, 8:24].all() and not rgba[..., 3][:, :6].any()


def _on_clutter(index: int = 0) -> np.ndarray:
    """A 48 x 64 picture of a dark square on the benchmarks' clutter (eopose.dataset.clutter)."""
    rgb = np.round(busy_background(0, index, 64)[:48] * 255).astype(np.uint8)
    rgb[10:30, 20:40] = (20, 40, 60)
    return rgb


def _network_seeing(everything: bool) -> NocsNet:
    """A nocs-net whose foreground logit is +10 (or -10) at every pixel of any picture."""
    net = NocsNet(NocsNetConfig(channels=(8, 16, 32)))
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.zero_()
        net.head.bias[3] = 10.0 if everything else -10.0
    return net.eval()


def test_busy_backgrounds_take_nocs_nets_foreground_or_are_refused_in_one_line():
    """A plain background keeps the border estimate (the network is not asked); on clutter the border says nothing,
    so the object is the foreground nocs-net predicts, and without a nocs-net the picture is refused naming it."""
    plain = np.full((48, 64, 3), 200, np.uint8)
    plain[10:30, 20:40] = (20, 40, 60)
    busy = _on_clutter()
    assert plain_background(plain) and not plain_background(busy)
    rgba, how = with_foreground(opaque(plain), "plain.png", _network_seeing(True))
    assert how == "border estimate" and int((rgba[..., 3] > 0).sum()) == 20 * 20
    rgba, how = with_foreground(opaque(busy), "busy.png", _network_seeing(True))
    assert how == "nocs-net foreground" and rgba[..., 3].min() == 255 and np.array_equal(rgba[..., :3], busy)
    with pytest.raises(ReposeError, match=r"^busy.png: no foreground found \(nocs-net sees no object\)"):
        with_foreground(opaque(busy), "busy.png", _network_seeing(False))
    with pytest.raises(ReposeError, match=r"^busy.png: no alpha and no plain background .*--method nocs-net"):
        with_foreground(opaque(busy), "busy.png")


def test_a_crop_network_looks_again_at_the_largest_part_it_found_and_says_how_far_the_looks_agree(monkeypatch):
    """On clutter a crop network's first look can take clutter beside the object: picture_foreground looks again
    at the square around the largest connected part only, and reports the IoU of that part with the second look;
    repose calls a foreground whose looks disagree uncertain."""
    object_, clutter, second = (np.zeros((48, 64), bool) for _ in range(3))
    object_[10:30, 20:40] = True
    clutter[40:44, 2:6] = True
    second[12:30, 20:40] = True  # what the look at the object's square finds: 18 of its 20 rows
    looks = []

    def looks_at(net, rgba, device="cpu", batch_size=32, categories=None, masks=None):
        looks.append(None if masks is None else masks[0].copy())
        found = (object_ | clutter) if masks is None else second
        return None, found[None].astype(np.float32), None

    monkeypatch.setattr(nocs_net_module, "predict", looks_at)
    net = NocsNet(NocsNetConfig(channels=(8, 16, 32), crop=0.15)).eval()
    mask, agreement = nocs_net_module.picture_foreground(net, _on_clutter())
    assert looks[0] is None and np.array_equal(looks[1], object_)  # the clutter blob is not in the second crop
    assert np.array_equal(mask, second) and agreement == pytest.approx(18 / 20)
    monkeypatch.setattr(repose_module, "FOREGROUND_AGREEMENT", 0.95)
    rgba, how = with_foreground(opaque(_on_clutter()), "busy.png", net)
    assert how.startswith("nocs-net foreground (uncertain: the network's two looks agree on 90% of it")
    assert np.array_equal(rgba[..., 3] > 0, second)
    monkeypatch.setattr(repose_module, "FOREGROUND_AGREEMENT", 0.8)
    assert with_foreground(opaque(_on_clutter()), "busy.png", net)[1] == "nocs-net foreground"


def test_busy_picture_with_a_vit_method_fails_in_one_line(assets, tmp_path, capsys):
    busy = tmp_path / "busy.png"
    Image.fromarray(_on_clutter(1)).save(busy)
    assert repose_main(["--appearance", str(busy), "--pose", str(assets["root"] / "pose.png"), "--out",
                        str(tmp_path / "out.png")] + _common(assets)) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]  # after the note that dino stands in for nocs
    assert error.startswith("repose: error: ") and "busy.png: no alpha and no plain background" in error
    assert "--method nocs-net" in error and not (tmp_path / "out.png").exists()


def test_non_square_rgb_without_alpha(assets, capsys):
    root = assets["root"]
    rgba, how = load_rgba(root / "appearance.png")
    assert how == "border estimate" and rgba.shape == (64, 100, 4)
    assert rgba[..., 3][:, :10].max() == 0 and rgba[..., 3][32, 50] == 255
    out = root / "out" / "reposed.png"
    assert repose_main(["--appearance", str(root / "appearance.png"), "--pose", str(root / "pose.png"),
                        "--out", str(out), "--show-keypoints"] + _common(assets)) == 0
    captured = capsys.readouterr()
    assert "trained on 'nocs' keypoints" in captured.err  # tiny trains on nocs; repose computes dino
    output = Image.open(out)
    assert output.size == (100, 64) and output.mode == "RGB"  # the appearance image's original size
    sheet = Image.open(root / "out" / "reposed.keypoints.png")
    assert sheet.size[0] > 2 * 128 and "keypoint pairs" in captured.out


def test_batch_csv_and_folder(assets):
    root = assets["root"]
    (root / "pairs.csv").write_text("appearance,pose,out\nappearance.png,pose-alpha.png,\n"
                                    "appearance.png,pose.png,second.png\n")
    assert repose_main(["--pairs", str(root / "pairs.csv"), "--out-dir", str(root / "batch")] + _common(assets)) == 0
    assert Image.open(root / "batch" / "appearance.png").size == (100, 64)
    assert Image.open(root / "batch" / "second.png").size == (100, 64)
    folder = root / "folder"
    for sub, name in (("appearance", "pose-alpha.png"), ("pose", "appearance.png")):
        (folder / sub).mkdir(parents=True)
        (folder / sub / "x.png").write_bytes((root / name).read_bytes())
    assert repose_main(["--pairs", str(folder), "--out-dir", str(root / "batch2")] + _common(assets)) == 0
    assert Image.open(root / "batch2" / "x.png").size == (64, 64)


def test_offline_without_weights_names_weights_in_one_line(assets, monkeypatch, capsys):
    monkeypatch.setattr(weight_sources.WeightSource, "cached", lambda self: None)  # an empty cache
    root = assets["root"]
    assert repose_main(["--appearance", str(root / "appearance.png"), "--pose", str(root / "pose.png"), "--out",
                        str(root / "never.png"), "--checkpoint", str(assets["checkpoint"]), "--method", "dinov2"]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "--weights PATH" in error and not (root / "never.png").exists()


def test_missing_image_fails_in_one_line(assets, capsys):
    root = assets["root"]
    assert repose_main(["--appearance", str(root / "missing.png"), "--pose", str(root / "pose.png"), "--out",
                        str(root / "never.png")] + _common(assets)) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "missing.png" in error


def test_nocs_net_single_and_batch_default_for_a_nocs_checkpoint(assets, capsys):
    """The tiny checkpoint trained on `nocs` keypoints reposes with `nocs-net` by default (its image stand-in)."""
    root = assets["root"]
    common = ["--checkpoint", str(assets["checkpoint"]), "--weights", str(assets["nocs_net"])]
    out = root / "nocs-net" / "single.png"
    assert repose_main(["--appearance", str(root / "appearance.png"), "--pose", str(root / "pose-alpha.png"),
                        "--out", str(out), "--show-keypoints"] + common) == 0
    captured = capsys.readouterr()
    assert "reposing with 'nocs-net' keypoints" in captured.err and "keypoint pairs" in captured.out
    assert Image.open(out).size == (100, 64) and out.with_suffix(".keypoints.png").is_file()
    (root / "nocs-pairs.csv").write_text("appearance,pose\nappearance.png,pose.png\npose-alpha.png,appearance.png\n")
    assert repose_main(["--pairs", str(root / "nocs-pairs.csv"), "--out-dir", str(root / "nocs-batch"),
                        "--method", "nocs-net"] + common) == 0
    assert Image.open(root / "nocs-batch" / "appearance.png").size == (100, 64)
    assert Image.open(root / "nocs-batch" / "pose-alpha.png").size == (64, 64)


def test_nocs_net_missing_or_wrong_weights_one_line(assets, capsys):
    root = assets["root"]
    single = ["--appearance", str(root / "appearance.png"), "--pose", str(root / "pose.png"), "--out",
              str(root / "never.png"), "--checkpoint", str(assets["checkpoint"])]
    for extra, expected in (([], "--weights PATH"), (["--weights", str(assets["weights"])], "not a nocs-net")):
        assert repose_main(single + extra) == 2
        error = capsys.readouterr().err.strip()
        assert "\n" not in error and expected in error and "train-nocs" in error
    assert not (root / "never.png").exists()


def _single(assets, appearance, pose, out="never.png"):
    root = assets["root"]
    return ["--appearance", str(appearance), "--pose", str(pose), "--out", str(root / out)] + _common(assets)


def _errors(capsys) -> str:
    """The one error line of a run (a note about the keypoint method may precede it)."""
    lines = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("repose: note:")]
    assert len(lines) == 1
    return lines[0]


def test_tiny_or_empty_images_fail_in_one_line(assets, capsys):
    root = assets["root"]
    Image.new("RGB", (1, 1), (200, 30, 30)).save(root / "dot.png")
    transparent = root / "transparent.png"
    Image.new("RGBA", (3000, 2000), (0, 0, 0, 0)).save(transparent)  # compresses to a few kB, decodes quickly
    speck = np.zeros((2000, 3000, 4), np.uint8)
    speck[1000, 1500] = (200, 30, 30, 255)  # one opaque pixel: nothing left at the model's 64 px
    Image.fromarray(speck).save(root / "speck.png")
    for image, expected in (("dot.png", "smaller than 16 px"), ("transparent.png", "fully transparent"),
                            ("speck.png", "1 px across")):
        assert repose_main(_single(assets, root / image, root / "pose.png")) == 2
        error = _errors(capsys)
        assert error.startswith(f"repose: error: {root / image}") and expected in error
    assert not (root / "never.png").exists()


def _matched(count: int, k: int = 35):
    """A stand-in for the keypoint method's correspond: `count` valid pairs on the synthetic object (rows 20-44)."""
    def correspond(method, rows, pairs, state=None):
        points = np.zeros((1, 1, k, 2), np.float32)
        grid = np.stack(np.meshgrid(np.arange(24, 40, 3), np.arange(20, 44, 4)), axis=-1).reshape(-1, 2) + 0.5
        points[0, 0, :count] = grid[:count]
        return points, points.copy(), (np.arange(k) < count)[None, None]
    return correspond


def test_too_few_keypoints_fail_and_few_keypoints_warn(assets, monkeypatch, capsys):
    root = assets["root"]
    monkeypatch.setattr(repose_module, "correspond", _matched(2))
    assert repose_main(_single(assets, root / "appearance.png", root / "pose-alpha.png")) == 2
    error = _errors(capsys)
    assert "appearance.png" in error and "pose-alpha.png" in error
    assert "2 matched keypoint pairs, fewer than the 3" in error and "trained with 35" in error
    monkeypatch.setattr(repose_module, "correspond", _matched(12))
    assert repose_main(_single(assets, root / "appearance.png", root / "pose-alpha.png", "few.png")) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("repose: warning:")]
    assert len(warnings) == 1 and "12 matched keypoint pairs, under half the 35" in warnings[0]
    assert (root / "few.png").is_file()


def test_bunched_keypoints_warn(assets, monkeypatch, capsys):
    root = assets["root"]

    def bunched(method, rows, pairs, state=None):  # 35 points on a 7 x 5 px patch at the objects' left edge
        points = np.stack(np.meshgrid(np.arange(12, 19), np.arange(30, 35)), axis=-1).reshape(1, 1, -1, 2) + 0.5
        return points.astype(np.float32), points.astype(np.float32), np.ones((1, 1, 35), bool)

    monkeypatch.setattr(repose_module, "correspond", bunched)
    assert repose_main(_single(assets, root / "appearance.png", root / "pose-alpha.png", "bunched.png")) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("repose: warning:")]
    assert len(warnings) == 1 and "bunch on one part of the object" in warnings[0]


def test_volume3d_checkpoint_reposes_with_nocs_net_rotations(assets, tmp_path, capsys):
    """A volume3d checkpoint gets its rotation from nocs-net's canonical coordinates of the two images; with
    any other keypoint method it refuses in one line."""
    config = load_config("demo")
    torch.manual_seed(0)
    checkpoint = save_checkpoint(tmp_path / "volume3d.pt", {
        "model": build_model(config.model, config.data.background).state_dict(), "config": config.to_dict(),
        "stages": ["warp", "gen"], "progress": {}})
    root = assets["root"]
    out = tmp_path / "reposed.png"
    argv = ["--appearance", str(root / "appearance.png"), "--pose", str(root / "pose-alpha.png"), "--out", str(out),
            "--checkpoint", str(checkpoint)]
    assert repose_main(argv + ["--method", "nocs-net", "--weights", str(assets["nocs_net"])]) == 0
    assert Image.open(out).size == (100, 64)
    capsys.readouterr()
    assert repose_main(argv + ["--method", "dino", "--weights", str(assets["weights"]), "--load-size", "48"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "volume3d" in error[0] and "--method nocs-net" in error[0]


def test_nocs_net_of_several_categories_needs_category_in_one_line(assets, capsys):
    root = assets["root"]
    net = NocsNet(NocsNetConfig(channels=(8, 16, 32)), ("briefcases", "shoes"))
    missing = net.load_state_dict(torch.load(assets["nocs_net"], weights_only=True)["model"], strict=False).missing_keys
    assert missing and all(key.startswith("film.") for key in missing)  # the single network's weights, FiLM at identity
    several = save_checkpoint(root / "nocs-net-categories.pt", checkpoint_payload(net))
    single = ["--appearance", str(root / "appearance.png"), "--pose", str(root / "pose-alpha.png"),
              "--checkpoint", str(assets["checkpoint"]), "--method", "nocs-net", "--weights", str(several)]
    assert repose_main(single + ["--out", str(root / "never.png")]) == 2
    assert _errors(capsys) == ("repose: error: --category: the nocs-net weights know 2 categories; pass --category "
                               "briefcases|shoes")
    assert repose_main(single + ["--out", str(root / "never.png"), "--category", "vases"]) == 2
    assert "--category vases: the nocs-net weights know briefcases, shoes" in _errors(capsys)
    assert not (root / "never.png").exists()
    assert repose_main(single + ["--out", str(root / "shoe.png"), "--category", "shoes"]) == 0
    assert Image.open(root / "shoe.png").size == (100, 64)


def test_small_objects_are_zoomed_to_the_renders_framing_and_put_back_in_place(assets):
    """Objects small in their pictures and off centre (another camera) are seen by the model as large as the
    renders' smallest, in one crop of both pictures, and the output goes back to where that crop came from."""
    reposer = repose_module.Reposer(assets["checkpoint"], "dino", assets["weights"], load_size=48)
    views = open_dataset(assets["root"] / "data").read(0, ("rgba",))["rgba"]
    framed = repose_module.frame_pair((views[0], views[3]), ("a", "p"))
    assert torch.allclose(framed, torch.eye(2, 3))  # as the renders frame them: the whole picture
    canvas = np.zeros((2, 192, 192, 4), np.uint8)
    canvas[:, 100:164, 40:104] = views[[0, 3]]  # one camera: both at the same place, a third of the frame
    result = reposer(canvas[0], canvas[1])
    alpha = (result.appearance.sum(dim=0) < 2.9) | (result.pose.sum(dim=0) < 2.9)  # the model's inputs on white
    rows, cols = torch.nonzero(alpha, as_tuple=True)
    union = [np.nonzero(views[[0, 3], ..., 3].max(axis=0) > 127)[axis] for axis in (0, 1)]
    across = max(np.ptp(axis) + 1 for axis in union) / 192  # of the canvas
    resolution = result.appearance.shape[-1]
    assert max(int(rows.max() - rows.min()), int(cols.max() - cols.min())) + 1 == pytest.approx(
        repose_module.FRAME_FILL * resolution, abs=3) and across < repose_module.FRAME_FILL / 2
    assert result.output.shape == (192, 192, 3)
    drawn = np.nonzero((np.abs(result.output.astype(int) - 255) > 8).any(axis=-1))
    crop = [(centre - side / 2, centre + side / 2) for centre, side in
            (((100 + 164) / 2, max(np.ptp(axis) + 1 for axis in union) / repose_module.FRAME_FILL),
             ((40 + 104) / 2, max(np.ptp(axis) + 1 for axis in union) / repose_module.FRAME_FILL))]
    for found, (low, high) in zip(drawn, crop):  # nothing drawn outside the crop, which lies on the objects
        assert found.min() >= low - 1 and found.max() <= high + 1
