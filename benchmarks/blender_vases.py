"""A second source of vases, modelled in Blender and painted by its own code, used only to evaluate nocs-net on
"a generator the network never saw" (eopose issue 23): nothing here shares code with render/procedural.

Each vase is a profile polyline from the axis at the floor up to the mouth (radius as a base plus Gaussian swells
and pinches along the height, sometimes with a straight-sided segment), turned 360 degrees by Blender's Screw
modifier, thickened by Solidify, smoothed by Subdivision Surface and, for some, made uneven by a Displace
modifier with a Clouds texture, squeezed to an oval section or bent by Simple Deform; handles are Bezier
curves with a round or flat bevel. The texture is a 512 px image drawn with numpy and PIL in this file: a
crackle (Voronoi) glaze, a two-tone dipped glaze with drips, rings or a mottled clay, a painted band of motifs,
and a painted emblem at the front. Export: GLB through Blender's glTF exporter (+Y up, front +Z in glTF, so
Blender's own +Z up, front -Y: the canonical frame of docs/dataset-format.md, no manifest needed).

    .venv/bin/python benchmarks/blender_vases.py --out out/nocs/blender-vases --count 40 --seed 0
    render-pairs --category vases --source dir --mesh-dir out/nocs/blender-vases --num-quads 60 --resolution 64 \\
        --samples 8 --seed 14 --lighting random --camera random --workers 1 --threads 1 --out out/nocs/blender-rr
    eval-correspondences out/nocs/blender-rr --method nocs-net --weights RUN/checkpoints/final.pt
    .venv/bin/python benchmarks/nocs_net.py --data out/nocs/blender-rr --split all --background random \\
        --weights RUN/checkpoints/final.pt
"""
import argparse
import colorsys
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy.spatial import cKDTree

TEXTURE = 512


def hsv(h, s, v) -> tuple:
    return tuple(int(255 * c) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def profile_points(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """(points [n, 2] as (radius, height) from the axis at the floor to the mouth, height)."""
    height = rng.uniform(0.5, 2.0)
    z = np.linspace(0.0, height, 40)
    radius = np.full_like(z, rng.uniform(0.15, 0.4))
    for _ in range(int(rng.integers(1, 4))):  # swells (positive) and pinches (negative)
        centre, width = rng.uniform(0.1, 0.9) * height, rng.uniform(0.08, 0.35) * height
        radius += rng.uniform(-0.25, 0.35) * np.exp(-0.5 * ((z - centre) / width) ** 2)
    if rng.random() < 0.3:  # a straight-sided (conical) upper part
        start = int(rng.integers(15, 30))
        radius[start:] = np.linspace(radius[start], radius[start] * rng.uniform(0.5, 1.6), len(z) - start)
    radius = np.clip(radius, 0.05, 0.7)
    if rng.random() < 0.5:  # an everted lip
        radius[-3:] *= np.array([1.05, 1.12, 1.2]) * rng.uniform(1.0, 1.2)
    floor = np.array([[0.0, 0.0], [radius[0] * 0.7, 0.0]])
    return np.concatenate([floor, np.stack([radius, z], 1)]), height


def voronoi_crackle(rng, size: int) -> np.ndarray:
    """float [size, size]: distance to the cell border of random seeds (wrapping in u), 0 on the cracks."""
    seeds = rng.random((int(rng.integers(40, 160)), 2)) * size
    seeds = np.concatenate([seeds, seeds + [size, 0], seeds - [size, 0]])
    pixels = np.stack(np.mgrid[:size, :size][::-1], -1).reshape(-1, 2) + 0.5
    distances = cKDTree(seeds).query(pixels, k=2)[0].reshape(size, size, 2)
    return np.clip((distances[..., 1] - distances[..., 0]) / 6.0, 0, 1)


def glaze(rng, size: int) -> np.ndarray:
    """float RGB [size, size, 3] in [0, 255]: the body's glaze (row 0 = the mouth, v grows downwards here)."""
    hue = rng.random()
    first = np.array(hsv(hue, rng.uniform(0.1, 0.8), rng.uniform(0.3, 0.95)), float)
    second = np.array(hsv(hue + rng.uniform(-0.3, 0.3), rng.uniform(0.1, 0.9), rng.uniform(0.15, 0.95)), float)
    rows = np.linspace(0, 1, size)[:, None, None]
    kind = rng.choice(["crackle", "dipped", "rings", "mottled"])
    if kind == "crackle":
        crack = voronoi_crackle(rng, size)[..., None]
        return first * crack + second * (1 - crack)
    if kind == "dipped":
        columns = np.arange(size)
        edge = rng.uniform(0.3, 0.7) + 0.05 * np.sin(columns / size * 2 * np.pi * rng.integers(2, 9))
        drips = rng.random(size) < 0.04
        edge = edge + drips * rng.uniform(0.05, 0.2, size)
        edge = np.convolve(edge, np.ones(5) / 5, mode="same")
        return np.where(rows < edge[None, :, None], first, second)
    if kind == "rings":
        count = rng.uniform(4, 25)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * count * rows[..., 0] + rng.uniform(0, 6))
        return first * t[..., None] + second * (1 - t[..., None])
    cells = rng.random((12, 12))
    mottle = np.asarray(Image.fromarray((cells * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC), float)
    t = (mottle / 255.0)[..., None]
    return first * t + second * (1 - t)


def emblem(draw: ImageDraw.ImageDraw, rng, centre: tuple, radius: float, colour: tuple) -> None:
    """A painted flower, sun or cartouche with a glyph, centred at `centre`."""
    cx, cy = centre
    kind = rng.choice(["flower", "sun", "cartouche"])
    if kind == "flower":
        petals = int(rng.integers(4, 9))
        for k in range(petals):
            a = 2 * math.pi * k / petals
            px, py = cx + 0.55 * radius * math.cos(a), cy + 0.55 * radius * math.sin(a)
            draw.ellipse((px - radius * 0.4, py - radius * 0.4, px + radius * 0.4, py + radius * 0.4), fill=colour)
        draw.ellipse((cx - radius * 0.3, cy - radius * 0.3, cx + radius * 0.3, cy + radius * 0.3), fill=(240, 200, 40))
    elif kind == "sun":
        draw.ellipse((cx - radius * 0.5, cy - radius * 0.5, cx + radius * 0.5, cy + radius * 0.5), fill=colour)
        for k in range(12):
            a = 2 * math.pi * k / 12
            draw.line((cx + 0.6 * radius * math.cos(a), cy + 0.6 * radius * math.sin(a),
                       cx + radius * math.cos(a), cy + radius * math.sin(a)), fill=colour, width=4)
    else:
        draw.rounded_rectangle((cx - radius, cy - radius * 0.6, cx + radius, cy + radius * 0.6), radius * 0.3,
                               fill=(235, 225, 200), outline=colour, width=5)
        draw.line((cx - radius * 0.6, cy, cx + radius * 0.6, cy), fill=colour, width=6)
        draw.line((cx, cy - radius * 0.4, cx, cy + radius * 0.4), fill=colour, width=6)


def paint(rng) -> Image.Image:
    """The texture: glaze, sometimes a band of small motifs, the front emblem at u = 0.5, at times a second one."""
    image = Image.fromarray(glaze(rng, TEXTURE).clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    ink = hsv(rng.random(), rng.uniform(0.5, 1.0), rng.uniform(0.2, 0.8))
    if rng.random() < 0.5:
        row, count = rng.uniform(0.15, 0.5) * TEXTURE, int(rng.integers(6, 16))
        for k in range(count):
            x = (k + 0.5) * TEXTURE / count
            draw.ellipse((x - 6, row - 6, x + 6, row + 6), outline=ink, width=3)
        draw.line((0, row - 12, TEXTURE, row - 12), fill=ink, width=3)
        draw.line((0, row + 12, TEXTURE, row + 12), fill=ink, width=3)
    front_row = rng.uniform(0.35, 0.65) * TEXTURE
    emblem(draw, rng, (TEXTURE / 2, front_row), rng.uniform(25, 60), ink)
    if rng.random() < 0.3:
        emblem(draw, rng, (rng.uniform(0.1, 0.3) * TEXTURE, rng.uniform(0.3, 0.7) * TEXTURE), 20, ink)
    return image


def build(rng, texture_path: Path, out_path: Path) -> None:
    """Model, texture and export one vase."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    points, height = profile_points(rng)
    mesh = bpy.data.meshes.new("profile")
    mesh.from_pydata([(r, 0.0, z) for r, z in points], [(k, k + 1) for k in range(len(points) - 1)], [])
    body = bpy.data.objects.new("vase", mesh)
    bpy.context.collection.objects.link(body)
    screw = body.modifiers.new("screw", "SCREW")
    screw.axis, screw.angle, screw.steps, screw.render_steps = "Z", 2 * math.pi, 48, 48
    screw.use_merge_vertices, screw.use_normal_calculate = True, True
    solidify = body.modifiers.new("solidify", "SOLIDIFY")
    solidify.thickness, solidify.offset = rng.uniform(0.015, 0.04), -1.0
    body.modifiers.new("subsurf", "SUBSURF").levels = 1
    if rng.random() < 0.4:
        clouds = bpy.data.textures.new("clouds", "CLOUDS")
        clouds.noise_scale = rng.uniform(0.2, 0.6)
        displace = body.modifiers.new("displace", "DISPLACE")
        displace.texture, displace.strength = clouds, rng.uniform(0.01, 0.04)
    if rng.random() < 0.3:
        bend = body.modifiers.new("bend", "SIMPLE_DEFORM")
        bend.deform_method, bend.angle, bend.deform_axis = "BEND", math.radians(rng.uniform(-25, 25)), "X"
    depth = rng.uniform(0.6, 0.9) if rng.random() < 0.35 else 1.0
    body.scale = (1.0, depth, 1.0)  # an oval section (flat front and back) for some
    depsgraph = bpy.context.evaluated_depsgraph_get()
    solid = bpy.data.meshes.new_from_object(body.evaluated_get(depsgraph))
    solid.transform(body.matrix_world)
    parts = [solid]
    for side in {0: [], 1: [2], 2: [0, 1]}[int(rng.choice([0, 0, 1, 2, 2]))]:
        parts.append(handle(rng, points, height, side, depth))
    vase = bpy.data.objects.new("vase-final", join(parts))
    bpy.context.collection.objects.link(vase)
    bpy.data.objects.remove(body)
    unwrap(vase.data, height)
    image = paint(rng)
    image.save(texture_path)
    material = bpy.data.materials.new("glaze")
    material.use_nodes = True
    nodes = material.node_tree.nodes
    texture = nodes.new("ShaderNodeTexImage")
    texture.image = bpy.data.images.load(str(texture_path))
    shader = nodes["Principled BSDF"]
    shader.inputs["Roughness"].default_value = float(rng.uniform(0.2, 0.8))
    material.node_tree.links.new(texture.outputs["Color"], shader.inputs["Base Color"])
    vase.data.materials.append(material)
    for obj in bpy.context.scene.objects:
        obj.select_set(obj is vase)
    bpy.ops.export_scene.gltf(filepath=str(out_path), export_format="GLB", use_selection=True)


def handle(rng, points, height, side: int, depth: float):
    """A handle mesh on side `side`: 0 at -X, 1 at +X, 2 at the back (+Y) of a body `depth` deep (Y scale)."""
    import bpy

    top_z, bottom_z = np.sort(rng.uniform(0.3, 0.9, 2) * height)
    bottom_z = min(bottom_z, top_z - 0.12 * height)
    radius_at = lambda z: float(np.interp(z, points[2:, 1], points[2:, 0]))
    reach = rng.uniform(0.08, 0.25)
    direction = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, depth]][side])
    curve = bpy.data.curves.new("handle", "CURVE")
    curve.dimensions = "3D"
    curve.bevel_depth = rng.uniform(0.02, 0.045)
    spline = curve.splines.new("BEZIER")
    spline.bezier_points.add(2)
    middle = (top_z + bottom_z) / 2
    for point, (r, z) in zip(spline.bezier_points, ((radius_at(top_z) * 0.95, top_z),
                                                    (max(radius_at(middle), radius_at(top_z)) + reach, middle),
                                                    (radius_at(bottom_z) * 0.95, bottom_z))):
        point.co = (direction[0] * r, direction[1] * r, z)
        point.handle_left_type = point.handle_right_type = "AUTO"
    holder = bpy.data.objects.new("handle", curve)
    bpy.context.collection.objects.link(holder)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    mesh = bpy.data.meshes.new_from_object(holder.evaluated_get(depsgraph))
    bpy.data.objects.remove(holder)
    return mesh


def join(meshes):
    """One mesh holding all `meshes` (bmesh)."""
    import bmesh
    import bpy

    combined = bmesh.new()
    for mesh in meshes:
        combined.from_mesh(mesh)
    out = bpy.data.meshes.new("vase")
    combined.to_mesh(out)
    combined.free()
    return out


def unwrap(mesh, height: float) -> None:
    """Cylindrical UVs: u = azimuth with the front (-Y) at 0.5, v = height; faces across the back seam keep
    u continuous (the glTF sampler repeats)."""
    layer = mesh.uv_layers.new(name="UVMap")
    for polygon in mesh.polygons:
        coordinates = []
        for loop in polygon.loop_indices:
            x, y, z = mesh.vertices[mesh.loops[loop].vertex_index].co
            coordinates.append([math.atan2(x, -y) / (2 * math.pi) + 0.5, z / height])
        coordinates = np.array(coordinates)
        if np.ptp(coordinates[:, 0]) > 0.5:
            coordinates[coordinates[:, 0] < 0.5, 0] += 1.0
        for loop, uv in zip(polygon.loop_indices, coordinates):
            layer.data[loop].uv = (float(uv[0]), float(uv[1]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the GLB files (and their textures)")
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.count < 1:
        print("blender_vases.py: --count must be at least 1", file=sys.stderr)
        return 2
    textures = args.out / "textures"
    textures.mkdir(parents=True, exist_ok=True)
    for number in range(args.count):
        rng = np.random.default_rng([args.seed, number])
        build(rng, textures / f"blender-vase-{number:03d}.png", args.out / f"blender-vase-{number:03d}.glb")
    print(f"{args.count} vases in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
