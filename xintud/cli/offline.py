"""What the offline commands over files share (`xintud dupes`, `xintud albums`): analyse the
files with the shipped models, and say errors as these commands do."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from xintud.core.text import json_text, printable

if TYPE_CHECKING:
    from xintud.core.facts import Analysis


def analyse_files(args: argparse.Namespace, paths: list[Path]
                  ) -> tuple[list[Analysis], int] | None:
    """The analyses of the files that could be read and how many could not (each said);
    None when the models cannot load (said too)."""
    from xintud.core.facts import Analysis
    from xintud.engine.classify import Classifier, Job
    from xintud.engine.models.manifest import ModelError
    from xintud.engine.models.store import load_models

    try:
        models = load_models(threads=args.threads)
    except ModelError as exc:
        command_error(args, str(exc))
        return None
    analyses, failures = [], 0
    with Classifier(models, batch_size=8, decode_threads=2) as classifier:
        for result in classifier.classify(Job(path, None) for path in paths):
            if isinstance(result, Analysis):
                analyses.append(result)
            else:
                failures += 1
                command_error(args, result.error)
    return analyses, failures


def command_error(args: argparse.Namespace, message: str) -> None:
    """An error line: a JSON object with --json, else on stderr."""
    if args.json:
        print(json_text({"error": message}), flush=True)
    else:
        print(printable(f"xintud: {message}"), file=sys.stderr, flush=True)
