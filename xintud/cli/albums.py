"""`xintud albums PATH...`: events and trips among files and folders, offline — like `xintud
classify`, with no daemon and nothing moved or linked."""

from __future__ import annotations

import argparse
from collections.abc import Container
from pathlib import Path
from typing import Any

from xintud.cli.offline import analyse_files
from xintud.core.text import json_text, printable


def add_albums_command(commands: argparse._SubParsersAction, add_json_flag) -> None:  # type: ignore[type-arg]
    """Register `albums` on xintud's subcommands."""
    albums = commands.add_parser(
        "albums", help="events and trips among image files or folders, from time, place "
                       "and content")
    albums.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    add_json_flag(albums, "one JSON object per album per line", sub=True)
    albums.add_argument("--threads", type=int, default=2, help="inference threads")


def album_json(album: Any, not_best: Container[Path] = frozenset()) -> dict[str, Any]:
    """The `--json` object of one album; its cover passes over `not_best` (the photos of
    duplicate groups that are not the group's best shot)."""
    return {"name": album.name, "kind": album.kind, "start": album.start.isoformat(),
            "end": album.end.isoformat(), "place": album.place, "count": len(album.members),
            "cover": str(album.cover_passing_over(not_best).path),
            "members": [str(m.path) for m in album.members],
            "dated_by_file_time": album.dated_by_file_time}


def format_album(album: Any, not_best: Container[Path] = frozenset()) -> str:
    """A header line (name, kind, count), then the photos, the cover marked `*`."""
    note = (f", {album.dated_by_file_time} dated by the file's time (no EXIF date)"
            if album.dated_by_file_time else "")
    cover = album.cover_passing_over(not_best).path
    lines = [printable(f"{album.name}  ({album.kind}, {len(album.members)} photos{note})")]
    lines += [printable(f"  {'*' if m.path == cover else ' '} {m.path}")
              for m in album.members]
    return "\n".join(lines)


def run_albums(args: argparse.Namespace, paths: list[Path]) -> int:
    """Analyse the files, gather them into albums, print them; exit 1 when some file failed."""
    from xintud.albums.moments import moment_of
    from xintud.albums.timeline import build_albums
    from xintud.duplicates.fingerprint import fingerprint_of_file
    from xintud.duplicates.report import find_groups, not_best

    analysed = analyse_files(args, paths)
    if analysed is None:
        return 2
    analyses, failures = analysed
    passed_over = not_best(find_groups(fingerprint_of_file(a, key=a.path) for a in analyses))
    for album in build_albums([moment_of(a, Path(a.path)) for a in analyses]):
        print(json_text(album_json(album, passed_over)) if args.json else
              format_album(album, passed_over), flush=True)
    return 1 if failures else 0


def format_albums_reply(result: dict[str, Any]) -> str:
    """`xintuctl albums`: a line per album (name, kind, count), or that there are none."""
    albums = result.get("albums") or []
    if not albums:
        return "no albums yet (they are made a few seconds after photos are filed)"
    return "\n".join(printable(f"{a.get('name')}  ({a.get('kind')}, {a.get('count')} photos)")
                     for a in albums)


def albums_json_lines(result: dict[str, Any]) -> str:
    """`xintuctl albums --json`: one album per line."""
    return "\n".join(json_text(album) for album in result.get("albums") or [])
