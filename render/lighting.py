"""Light rigs as data: the fixed three-sun rig, and per-quadruplet `studio` / `random` draws
(`--lighting`), optionally with an HDRI environment map (`--hdri-dir`). One draw lights all four views
of a quadruplet, so a pair differs only in pose. `blender_scene.Scene.apply_lighting` builds it in Blender.

Pure numpy, no bpy. Lights are suns fixed in the world frame (+Z up, the category front faces -Y);
directions are where the light comes from. Colour temperatures become RGB through Tanner Helland's
black-body fit ("How to Convert Temperature (K) to RGB", 2012), normalised so 6500 K is white.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from eopose.render.settings import HDRI_EXTENSIONS

WHITE_KELVIN = 6500.0


@dataclass(frozen=True)
class Light:
    name: str
    direction: tuple  # unit vector, world frame, towards the light
    strength: float  # sun irradiance, W/m^2
    angle_deg: float  # angular diameter of the sun disc (soft shadows when larger)
    kelvin: float = WHITE_KELVIN

    def colour(self) -> tuple:
        return kelvin_to_linear_rgb(self.kelvin)


@dataclass(frozen=True)
class Lighting:
    lights: tuple
    world_grey: float  # ambient colour of the (invisible, film_transparent) world, linear
    world_strength: float = 1.0
    hdri: str = ""  # file name of the environment map inside --hdri-dir ("" for the grey world)
    hdri_rotation_deg: float = 0.0  # about +Z

    def to_dict(self) -> dict:
        return {**asdict(self), "lights": [asdict(light) for light in self.lights]}


def _unit(vector) -> tuple:
    v = np.asarray(vector, float)
    return tuple(float(c) for c in v / np.linalg.norm(v))


FIXED = Lighting(lights=(Light("key", _unit((-0.6, -1.0, 1.2)), 3.0, 10.0),
                         Light("fill", _unit((1.0, -0.6, 0.3)), 1.2, 20.0),
                         Light("rim", _unit((0.3, 1.0, 0.8)), 1.5, 10.0)),
                 world_grey=0.35)

# `studio`: a three-point rig around the front, (azimuth from the front -Y towards +X, elevation) in
# degrees, strength W/m^2, angle degrees, colour temperature K; the fill is a fraction of the key.
STUDIO = {
    "key": {"azimuth": (-70.0, -20.0), "elevation": (25.0, 55.0), "strength": (2.5, 4.0), "angle": (5.0, 15.0),
            "kelvin": (4500.0, 6500.0)},
    "fill": {"azimuth": (30.0, 80.0), "elevation": (0.0, 30.0), "strength": (0.25, 0.5), "angle": (15.0, 30.0),
             "kelvin": (5000.0, 7500.0)},
    "rim": {"azimuth": (150.0, 210.0), "elevation": (30.0, 60.0), "strength": (1.0, 2.5), "angle": (5.0, 15.0),
            "kelvin": (5500.0, 8000.0)},
}
STUDIO_WORLD_GREY = (0.25, 0.45)
# `random`: each of key/fill/rim from anywhere above -12 degrees elevation, wide strengths and colours.
RANDOM_STRENGTH = {"key": (0.5, 5.0), "fill": (0.0, 2.5), "rim": (0.0, 3.0)}
RANDOM_ANGLE_DEG = (2.0, 40.0)
RANDOM_KELVIN = (2700.0, 10000.0)
RANDOM_MIN_ELEVATION_DEG = -12.0
RANDOM_WORLD_GREY = (0.05, 0.8)
HDRI_STRENGTH = {"studio": (0.8, 1.2), "random": (0.4, 1.6)}


def hdri_files(folder) -> list[str]:
    """Environment maps of a folder (sorted names), for `draw_lighting`."""
    return sorted(p.name for p in Path(folder).iterdir() if p.suffix.lower() in HDRI_EXTENSIONS and p.is_file())


def _from_angles(azimuth_deg: float, elevation_deg: float) -> tuple:
    a, e = np.deg2rad(azimuth_deg), np.deg2rad(elevation_deg)
    return _unit((np.sin(a) * np.cos(e), -np.cos(a) * np.cos(e), np.sin(e)))


def draw_lighting(mode: str, qseed: int, hdris=()) -> Lighting:
    """The quadruplet's light rig for `--lighting mode` from its seed (`hdris`: file names to pick from)."""
    if mode == "fixed":
        return FIXED
    rng = np.random.default_rng([qseed, 2])
    lights = []
    if mode == "studio":
        key_strength = 0.0
        for name, r in STUDIO.items():
            strength = float(rng.uniform(*r["strength"]))
            strength = strength * key_strength if name == "fill" else strength
            key_strength = strength if name == "key" else key_strength
            lights.append(Light(name, _from_angles(rng.uniform(*r["azimuth"]), rng.uniform(*r["elevation"])),
                                strength, float(rng.uniform(*r["angle"])), float(rng.uniform(*r["kelvin"]))))
        grey = float(rng.uniform(*STUDIO_WORLD_GREY))
    else:
        low = np.sin(np.deg2rad(RANDOM_MIN_ELEVATION_DEG))
        for name, strength in RANDOM_STRENGTH.items():
            z = rng.uniform(low, 1.0)  # uniform on the sphere's cap above the minimum elevation
            azimuth = rng.uniform(0.0, 2 * np.pi)
            direction = _unit((np.sqrt(1 - z * z) * np.cos(azimuth), np.sqrt(1 - z * z) * np.sin(azimuth), z))
            lights.append(Light(name, direction, float(rng.uniform(*strength)), float(rng.uniform(*RANDOM_ANGLE_DEG)),
                                float(rng.uniform(*RANDOM_KELVIN))))
        grey = float(rng.uniform(*RANDOM_WORLD_GREY))
    hdri, rotation, strength = "", 0.0, 1.0
    if len(hdris):
        hdri = str(hdris[int(rng.integers(len(hdris)))])
        rotation, strength = float(rng.uniform(0.0, 360.0)), float(rng.uniform(*HDRI_STRENGTH[mode]))
    return Lighting(tuple(lights), grey, strength, hdri, rotation)


def _helland_srgb(kelvin: float) -> np.ndarray:
    t = kelvin / 100.0
    red = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    green = 99.4708025861 * np.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
    blue = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5177312231 * np.log(t - 10) - 305.0447927307)
    return np.clip(np.array([red, green, blue]), 0.0, 255.0) / 255.0


def kelvin_to_linear_rgb(kelvin: float) -> tuple:
    """Linear RGB (max channel 1) of a black body at `kelvin`, relative to 6500 K (which gives white)."""
    srgb = _helland_srgb(kelvin) / _helland_srgb(WHITE_KELVIN)
    srgb = np.clip(srgb / srgb.max(), 0.0, 1.0)
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)  # IEC 61966-2-1
    return tuple(float(c) for c in linear)
