"""eopose.train: configs, the staged training loop (train-eopose), checkpoints and DDP plumbing."""
