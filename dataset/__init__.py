"""eopose.dataset: the shard format (writer, reader, validator), geometric ground truth, splits and the
training loader. See docs/dataset-format.md."""
from .shard_format import (FORMAT_VERSION, SAMPLE_VIEWS, VIEW_NAMES, DatasetFormatError, QuadDataset,
                           add_keypoints, open_dataset, update_index, verify, write_shard)
from .splits import split_of_model, split_of_quad

__all__ = ["FORMAT_VERSION", "SAMPLE_VIEWS", "VIEW_NAMES", "DatasetFormatError", "QuadDataset", "add_keypoints",
           "open_dataset", "update_index", "verify", "write_shard", "split_of_model", "split_of_quad"]
