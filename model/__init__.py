"""EOPose network and losses (paper section 3): keypoint heatmaps, the backward-flow
convention and warping, the Skip-UNet warping module, the pose/texture generator, the
pose-conditioned PatchGAN discriminator, TPS flows and the training losses."""

from .discriminator import PatchDiscriminator
from .eopose import EOPose, EOPoseOutput
from .flow import convex_upsample, flow_to_normalised, pixel_centres, upsample_flow_bilinear, warp
from .generator import Generator
from .heatmaps import default_sigma, gaussian_heatmaps
from .loading import CheckpointError, ModelConfig, build_model, load_trained, read_checkpoint
from .losses import (GeneratorLoss, GeneratorLossWeights, VGGLoss, WarpLoss, WarpLossWeights,
                     flow_l1, gram_matrix, lsgan_d_loss, lsgan_g_loss, total_variation)
from .tps import fit_tps, tps_flow
from .vgg_features import WEIGHTS_FILENAME, VGG19Features, load_vgg19
from .warp_module import WarpModule, WarpOutput

__all__ = [
    "EOPose", "EOPoseOutput", "ModelConfig", "build_model", "load_trained", "read_checkpoint",
    "CheckpointError", "WarpModule", "WarpOutput", "Generator", "PatchDiscriminator",
    "warp", "convex_upsample", "upsample_flow_bilinear", "pixel_centres", "flow_to_normalised",
    "gaussian_heatmaps", "default_sigma", "fit_tps", "tps_flow",
    "VGGLoss", "VGG19Features", "load_vgg19", "WEIGHTS_FILENAME",
    "WarpLoss", "WarpLossWeights", "GeneratorLoss", "GeneratorLossWeights",
    "lsgan_d_loss", "lsgan_g_loss", "total_variation", "flow_l1", "gram_matrix",
]
