"""Render settings as data: one frozen dataclass holding everything that decides how a view is rendered
(Cycles sampling, denoiser, pixel filter, light paths, colour management, device, lighting and camera
modes). `blender_scene.Scene` is the backend that applies it to Blender; `run.shard_settings_of` stores its
`to_dict()` in every shard, so the shard describes the render with the same numbers Blender used
(the scene-as-data pattern of Kubric, Greff et al., CVPR 2022).

Pure Python, no bpy: the parent process, the dataset side and the tests read it without Blender.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

LIGHTING_MODES = ("fixed", "studio", "random")
CAMERA_MODES = ("fixed", "random")
HDRI_EXTENSIONS = (".hdr", ".exr")


@dataclass(frozen=True)
class RenderSettings:
    resolution: int = 256
    samples: int = 32
    device: str = "auto"  # auto | cpu | gpu (what was asked; the worker reports what it got)
    # Cycles: fixed sample count (no adaptive sampling) and a fixed seed per quadruplet, so reruns match.
    denoiser: str = "OPENIMAGEDENOISE"
    denoising_prefilter: str = "FAST"  # ~0.8 s/view at 256^2, 32 spp (benchmarks/render.py)
    denoising_input_passes: str = "RGB_ALBEDO_NORMAL"
    pixel_filter: str = "BLACKMAN_HARRIS"
    filter_width: float = 1.5  # pixels
    max_bounces: int = 6
    diffuse_bounces: int = 3
    glossy_bounces: int = 3
    transmission_bounces: int = 6
    transparent_max_bounces: int = 8
    # Colour management: sRGB display, no tone curve, so stored values are the scene's sRGB colours.
    display_device: str = "sRGB"
    view_transform: str = "Standard"
    look: str = "None"
    # Per-quadruplet variation (render/lighting.py, render/camera.py): `fixed` is one light rig and one
    # camera for the whole dataset; the other modes draw them from the quadruplet's seed.
    lighting: str = "fixed"
    camera: str = "fixed"
    hdri_dir: str = ""  # folder of .hdr/.exr environment maps used by studio/random lighting ("" for none)

    def __post_init__(self):
        if self.lighting not in LIGHTING_MODES:
            raise ValueError(f"lighting {self.lighting!r} is not one of {', '.join(LIGHTING_MODES)}")
        if self.camera not in CAMERA_MODES:
            raise ValueError(f"camera {self.camera!r} is not one of {', '.join(CAMERA_MODES)}")

    def to_dict(self) -> dict:
        return asdict(self)
