"""`xintud dupes PATH...`: duplicates, bursts and the best shot among files and folders,
offline — like `xintud classify`, with no daemon and nothing moved."""

from __future__ import annotations

import argparse
from pathlib import Path

from xintud.cli.dupes_text import format_group
from xintud.cli.offline import analyse_files
from xintud.core.text import json_text


def add_dupes_command(commands: argparse._SubParsersAction, add_json_flag) -> None:  # type: ignore[type-arg]
    """Register `dupes` on xintud's subcommands."""
    dupes = commands.add_parser(
        "dupes", help="group copies and bursts among image files or folders; suggest the best")
    dupes.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    add_json_flag(dupes, "one JSON object per group per line", sub=True)
    dupes.add_argument("--all", action="store_true",
                       help="also print the photos that are in no group")
    dupes.add_argument("--tier", choices=("exact", "same", "burst", "similar"), default="burst",
                       help="the loosest tier that makes a group (default: %(default)s); "
                            "similar: alike in content only, shown on request")
    dupes.add_argument("--threads", type=int, default=2, help="inference threads")


def run_dupes(args: argparse.Namespace, paths: list[Path]) -> int:
    """Analyse the files, group them, print the groups; exit 1 when some file failed."""
    from xintud.duplicates.compare import Tier
    from xintud.duplicates.fingerprint import fingerprint_of_file
    from xintud.duplicates.report import find_groups

    analysed = analyse_files(args, paths)
    if analysed is None:
        return 2
    analyses, failures = analysed
    fingerprints = [fingerprint_of_file(result, key=result.path) for result in analyses]
    for report in find_groups(fingerprints, Tier(args.tier), include_singles=args.all):
        group = report.model_dump(mode="json")
        print(json_text(group) if args.json else format_group(group), flush=True)
    return 1 if failures else 0
