"""`xintud`: run the daemon (no subcommand) or classify files from the command line.

`--json` may come before or after the command: `xintud --json classify X` and
`xintud classify --json X` are the same; for the daemon itself it makes every log line a JSON
object.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from xintud import __version__
from xintud.cli.albums import add_albums_command, run_albums
from xintud.cli.dupes import add_dupes_command, run_dupes
from xintud.cli.output import until_reader_leaves
from xintud.core.text import json_text, printable
from xintud.intake.settle import IMAGE_SUFFIXES

if TYPE_CHECKING:
    from xintud.engine.learned import Learned
    from xintud.engine.models.store import LoadedModels


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of `xintud`."""
    parser = argparse.ArgumentParser(
        prog="xintud",
        description="Sort a photo library on this machine. With no command, run the daemon.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--config", type=Path, help="config file (default: the user config dir)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    add_json_flag(parser, "JSON output: log lines as JSON objects, results as JSON Lines")
    commands = parser.add_subparsers(dest="command")
    classify = commands.add_parser(
        "classify", help="classify image files or folders (recursively) and print the result"
    )
    classify.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    add_json_flag(classify, "one JSON object per line", sub=True)
    classify.add_argument("--embedding", action="store_true",
                          help="include the 1280-d embedding in --json output")
    classify.add_argument("--threads", type=int, default=min(4, os.cpu_count() or 2),
                          help="inference threads (default: %(default)s)")
    classify.add_argument("--batch-size", type=int, default=8)
    classify.add_argument("--kind", choices=("camera", "screenshots"),
                          help="treat the files as coming from this kind of folder")
    classify.add_argument("--providers", type=lambda text: [p for p in text.split(",") if p],
                          default=[], metavar="P[,P...]",
                          help="onnxruntime execution providers, e.g. cuda,cpu (default: cpu)")
    classify.add_argument("--shipped", action="store_true",
                          help="the shipped models alone, without what xintud learned from "
                               "your corrections (used by default, as the daemon does)")
    add_dupes_command(commands, add_json_flag)
    add_albums_command(commands, add_json_flag)
    return parser


def add_json_flag(parser: argparse.ArgumentParser, help_text: str, sub: bool = False) -> None:
    """`--json` on the top-level parser (default off) or on a command (given only when typed,
    so that `--json` before the command is not undone by the command's own default)."""
    parser.add_argument("--json", action="store_true",
                        default=argparse.SUPPRESS if sub else False, help=help_text)


def iter_image_paths(paths: Sequence[Path], skipped: Callable[[Path, str], None] | None = None
                     ) -> Iterator[Path]:
    """Files as given, and image files under folders (sorted, recursive, no dot-dirs).

    In a folder, a file with an image extension is taken; one with another extension is taken
    when its first bytes are those of an image (a JPEG saved as `.img`), and otherwise passed
    to `skipped(path, reason)`, so that nothing is left out without a word.
    """
    for path in paths:
        if path.is_dir() and path.suffix.lower() not in IMAGE_SUFFIXES:
            yield from _walk_folder(path, skipped)
        else:
            yield path


def _walk_folder(folder: Path, skipped: Callable[[Path, str], None] | None) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if name.startswith("."):
                continue
            if path.suffix.lower() in IMAGE_SUFFIXES or _looks_like_an_image(path):
                yield path
            elif skipped is not None:
                skipped(path, f"not an image (its name ends in {path.suffix or 'nothing'} and "
                              "its content is not a photo format xintud reads)")


def _looks_like_an_image(path: Path) -> bool:
    from xintud.engine.decode import sniff_format

    try:
        with open(path, "rb") as handle:
            return sniff_format(handle.read(16)) is not None
    except OSError:
        return True  # unreadable: let classify say why, with the file's name


def report_skipped(path: Path, reason: str) -> None:
    """Say on stderr that a file was left out, and why."""
    print(printable(f"xintud: skipped {path}: {reason}"), file=sys.stderr, flush=True)


def format_plain(result: object) -> str:
    """One human line: `name  category  0.93`, or `name  error: ...`."""
    from xintud.core.facts import Analysis

    if isinstance(result, Analysis):
        return printable(f"{result.path}  {result.category}  {result.confidence:.2f}")
    return printable(f"{result.path}  error: {result.error}")  # type: ignore[attr-defined]


def format_json(result: object, with_embedding: bool) -> str:
    """One JSON line per result; the embedding only when asked for."""
    from xintud.core.facts import BULKY_FIELDS, Analysis, result_to_json

    if not isinstance(result, Analysis):
        exclude = None
    else:
        exclude = set(BULKY_FIELDS) - ({"embedding"} if with_embedding else set())
    return result_to_json(result, exclude=exclude)  # type: ignore[arg-type]


def run_classify(args: argparse.Namespace) -> int:
    """`xintud classify`: exit 0 when every file was classified, 1 when some failed."""
    from xintud.core.facts import AnalysisFailure
    from xintud.engine.classify import Classifier, Job
    from xintud.engine.models.manifest import ModelError
    from xintud.engine.models.store import load_models

    try:
        models = load_models(threads=args.threads, providers=args.providers)
    except ModelError as exc:
        if args.json:
            print(json_text({"error": str(exc)}), flush=True)
        else:
            print(f"xintud: {exc}", file=sys.stderr)
        return 2
    try:
        learned = None if args.shipped else learned_in_use(models)
    except ValueError as exc:
        print(f"xintud: {exc}", file=sys.stderr)
        return 2
    failures = 0
    jobs = (Job(path, args.kind) for path in iter_image_paths(args.paths, report_skipped))
    with Classifier(models, batch_size=args.batch_size, decode_threads=2,
                    learned=learned) as classifier:
        for result in classifier.classify(jobs):
            failures += isinstance(result, AnalysisFailure)
            line = format_json(result, args.embedding) if args.json else format_plain(result)
            print(line, flush=True)
    return 1 if failures else 0


def learned_in_use(models: LoadedModels) -> Learned | None:
    """What the daemon learned from the user's corrections, as it uses it now (None: nothing
    learned). ValueError, saying what to do, when the version in use cannot be read."""
    from xintud.core.paths import default_state_dir
    from xintud.daemon.teaching import LEARNED_FOLDER
    from xintud.engine.learned import LearnedHeads
    from xintud.learning.versions import ModelVersions, VersionError

    shipped = LearnedHeads(models.glance_head, models.head, models.text_head)
    try:
        stored = ModelVersions(default_state_dir() / LEARNED_FOLDER).current(shipped)
    except VersionError as exc:
        raise ValueError(f"{exc}; or give --shipped") from exc
    return None if stored is None else stored.learned()


def configure_logging(verbose: bool, as_json: bool = False) -> None:
    """Plain lines on stderr (journald and launchd add their own timestamps), or JSON Lines.

    File names are escaped (a name with a newline stays on one line), and Python warnings —
    Pillow's about damaged EXIF, say — become log lines too instead of raw stderr text.
    """
    from xintud.core.text import JsonLineFormatter, PrintableFormatter

    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(JsonLineFormatter())
    else:
        handler.setFormatter(PrintableFormatter(
            "%(levelname)s %(message)s" if not sys.stderr.isatty()
            else "%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    warnings.showwarning = log_warning


def log_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                file: object = None, line: str | None = None) -> None:
    """warnings.showwarning as one log line (the stock one prints the source line below it)."""
    logging.getLogger("py.warnings").warning("%s: %s", category.__name__, str(message))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `xintud` console script."""
    return until_reader_leaves(run, argv)


def run(argv: Sequence[str] | None = None) -> int:
    """The command itself (see main)."""
    args = build_parser().parse_args(argv)
    # Pictures are analysed side by side, one thread each (engine/classify.py); numpy's
    # OpenBLAS threads would only fight them: with the machine busy, the lean of a
    # 1,000-correction memory took 8 ms a photo with two BLAS threads, 0.08 ms with one.
    # Set before numpy is first imported (nothing above imports it); the user's own setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if args.version:
        print(json_text({"version": __version__}) if args.json else f"xintud {__version__}")
        return 0
    if args.command == "classify":
        return run_classify(args)
    if args.command == "dupes":
        return run_dupes(args, list(iter_image_paths(args.paths, report_skipped)))
    if args.command == "albums":
        return run_albums(args, list(iter_image_paths(args.paths, report_skipped)))
    configure_logging(args.verbose, as_json=args.json)
    from xintud.daemon.main import run_daemon

    return run_daemon(args.config)


if __name__ == "__main__":
    raise SystemExit(main())
