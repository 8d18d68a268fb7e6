"""`xintud dupes PATH...`: duplicates, bursts and the best shot among files and folders,
offline — like `xintud classify`, with no daemon and nothing moved."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xintud.cli.dupes_text import format_group
from xintud.core.text import json_text, printable


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
    from xintud.core.facts import Analysis
    from xintud.duplicates.compare import Tier
    from xintud.duplicates.fingerprint import fingerprint_of_file
    from xintud.duplicates.report import find_groups
    from xintud.engine.classify import Classifier, Job
    from xintud.engine.models.manifest import ModelError
    from xintud.engine.models.store import load_models

    try:
        models = load_models(threads=args.threads)
    except ModelError as exc:
        _error(args, str(exc))
        return 2
    fingerprints, failures = [], 0
    with Classifier(models, batch_size=8, decode_threads=2) as classifier:
        for result in classifier.classify(Job(path, None) for path in paths):
            if isinstance(result, Analysis):
                fingerprints.append(fingerprint_of_file(result, key=result.path))
            else:
                failures += 1
                _error(args, result.error)
    for report in find_groups(fingerprints, Tier(args.tier), include_singles=args.all):
        group = report.model_dump(mode="json")
        print(json_text(group) if args.json else format_group(group), flush=True)
    return 1 if failures else 0


def _error(args: argparse.Namespace, message: str) -> None:
    if args.json:
        print(json_text({"error": message}), flush=True)
    else:
        print(printable(f"xintud: {message}"), file=sys.stderr, flush=True)
