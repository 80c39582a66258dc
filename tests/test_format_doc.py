"""docs/dataset-format.md is the one description of the shard format: shipped as package data
(dataset/publish/FORMAT.md, what publish-dataset copies into a release) and naming every field."""
from pathlib import Path

from eopose.dataset.publish.release import FORMAT_DOC
from eopose.dataset.shard_format import FIELDS, FORMAT_VERSION

DOC = Path(__file__).resolve().parents[1] / "docs" / "dataset-format.md"


def test_packaged_format_doc_is_the_docs_copy():
    assert FORMAT_DOC.read_text() == DOC.read_text()


def test_format_doc_describes_every_field_and_the_version():
    text = DOC.read_text()
    assert text.startswith(f"# eopose shard format, version {FORMAT_VERSION}\n")
    assert all(f"| `{name}` |" in text for name in FIELDS)
