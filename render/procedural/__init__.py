"""Offline, seeded supply of textured meshes for the paper's four categories.

Objaverse cannot be reached from our machines, so ``render-pairs --source procedural`` and the
tests take their models from here: ``(category, seed)`` determines a model completely (same
mesh, texture and GLB bytes in every process) and any non-negative seed gives a new one.

Canonical frame (shared by all categories). Models are built in the glTF / trimesh frame:
**+Y up, front facing +Z**, +X to the viewer's right when looking at the front, standing on
``y = 0`` with the bounding box centred in x and z, roughly unit size (the renderer normalises by the
bounding sphere). Blender's glTF importer maps glTF ``(x, y, z)`` to Blender ``(x, -z, y)``, so in
Blender / world terms (docs/dataset-format.md) the canonical frame is **+Z up, front facing
-Y**. "Front" means: a vase's label, a briefcase's latches and brand plate, a file cabinet's
drawer fronts, a shoe's toe.

Each model is a single mesh with one 512x512 UV texture atlas attached as the PBR base colour;
textures carry asymmetric detail (labels with text, logos, stripes, patterns) so rotations and
mirrors are visible. Parameter ranges live in each category module's ``PARAMETERS`` table;
``manifests/procedural.json`` is generated from them (``python -m
eopose.render.procedural``) and a test checks the two agree.
"""
from .library import CATEGORIES, GENERATOR_VERSION, generate, glb_path, manifest, model_info, parameters

__all__ = ["CATEGORIES", "GENERATOR_VERSION", "generate", "glb_path", "manifest", "model_info", "parameters"]
