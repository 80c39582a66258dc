"""eopose.dataset.keypoints: the keypoint-correspondence cache of the EOPose paper (section 3.1).

Methods: `dino` / `dinov2` (Amir et al., "Deep ViT features as dense visual descriptors": best-buddy
pairs of log-binned ViT key descriptors, k-means, saliency ranking) and `nocs` (mutual nearest
neighbours of rendered canonical object coordinates, needs no weights). Entry points:
`build-keypoint-cache` and `eval-correspondences` (see `cli.py`).
"""
