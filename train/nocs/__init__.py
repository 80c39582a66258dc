"""eopose.train.nocs: training nocs-net (eopose.dataset.keypoints.nocs_net), the canonical-coordinate predictor
behind the `nocs-net` keypoint method, with `train-nocs` (cli.py)."""
