"""eopose.train.inference: `repose`: a trained EOPose applied to new images (foreground, framing, on-the-fly
keypoints)."""
