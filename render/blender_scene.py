"""Blender (bpy) side of the renderer, the backend that applies `RenderSettings` (Cycles and
colour-management settings) and per-quadruplet `Lighting` / `Camera` draws to one scene per worker
process: model import with clean-up, texture checks and bounding-sphere normalisation, RGBA
rendering, a read-back of the lights and camera Blender rendered with, and reset between models.

Only imported inside worker processes (bpy is heavy and not fork-safe).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass

import bpy
import numpy as np
from mathutils import Matrix, Vector
from PIL import Image

from eopose.render import camera, lighting
from eopose.render.settings import RenderSettings
from eopose.render.sources import ModelError

IMPORTERS = {
    ".glb": lambda p: bpy.ops.import_scene.gltf(filepath=p),
    ".gltf": lambda p: bpy.ops.import_scene.gltf(filepath=p),
    ".obj": lambda p: bpy.ops.wm.obj_import(filepath=p),
    ".ply": lambda p: bpy.ops.wm.ply_import(filepath=p),
    ".stl": lambda p: bpy.ops.wm.stl_import(filepath=p),
}
KEEP_TYPES = {"MESH", "EMPTY", "ARMATURE"}  # cameras, lights, probes etc. that assets carry go
# Texture checks: colour images are read at most this many pixels (downscaled copies beyond), and a
# colour texture whose every pixel is within TOLERANCE of black or of magenta (the placeholder colour
# of tools that lost an image) counts as missing.
CHECK_PIXELS = 256 * 256
TOLERANCE = 0.02
PLACEHOLDERS = {"black": (0.0, 0.0, 0.0), "magenta": (1.0, 0.0, 1.0)}


@dataclass
class LoadedModel:
    verts: np.ndarray  # [V,3] object frame (normalised, canonical rotation applied)
    tris: np.ndarray  # [T,3] int
    objects: list  # bpy objects to delete on unload
    untextured: bool = False  # textures missing, rendered anyway (allow_untextured)


class Scene:
    """The worker's Blender scene. `apply(lighting, camera)` sets a quadruplet's lights and camera,
    `load(path)` imports a model, `render(rotation_euler_deg, seed)` renders it."""

    def __init__(self, settings: RenderSettings, threads: int):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        self.settings = settings
        self.resolution = settings.resolution
        self.scene = bpy.context.scene
        self._tmp = _scratch_dir()
        self.device = self._setup_render(settings, threads)
        self._setup_world()
        self._setup_camera()
        self.apply(lighting.FIXED, camera.FIXED)
        self.root = bpy.data.objects.new("eopose_rotation", None)  # rotation c
        self.norm = bpy.data.objects.new("eopose_normalise", None)  # centre/scale/canonical
        self.scene.collection.objects.link(self.root)
        self.scene.collection.objects.link(self.norm)
        self.norm.parent = self.root
        self.root.rotation_mode = "XYZ"
        self.model: LoadedModel | None = None

    def _setup_render(self, settings: RenderSettings, threads: int):
        s, r = self.scene, self.scene.render
        r.engine = "CYCLES"
        r.resolution_x = r.resolution_y = self.resolution
        r.resolution_percentage = 100
        r.pixel_aspect_x = r.pixel_aspect_y = 1.0
        r.film_transparent = True  # straight alpha in the saved PNG
        r.threads_mode = "FIXED"
        r.threads = max(1, threads)
        r.use_compositing = False
        r.use_sequencer = False
        r.use_persistent_data = False
        c = s.cycles
        c.samples = settings.samples
        c.use_adaptive_sampling = False
        c.use_denoising = True
        c.denoiser = settings.denoiser
        c.denoising_prefilter = settings.denoising_prefilter
        c.denoising_input_passes = settings.denoising_input_passes
        c.use_animated_seed = False
        c.pixel_filter_type = settings.pixel_filter
        c.filter_width = settings.filter_width
        c.max_bounces, c.diffuse_bounces = settings.max_bounces, settings.diffuse_bounces
        c.glossy_bounces, c.transmission_bounces = settings.glossy_bounces, settings.transmission_bounces
        c.transparent_max_bounces = settings.transparent_max_bounces
        c.caustics_reflective = c.caustics_refractive = False
        c.device = "GPU" if settings.device in ("auto", "gpu") and _enable_gpu() else "CPU"
        vs = s.view_settings
        s.display_settings.display_device = settings.display_device
        vs.view_transform = settings.view_transform
        vs.look = settings.look
        vs.exposure = 0.0
        vs.gamma = 1.0
        s.sequencer_colorspace_settings.name = "sRGB"
        im = r.image_settings
        im.file_format = "PNG"
        im.color_mode = "RGBA"
        im.color_depth = "8"
        im.compression = 0
        r.filepath = os.path.join(self._tmp, "view.png")
        return c.device

    def _setup_world(self):
        world = bpy.data.worlds.new("eopose_world")
        world.use_nodes = True
        nodes = world.node_tree.nodes
        self._background = nodes["Background"]
        self._environment = nodes.new("ShaderNodeTexEnvironment")
        self._mapping = nodes.new("ShaderNodeMapping")
        world.node_tree.links.new(nodes.new("ShaderNodeTexCoord").outputs["Generated"], self._mapping.inputs["Vector"])
        world.node_tree.links.new(self._mapping.outputs["Vector"], self._environment.inputs["Vector"])
        self.scene.world = world
        self._lights: dict = {}

    def _setup_camera(self):
        cam = bpy.data.cameras.new("eopose_camera")
        cam.type = "PERSP"
        cam.sensor_fit = "HORIZONTAL"
        cam.sensor_width = camera.SENSOR_WIDTH_MM
        cam.clip_start, cam.clip_end = 0.1, 100.0
        obj = bpy.data.objects.new("eopose_camera", cam)
        self.scene.collection.objects.link(obj)
        self.scene.camera = obj

    def apply(self, rig: lighting.Lighting, view: camera.Camera) -> None:
        """Light and frame the scene for one quadruplet (all four of its views)."""
        self.apply_lighting(rig)
        cam = self.scene.camera
        cam.data.lens = view.lens_mm()
        cam.data.shift_x, cam.data.shift_y = view.shift_x, view.shift_y
        m = np.eye(4)
        m[:3, :3] = view.camera_to_world_blender()
        m[:3, 3] = view.location()
        cam.matrix_world = Matrix(m.tolist())

    def apply_lighting(self, rig: lighting.Lighting) -> None:
        for light in rig.lights:
            if light.name not in self._lights:
                obj = bpy.data.objects.new(light.name, bpy.data.lights.new(light.name, "SUN"))
                obj.rotation_mode = "QUATERNION"
                self.scene.collection.objects.link(obj)
                self._lights[light.name] = obj
            obj = self._lights[light.name]
            obj.data.energy = light.strength
            obj.data.angle = np.deg2rad(light.angle_deg)
            obj.data.color = light.colour()
            # A sun shines along its local -Z; point -Z away from `direction`.
            obj.rotation_quaternion = Vector([-c for c in light.direction]).to_track_quat("-Z", "Y")
        links = self.scene.world.node_tree.links
        for link in list(self._background.inputs["Color"].links):
            links.remove(link)
        if rig.hdri:
            path = os.path.join(self.settings.hdri_dir, rig.hdri)
            self._environment.image = bpy.data.images.load(path, check_existing=True)
            self._mapping.inputs["Rotation"].default_value = (0.0, 0.0, np.deg2rad(rig.hdri_rotation_deg))
            links.new(self._environment.outputs["Color"], self._background.inputs["Color"])
        self._background.inputs["Color"].default_value = (rig.world_grey, rig.world_grey, rig.world_grey, 1.0)
        self._background.inputs["Strength"].default_value = rig.world_strength
        bpy.context.view_layer.update()

    def describe(self) -> dict:
        """The lights, world and camera as Blender holds them now (read back, not as requested), rounded
        to 6 decimals: what a view was rendered with."""
        def r(values):
            return [round(float(v), 6) for v in values]

        cam = self.scene.camera
        world = self._background
        hdri = world.inputs["Color"].is_linked and self._environment.image is not None
        return {
            "lighting": {"lights": [{"name": name, "direction": r(obj.matrix_world.col[2][:3]),
                                     "strength": round(obj.data.energy, 6),
                                     "angle_deg": round(np.rad2deg(obj.data.angle), 6), "colour": r(obj.data.color)}
                                    for name, obj in sorted(self._lights.items())],
                         "world_grey": round(world.inputs["Color"].default_value[0], 6),
                         "world_strength": round(world.inputs["Strength"].default_value, 6),
                         "hdri": os.path.basename(self._environment.image.filepath) if hdri else "",
                         "hdri_rotation_deg": round(np.rad2deg(self._mapping.inputs["Rotation"].default_value[2]), 6)
                         if hdri else 0.0},
            "camera": {"location": r(cam.matrix_world.col[3][:3]), "lens_mm": round(cam.data.lens, 6),
                       "sensor_width_mm": round(cam.data.sensor_width, 6), "shift_x": round(cam.data.shift_x, 6),
                       "shift_y": round(cam.data.shift_y, 6)},
        }

    # -- models -------------------------------------------------------------------------

    def load(self, path: str, canonical_euler_deg=(0.0, 0.0, 0.0), max_faces: int = 2_000_000,
             allow_untextured: bool = False) -> LoadedModel:
        """Import a mesh file, drop what it should not bring, check its textures, normalise it under
        `self.norm`. Missing textures raise ModelError('missing_texture') unless `allow_untextured`."""
        self.unload()
        if not os.path.exists(path):
            raise ModelError("missing_file", path)
        if os.path.getsize(path) == 0:
            raise ModelError("empty_file", path)
        ext = os.path.splitext(path)[1].lower()
        if ext not in IMPORTERS:
            raise ModelError("unsupported_format", ext)
        before = set(bpy.data.objects)
        try:
            IMPORTERS[ext](path)
        except Exception as exc:  # Blender importers raise RuntimeError with a traceback text
            self._remove(set(bpy.data.objects) - before)
            raise ModelError("import_error", str(exc).strip().splitlines()[-1][:300]) from None
        new = set(bpy.data.objects) - before
        for obj in [o for o in new if o.type not in KEEP_TYPES]:
            new.discard(obj)
            bpy.data.objects.remove(obj, do_unlink=True)
        objects = list(new)
        self.model = LoadedModel(np.zeros((0, 3)), np.zeros((0, 3), np.int64), objects)
        for obj in objects:
            obj.animation_data_clear()
            if obj.type == "MESH" and obj.data.shape_keys is not None:
                obj.data.shape_keys.animation_data_clear()
            if obj.parent is None:
                obj.parent = self.norm
                obj.matrix_parent_inverse = Matrix.Identity(4)
        faces = sum(len(o.data.polygons) for o in objects if o.type == "MESH")
        if faces == 0:
            raise ModelError("no_faces")
        if faces > max_faces:
            raise ModelError("too_many_faces", str(faces))
        problems = texture_problems(objects)
        if problems and not allow_untextured:
            raise ModelError("missing_texture", "; ".join(problems)[:300])
        self.model.untextured = bool(problems)
        self.root.rotation_euler = (0.0, 0.0, 0.0)
        self.norm.matrix_basis = Matrix.Identity(4)
        verts, tris = self._world_mesh()
        if len(tris) == 0:
            raise ModelError("no_faces")
        if not np.isfinite(verts).all():
            raise ModelError("non_finite_vertices")
        centre, radius = _bounding_sphere(verts[np.unique(tris)])
        if radius <= 0:
            raise ModelError("degenerate_extent")
        norm = np.eye(4)
        rot = camera.euler_xyz_matrix(canonical_euler_deg)
        norm[:3, :3] = rot / radius
        norm[:3, 3] = -rot @ centre / radius
        self.norm.matrix_basis = Matrix(norm.tolist())
        self.model.verts = (verts - centre) @ rot.T / radius
        self.model.tris = tris
        return self.model

    def _world_mesh(self):
        """Evaluated triangles of every mesh object in world coordinates (as Cycles sees them)."""
        depsgraph = bpy.context.evaluated_depsgraph_get()
        verts, tris, offset = [], [], 0
        for obj in self.model.objects:
            if obj.type != "MESH":
                continue
            ev = obj.evaluated_get(depsgraph)
            me = ev.to_mesh()
            try:
                me.calc_loop_triangles()
                co = np.empty(len(me.vertices) * 3)
                me.vertices.foreach_get("co", co)
                tri = np.empty(len(me.loop_triangles) * 3, np.int64)
                me.loop_triangles.foreach_get("vertices", tri)
                mw = np.array(ev.matrix_world)
            finally:
                ev.to_mesh_clear()
            co = co.reshape(-1, 3) @ mw[:3, :3].T + mw[:3, 3]
            verts.append(co)
            tris.append(tri.reshape(-1, 3) + offset)
            offset += len(co)
        if not verts:
            return np.zeros((0, 3)), np.zeros((0, 3), np.int64)
        return np.concatenate(verts), np.concatenate(tris)

    def unload(self):
        if self.model is not None:
            self._remove(self.model.objects)
            self.model = None

    def _remove(self, objects):
        for obj in list(objects):
            bpy.data.objects.remove(obj, do_unlink=True)
        bpy.data.orphans_purge(do_local_ids=True, do_linked_ids=True, do_recursive=True)

    # -- rendering ----------------------------------------------------------------------

    def render(self, euler_deg, seed: int):
        """RGBA uint8 [H,W,4] (sRGB, straight alpha) of the loaded model under rotation
        `euler_deg`, and the seconds spent in the Cycles render call."""
        self.root.rotation_euler = tuple(np.deg2rad(np.asarray(euler_deg, float)))
        self.scene.cycles.seed = int(seed) % (2**31)
        t0 = time.perf_counter()
        bpy.ops.render.render(write_still=True)
        seconds = time.perf_counter() - t0
        with Image.open(self.scene.render.filepath) as im:
            rgba = np.asarray(im.convert("RGBA"))
        os.remove(self.scene.render.filepath)
        return rgba, seconds

    def close(self) -> None:
        self.unload()
        shutil.rmtree(self._tmp, ignore_errors=True)


def texture_problems(objects) -> list[str]:
    """What is wrong with the textures of a model's materials: image files that were not found or
    could not be read (Blender gives them size 0 x 0), colour textures that are entirely black or
    magenta, constant magenta base colours. Empty when every texture loaded."""
    problems, seen = [], set()
    for obj in objects:
        for slot in getattr(obj, "material_slots", ()):
            material = slot.material
            if material is None or not material.use_nodes or material.name in seen:
                continue
            seen.add(material.name)
            for node in material.node_tree.nodes:
                if node.type == "TEX_IMAGE" and node.image is not None:
                    problem = _image_problem(node.image)
                    if problem:
                        problems.append(f"{material.name}: {problem}")
                elif node.type == "BSDF_PRINCIPLED" and not node.inputs["Base Color"].is_linked:
                    if _placeholder(np.asarray(node.inputs["Base Color"].default_value[:3])[None]) == "magenta":
                        problems.append(f"{material.name}: base colour is magenta")
    return sorted(set(problems))


def _image_problem(image) -> str:
    if tuple(image.size) == (0, 0):
        where = image.filepath_from_user() or image.name
        return f"image {where} not found or unreadable"
    if image.colorspace_settings.is_data:  # normal, roughness, ... maps: no colour to judge
        return ""
    width, height = image.size
    sample = image
    if width * height > CHECK_PIXELS:
        sample = image.copy()
        sample.scale(int(np.sqrt(CHECK_PIXELS)), int(np.sqrt(CHECK_PIXELS)))
    try:
        channels = sample.channels
        pixels = np.empty(len(sample.pixels), np.float32)
        sample.pixels.foreach_get(pixels)
    finally:
        if sample is not image:
            bpy.data.images.remove(sample)
    pixels = pixels.reshape(-1, channels)
    kind = _placeholder(pixels[:, :3] if channels >= 3 else np.repeat(pixels[:, :1], 3, axis=1))
    return f"image {image.name} is entirely {kind}" if kind else ""


def _placeholder(rgb: np.ndarray) -> str:
    """'black' or 'magenta' when every colour [P,3] is that placeholder within TOLERANCE, else ''."""
    for name, colour in PLACEHOLDERS.items():
        if np.abs(rgb - np.asarray(colour)).max() <= TOLERANCE:
            return name
    return ""


def _scratch_dir() -> str:
    """A per-process folder (RAM-backed when possible) for the rendered PNG; folders of dead
    workers (killed mid-render) are swept."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    for name in os.listdir(base):
        pid = name.split("-")[2] if name.startswith("eopose-render-") and name.count("-") >= 3 else ""
        if pid.isdigit() and os.path.isdir("/proc/self") and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"eopose-render-{os.getpid()}-", dir=base)


def _bounding_sphere(points: np.ndarray):
    """Minimum enclosing sphere (trimesh / Welzl on the hull), radius widened to the farthest
    point so that every vertex lies inside even with solver tolerance."""
    try:
        import trimesh.nsphere

        centre, _ = trimesh.nsphere.minimum_nsphere(points)
    except Exception:  # degenerate hull (flat or collinear): fall back to the box centre
        centre = (points.min(0) + points.max(0)) / 2.0
    centre = np.asarray(centre, float)
    radius = float(np.sqrt(((points - centre) ** 2).sum(1).max())) * (1 + 1e-9)
    return centre, radius


def _enable_gpu() -> bool:
    """Use a GPU for Cycles when one is present (OptiX, CUDA, HIP, Metal, oneAPI)."""
    try:
        prefs = bpy.context.preferences.addons["cycles"].preferences
    except KeyError:
        return False
    for kind in ("OPTIX", "CUDA", "HIP", "METAL", "ONEAPI"):
        try:
            prefs.compute_device_type = kind
            prefs.get_devices()
        except Exception:
            continue
        devices = [d for d in prefs.devices if d.type == kind]
        if devices:
            for d in prefs.devices:
                d.use = d.type == kind
            return True
    prefs.compute_device_type = "NONE"
    return False
