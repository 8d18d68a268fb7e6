"""Control: what each `xintuctl` command does inside the daemon.

Called from the control socket's thread; every command is quick. Commands that change the
daemon's course (pause, scan, reload) only set a flag and wake the main loop.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from xintud.config.load import ConfigError, load_config
from xintud.config.schema import Config
from xintud.control.duplicates import list_groups, set_aside, write_review
from xintud.control.learning import LearningDesk
from xintud.control.protocol import ARGS_MODELS, ControlCommandError, ControlRequest
from xintud.core.hashing import sha256_file
from xintud.duplicates.library import LibraryDuplicates
from xintud.library.actor import Actor
from xintud.library.event_tags import is_event_action
from xintud.library.rating import is_rating_action
from xintud.library.review import is_in_review
from xintud.state.journal import Action, Journal
from xintud.state.queue import FileQueue
from xintud.state.records import FileState, Records


@dataclass
class DaemonFlags:
    """What the control thread asks of the main loop; read and cleared by the loop."""

    wake: threading.Event = field(default_factory=threading.Event)
    paused: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    scan_paths: list[Path | None] = field(default_factory=list)
    new_config: Config | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request_scan(self, path: Path | None) -> None:
        """Ask the loop to scan one folder (or every watch folder for None)."""
        with self.lock:
            self.scan_paths.append(path)
        self.wake.set()

    def take_scans(self) -> list[Path | None]:
        """The scans asked for since the last call."""
        with self.lock:
            scans, self.scan_paths = self.scan_paths, []
        return scans

    def offer_config(self, config: Config) -> None:
        """Hand a validated config to the loop."""
        with self.lock:
            self.new_config = config
        self.wake.set()

    def take_config(self) -> Config | None:
        """The config offered since the last call, if any."""
        with self.lock:
            config, self.new_config = self.new_config, None
        return config


HANDLER_PREFIX = "cmd_"


def handled_commands(handler: type) -> list[str]:
    """The commands a handler class has a cmd_<name> method for."""
    return [name[len(HANDLER_PREFIX):] for name in dir(handler)
            if name.startswith(HANDLER_PREFIX) and callable(getattr(handler, name))]


@dataclass
class Commands:
    """The handler behind the control socket."""

    flags: DaemonFlags
    queue: FileQueue
    records: Records
    journal: Journal
    actor: Actor
    act_lock: threading.Lock  # held by the loop while it moves files; undo takes it too
    config_path: Path | None
    model_version: Callable[[], str]
    started_at: float = field(default_factory=time.time)
    duplicates: LibraryDuplicates | None = None
    library_action: Callable[[], str] = lambda: "move"  # the config's [library] action, now
    backfill_progress: Callable[[], dict[str, Any] | None] = lambda: None
    learning: LearningDesk | None = None
    albums: Callable[[], list[dict[str, Any]]] | None = None

    def __post_init__(self) -> None:
        missing = sorted(set(ARGS_MODELS) - set(handled_commands(type(self))))
        if missing:  # a command added to the protocol but not here: fail at start, not on use
            raise TypeError(f"Commands has no handler for {', '.join(missing)}")

    def handle(self, request: ControlRequest) -> dict[str, Any]:
        """Dispatch one validated request to its cmd_<name> method."""
        method = getattr(self, f"{HANDLER_PREFIX}{request.cmd}")
        return method(request.args)

    def cmd_status(self, _args: object) -> dict[str, Any]:
        stats = self.records.stats()
        return {
            "state": "paused" if self.flags.paused.is_set() else "running",
            "queue": self.queue.pending_count(),
            "processed": stats.processed,
            "failed": stats.failed,
            "skipped": stats.by_state.get(FileState.SKIPPED.value, 0),
            "per_category": stats.by_category,
            "last_action": stats.last_action,
            "model": self.model_version(),
            "duplicates": self._duplicates_status(),
            "learning": None if self.learning is None else self.learning.status(),
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started_at, 1),
        }

    def _duplicates_status(self) -> dict[str, Any] | None:
        if self.duplicates is None:
            return None
        return {"photos": len(self.duplicates), "backfill": self.backfill_progress()}

    def _library_duplicates(self) -> LibraryDuplicates:
        if self.duplicates is None:
            raise ControlCommandError("duplicates are not tracked by this daemon")
        return self.duplicates

    def cmd_dupes(self, args: Any) -> dict[str, Any]:
        duplicates = self._library_duplicates()
        if args.action == "list":
            return {"groups": list_groups(duplicates, args.tier, self.actor.library_root)}
        return set_aside(duplicates, self.records, self.actor, self.act_lock,
                         self.library_action(), list(args.groups), args.all, args.tier)

    def cmd_review(self, args: Any) -> dict[str, Any]:
        return write_review(self._library_duplicates(), args.html, args.tier)

    def _learning(self) -> LearningDesk:
        if self.learning is None:
            raise ControlCommandError("this daemon does not learn from corrections")
        return self.learning

    def cmd_correct(self, args: Any) -> dict[str, Any]:
        return self._learning().correct(Path(args.path).expanduser(), args.category)

    def cmd_model(self, args: Any) -> dict[str, Any]:
        return self._learning().model(args.action, args.version)

    def cmd_refile(self, args: Any) -> dict[str, Any]:
        return self._learning().refile(args.dry_run)

    def cmd_teach(self, args: Any) -> dict[str, Any]:
        return self._learning().teach(args.name, [Path(p) for p in args.paths],
                                      args.from_folder)

    def cmd_forget(self, args: Any) -> dict[str, Any]:
        return self._learning().forget(args.name)

    def cmd_albums(self, _args: object) -> dict[str, Any]:
        if self.albums is None:
            raise ControlCommandError("this daemon keeps no albums")
        return {"albums": self.albums()}

    def cmd_pause(self, _args: object) -> dict[str, Any]:
        self.flags.paused.set()
        return {"message": "paused: new photos are queued but not filed until `xintuctl resume`"}

    def cmd_resume(self, _args: object) -> dict[str, Any]:
        self.flags.paused.clear()
        self.flags.wake.set()
        return {"message": f"resumed; {self.queue.pending_count()} photos in the queue"}

    def cmd_scan(self, args: Any) -> dict[str, Any]:
        path = Path(args.path).expanduser() if args.path else None
        if path is not None and not path.is_dir():
            raise ControlCommandError(f"cannot scan {path}: not a folder")
        self.flags.request_scan(path)
        return {"message": f"scanning {path or 'every watch folder'}; new photos will be queued"}

    def cmd_recent(self, args: Any) -> dict[str, Any]:
        items = []
        for record in self.records.recent(args.limit):
            items.append({
                "time": record.updated_at,
                "file": str(record.original_path or record.path),
                "category": record.category,
                "confidence": record.confidence,
                "action": record.action,
                "dest": str(record.path) if record.path != record.original_path else None,
                "state": record.state.value,
                "reason": record.reason or None,
            })
        return {"items": items}

    def cmd_explain(self, args: Any) -> dict[str, Any]:
        path = Path(args.path).expanduser().absolute()
        record = self.records.get_by_path(path)
        if record is None and path.is_file():
            record = self.records.get(sha256_file(path))
        if record is None:
            raise ControlCommandError(f"{path}: xintud has no record of this photo "
                                      "(not in a watch folder yet, or not processed)")
        result: dict[str, Any] = json.loads(record.result_json) if record.result_json else {
            "path": str(record.path)}
        if record.category and result.get("category") not in (None, record.category):
            # corrected or refiled since: the category is the one it is filed as now
            result["engine_category"] = result["category"]
            result["category"] = record.category
        result.update({"state": record.state.value, "action": record.action,
                       "dest": str(record.path), "reason": record.reason or None})
        return result

    def cmd_undo(self, args: Any) -> dict[str, Any]:
        undone = []
        with self.act_lock:
            for action in self.journal.done_actions(limit=args.count, since=args.since):
                outcome = self.actor.undo(action)
                undone.append({"src": str(action.src), "dst": str(action.dst),
                               "message": outcome.message})
                if outcome.ok:
                    self._record_undone(action)
        if not undone:
            raise ControlCommandError("nothing to undo")
        return {"undone": undone}

    def _record_undone(self, action: Action) -> None:
        record = self.records.get(action.sha256)
        if record is None or is_event_action(action):
            return  # an album keyword taken back leaves the photo filed as it is
        if self.learning is not None and self.learning.undone(action.sha256, action.src,
                                                              action.dst):
            return
        if is_in_review(action.dst, self.actor.library_root) or is_rating_action(action):
            # A set-aside taken back: the photo is filed again where it was, not unfiled.
            self.records.upsert(replace(record, path=action.src,
                                        action=f"set-aside undone: back at {action.src}"))
            return
        self.records.upsert(replace(record, path=action.src, state=FileState.UNDONE,
                                    action=f"undone: back at {action.src}"), allow_refile=True)

    def cmd_reload(self, _args: object) -> dict[str, Any]:
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            raise ControlCommandError(f"config not reloaded, the old one stays in use: {exc}"
                                      ) from exc
        self.flags.offer_config(config)
        return {"message": f"reloaded {self.config_path or 'the default config'}"}

