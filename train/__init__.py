"""eopose.train: configs, the training stages, the staged training loop (train-eopose), checkpoints and DDP
plumbing; evaluation (`evaluation/`) and inference (`inference/`) in their own subpackages."""
