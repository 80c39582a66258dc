"""``python -m eopose.render.procedural [PATH]``: rewrite the manifest from the parameter tables."""
import sys

from .library import write_manifest

write_manifest(sys.argv[1] if len(sys.argv) > 1 else "manifests/procedural.json")
