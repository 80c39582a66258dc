"""Blender (bpy) side of the renderer: one fixed scene per worker process (camera, world-fixed
lights, explicit Cycles and colour-management settings), model import with clean-up and
bounding-sphere normalisation, RGBA rendering, and reset between models.

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

from eopose.render import camera
from eopose.render.sources import ModelError

IMPORTERS = {
    ".glb": lambda p: bpy.ops.import_scene.gltf(filepath=p),
    ".gltf": lambda p: bpy.ops.import_scene.gltf(filepath=p),
    ".obj": lambda p: bpy.ops.wm.obj_import(filepath=p),
    ".ply": lambda p: bpy.ops.wm.ply_import(filepath=p),
    ".stl": lambda p: bpy.ops.wm.stl_import(filepath=p),
}
KEEP_TYPES = {"MESH", "EMPTY", "ARMATURE"}  # cameras, lights, probes etc. that assets carry go
# World-fixed lights: (name, direction the light comes from, strength W/m^2, angle deg).
LIGHTS = (
    ("key", (-0.6, -1.0, 1.2), 3.0, 10.0),
    ("fill", (1.0, -0.6, 0.3), 1.2, 20.0),
    ("rim", (0.3, 1.0, 0.8), 1.5, 10.0),
)
WORLD_GREY = 0.35  # ambient from the (invisible, film_transparent) world


@dataclass
class LoadedModel:
    verts: np.ndarray  # [V,3] object frame (normalised, canonical rotation applied)
    tris: np.ndarray  # [T,3] int
    objects: list  # bpy objects to delete on unload


class Scene:
    """The worker's Blender scene. `render(rotation_euler_deg, seed)` renders the loaded model."""

    def __init__(self, resolution: int, samples: int, threads: int, device: str = "auto"):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        self.resolution = resolution
        self.scene = bpy.context.scene
        self._tmp = _scratch_dir()
        self.device = self._setup_render(samples, threads, device)
        self._setup_world()
        self._setup_camera()
        self.root = bpy.data.objects.new("eopose_rotation", None)  # rotation c
        self.norm = bpy.data.objects.new("eopose_normalise", None)  # centre/scale/canonical
        self.scene.collection.objects.link(self.root)
        self.scene.collection.objects.link(self.norm)
        self.norm.parent = self.root
        self.root.rotation_mode = "XYZ"
        self.model: LoadedModel | None = None

    def _setup_render(self, samples, threads, device):
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
        c.samples = samples
        c.use_adaptive_sampling = False
        c.use_denoising = True
        c.denoiser = "OPENIMAGEDENOISE"
        c.denoising_prefilter = "FAST"  # ~0.8 s/view at 256^2, 32 spp (BRIEF.md figures)
        c.denoising_input_passes = "RGB_ALBEDO_NORMAL"
        c.use_animated_seed = False
        c.pixel_filter_type = "BLACKMAN_HARRIS"
        c.filter_width = 1.5
        c.max_bounces, c.diffuse_bounces, c.glossy_bounces = 6, 3, 3
        c.transmission_bounces, c.transparent_max_bounces = 6, 8
        c.caustics_reflective = c.caustics_refractive = False
        c.device = "GPU" if device in ("auto", "gpu") and _enable_gpu() else "CPU"
        vs = s.view_settings
        s.display_settings.display_device = "sRGB"
        vs.view_transform = "Standard"
        vs.look = "None"
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
        bg = world.node_tree.nodes["Background"]
        bg.inputs["Color"].default_value = (WORLD_GREY, WORLD_GREY, WORLD_GREY, 1.0)
        bg.inputs["Strength"].default_value = 1.0
        self.scene.world = world
        for name, direction, strength, angle in LIGHTS:
            light = bpy.data.lights.new(name, "SUN")
            light.energy = strength
            light.angle = np.deg2rad(angle)
            obj = bpy.data.objects.new(name, light)
            # A sun shines along its local -Z; point -Z away from `direction`.
            d = np.asarray(direction, float)
            obj.rotation_mode = "QUATERNION"
            obj.rotation_quaternion = Vector(-d / np.linalg.norm(d)).to_track_quat("-Z", "Y")
            self.scene.collection.objects.link(obj)

    def _setup_camera(self):
        cam = bpy.data.cameras.new("eopose_camera")
        cam.type = "PERSP"
        cam.sensor_fit = "HORIZONTAL"
        cam.sensor_width = camera.SENSOR_WIDTH_MM
        cam.lens = camera.lens_mm()
        cam.shift_x = cam.shift_y = 0.0
        cam.clip_start, cam.clip_end = 0.1, 100.0
        obj = bpy.data.objects.new("eopose_camera", cam)
        m = np.eye(4)
        m[:3, :3] = camera.camera_to_world_blender()
        m[:3, 3] = camera.location()
        obj.matrix_world = Matrix(m.tolist())
        self.scene.collection.objects.link(obj)
        self.scene.camera = obj

    # -- models -------------------------------------------------------------------------

    def load(self, path: str, canonical_euler_deg=(0.0, 0.0, 0.0), max_faces: int = 2_000_000) -> LoadedModel:
        """Import a mesh file, drop what it should not bring, normalise it under `self.norm`."""
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
