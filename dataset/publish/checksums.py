"""SHA256SUMS over every file of a release, in `sha256sum` format (`<hex>  <relative path>`), and its check.

`sha256sum -c SHA256SUMS` (GNU coreutils) verifies a release without eopose installed.
"""
from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from ..shard_format import sha256_of

SUMS_NAME = "SHA256SUMS"


def _release_files(release_dir: Path) -> list[str]:
    return sorted(p.relative_to(release_dir).as_posix() for p in release_dir.rglob("*")
                  if p.is_file() and p.name != SUMS_NAME)


def write_sums(release_dir: Path) -> None:
    lines = [f"{sha256_of(release_dir / rel)}  {rel}" for rel in tqdm(_release_files(release_dir), desc="sha256",
                                                                     unit="file", leave=False)]
    (release_dir / SUMS_NAME).write_text("\n".join(lines) + "\n")


def check_sums(release_dir: Path) -> list[str]:
    """One line per problem naming the file: changed, missing, or not listed (empty list: all match)."""
    sums = release_dir / SUMS_NAME
    if not sums.is_file():
        return [f"{sums}: missing; this is not a complete release (rebuild it with publish-dataset)"]
    expected = {}
    for number, line in enumerate(sums.read_text().splitlines(), 1):
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64:
            return [f"{sums}:{number}: not a `sha256sum` line; rebuild the release with publish-dataset"]
        expected[rel] = digest
    problems = []
    for rel, digest in tqdm(sorted(expected.items()), desc="sha256", unit="file", leave=False):
        path = release_dir / rel
        if not path.is_file():
            problems.append(f"{path}: listed in SHA256SUMS but missing")
        elif sha256_of(path) != digest:
            problems.append(f"{path}: sha256 differs from SHA256SUMS (changed or corrupt); restore it from the "
                            f"published copy or rebuild the release")
    problems += [f"{release_dir / rel}: not listed in SHA256SUMS (added after publishing); remove it"
                 for rel in _release_files(release_dir) if rel not in expected]
    return problems
