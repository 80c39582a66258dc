"""publish-dataset: curated, licensed, verifiable releases of eopose dataset folders.

`release` builds a release folder (splits by model identity, licence filter, shards per split), `card`
writes the Hugging Face dataset card and preview, `croissant` the Croissant JSON-LD, `attribution` the
per-object credits and refusals, `checksums` SHA256SUMS, `hub` uploads, `cli` is the command line.
The layout is documented in docs/publishing.md.
"""
