"""The loader's random-background option (solid colours and gradients for training, default off)."""
from eopose.dataset.pairs import PairSampleDataset


def test_random_backgrounds_are_deterministic_per_sample(synthetic_dataset):
    """Off by default; on, each sample gets one solid or gradient background (same in every call for its index
    and seed, different across indices), under the unchanged object pixels."""
    plain = PairSampleDataset(synthetic_dataset)
    varied = PairSampleDataset(synthetic_dataset, random_backgrounds=True, background_seed=3)
    same = PairSampleDataset(synthetic_dataset, random_backgrounds=True, background_seed=3)
    other = PairSampleDataset(synthetic_dataset, random_backgrounds=True, background_seed=4)
    corners, kinds = set(), set()
    for index in range(8):
        a, b, c, base = varied[index], same[index], other[index], plain[index]
        for name in ("appearance", "pose", "target"):
            assert (a[name] == b[name]).all() and not (a[name] == c[name]).all()
            inside = base["mask_" + name] == 1
            assert (a[name] == base[name])[inside.expand_as(a[name])].all()  # the object itself is untouched
        outside = base["mask_appearance"][0] == 0
        corners.add(tuple(a["appearance"][:, 0, 0].tolist()))
        background = a["appearance"][:, outside]
        kinds.add("solid" if float(background.std(dim=1).max()) < 1e-6 else "gradient")
        assert (plain[index]["appearance"][:, outside] == 1).all()  # default: white
    assert len(corners) == 8 and kinds == {"solid", "gradient"}
