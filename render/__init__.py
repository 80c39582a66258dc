"""eopose.render: Blender-headless quadruplet renderer (`render-pairs`) with exact geometric ground truth.

Modules: `cli` (render-pairs), `run` (partition orchestration, resume, failures), `worker` (spawned
Blender worker processes), `blender_scene` (bpy scene, import, normalisation, Cycles), `passes`
(exact mask/depth/NOCS by pixel-centre rasterisation), `camera` (K, E, Euler convention), `plan`
(seeds, rotations, pairs, shard partition), `sources` / `objaverse_source` (model sources),
`preview` (contact sheet), `procedural` (built-in asset library).
"""
