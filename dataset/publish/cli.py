"""`publish-dataset`: build, verify and upload releases (see docs/publishing.md).

    publish-dataset DATA_DIR [DATA_DIR ...] --out RELEASE_DIR [--name NAME] [--license-policy redistributable|all]
                    [--quads-per-shard N] [--overwrite] [--push-to-hub REPO]
    publish-dataset --verify RELEASE_DIR [--push-to-hub REPO]
"""
from __future__ import annotations

import argparse
import sys

from ..cli import report_problems
from ..shard_format import DatasetFormatError
from .croissant import CroissantError
from .hub import HubError, push_to_hub
from .licenses import POLICIES
from .release import ReleaseError, build_release, verify_release


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="publish-dataset", description=__doc__.split("\n")[0])
    parser.add_argument("sources", nargs="*", metavar="DATA_DIR", help="eopose dataset folders to publish")
    parser.add_argument("--out", help="release folder to create (built next to it, moved into place when complete)")
    parser.add_argument("--name", help="pretty name of the release (default: the --out folder name)")
    parser.add_argument("--license-policy", choices=POLICIES, default="redistributable",
                        help="redistributable (default): refuse ND, NC and store licences; all: keep every model "
                             "(internal use only; such a release cannot be pushed)")
    parser.add_argument("--quads-per-shard", type=int, default=64, help="rows per published shard (default 64)")
    parser.add_argument("--url", default="", help="where the release will live (Croissant `url`)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing release at --out")
    parser.add_argument("--verify", metavar="RELEASE_DIR", help="recheck a release: checksums, schemas, Croissant")
    parser.add_argument("--push-to-hub", metavar="REPO", help="upload the (verified) release to this HF dataset repo")
    return parser


def _build(args) -> str:
    summary = build_release(args.sources, args.out, args.name, args.license_policy, args.overwrite,
                            args.quads_per_shard, args.url)
    print(f"{args.out}: " + ", ".join(f"{split} {count}" for split, count in summary["quadruplets"].items())
          + f" quadruplets of {summary['models']} models; licences {', '.join(summary['licences']) or '-'}")
    for reason, count in summary["excluded"].items():
        print(f"  left out: {count} {reason}")
    if summary["refused"]:
        print(f"  refused {len(summary['refused'])} objects (licence policy {args.license_policy}, see REFUSED.md):")
        for line in summary["refused"]:
            print(f"  {line}")
    return args.out


def _verify(release: str) -> int:
    return report_problems(verify_release(release), f"{release}: checksums, split schemas and croissant.json verified")


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if bool(args.verify) == bool(args.sources or args.out):
        parser.error("give either DATA_DIR ... --out RELEASE_DIR, or --verify RELEASE_DIR")
    if args.sources and not args.out:
        parser.error("--out RELEASE_DIR is required when building a release")
    if args.quads_per_shard < 1:
        parser.error("--quads-per-shard must be at least 1")
    try:
        release = args.verify or _build(args)
        status = _verify(release) if args.verify else 0
        if status == 0 and args.push_to_hub:
            print(f"pushed to {push_to_hub(release, args.push_to_hub)}")
        return status
    except (ReleaseError, DatasetFormatError, CroissantError, HubError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
