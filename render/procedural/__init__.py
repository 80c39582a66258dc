"""Offline, seeded supply of textured meshes for the paper's four categories.

Objaverse cannot be reached from our machines, so ``render-pairs --source procedural`` and the
tests take their models from here: ``(category, seed)`` determines a model completely (same
mesh, texture and GLB bytes in every process) and any non-negative seed gives a new one.

Canonical frame: the one every category shares, declared with the categories' shape symmetries in
``eopose.dataset.categories`` (+Z up, front facing -Y in Blender / world terms). The generators build
in the glTF / trimesh frame that Blender's glTF importer maps to it (glTF ``(x, y, z)`` -> Blender
``(x, -z, y)``): **+Y up, front facing +Z**, +X to the viewer's right when looking at the front,
standing on ``y = 0`` with the bounding box centred in x and z, roughly unit size (the renderer
normalises by the bounding sphere). ``face_regions`` names the generator part of every face.

Each model is a single mesh with one 512x512 UV texture atlas attached as the PBR base colour;
textures carry asymmetric detail (labels with text, logos, stripes, patterns) so rotations and
mirrors are visible. Parameter ranges live in each category module's ``PARAMETERS`` table;
``manifests/procedural.json`` is generated from them (``python -m
eopose.render.procedural``) and a test checks the two agree.
"""
from .library import (CATEGORIES, GENERATOR_VERSION, face_regions, generate, glb_path, manifest, model_info,
                      parameters)

__all__ = ["CATEGORIES", "GENERATOR_VERSION", "face_regions", "generate", "glb_path", "manifest", "model_info",
           "parameters"]
