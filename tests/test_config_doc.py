"""docs/config.md is generated from the configuration dataclasses (eopose.train.config_reference): it must be the
current output, list every key of train-eopose and train-nocs, and say what each means."""
import dataclasses
from pathlib import Path

from eopose.train import config_reference
from eopose.train.config import TrainConfig
from eopose.train.nocs.config import NocsTrainConfig

DOC = Path(__file__).resolve().parents[1] / "docs" / "config.md"
REGENERATE = ".venv/bin/python -m eopose.train.config_reference > docs/config.md"


def _keys():
    """(section name, section dataclass, field name) of every key of both trainers' configs."""
    for root in (TrainConfig, NocsTrainConfig):
        for section, cls in config_reference._sections(root):
            for spec in dataclasses.fields(cls):
                if not dataclasses.is_dataclass(config_reference._default(spec)):
                    yield section, cls, spec.name


def test_config_doc_is_current():
    assert DOC.read_text() == config_reference.reference(), f"docs/config.md is stale: run {REGENERATE}"


def test_doc_lists_every_key_with_its_default():
    text = DOC.read_text()
    assert "### `[warp_loss]`" in text and "### `[augment]`" in text
    assert "| `background_l1` | `0.0` |" in text and "| `rotation_noise_deg` | `0.0` |" in text
    keys = list(_keys())
    assert len(keys) > 80
    assert all(f"| `{name}` |" in text for _, _, name in keys)


def test_every_key_has_a_meaning_and_every_fallback_is_used():
    missing = [f"{cls.__name__}.{name}" for _, cls, name in _keys() if not config_reference.meaning(cls, name)]
    assert not missing, f"add a comment beside these fields (or a MEANINGS entry): {missing}"
    used = {config_reference.fallback_key(cls, name) for _, cls, name in _keys()
            if not config_reference.comment(cls, name)}
    unused = sorted(set(config_reference.MEANINGS) - used)
    assert not unused, f"MEANINGS entries no key needs (the field has a source comment now, or is gone): {unused}"
