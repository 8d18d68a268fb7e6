"""The control protocol: newline-delimited JSON requests and replies, and the command registry.

Wire format: each request is one line `{"cmd": "...", "args": {...}}`; each gets exactly one
response line, `{"ok": true, "result": {...}}` or `{"ok": false, "error": "..."}`. A connection
may carry several requests, answered in order.

`ARGS_MODELS` is the one registry of commands: the server accepts exactly these, the handlers
have one method per entry, and xintuctl has one subcommand per entry (a test holds the three
together).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from xintud.core.text import json_text

MAX_LINE_BYTES = 64 * 1024


class NoArgs(BaseModel):
    """Arguments of commands that take none (status, pause, resume, reload)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ScanArgs(NoArgs):
    """`scan`: rescan every watched folder, or only `path`."""

    path: str | None = None


class RecentArgs(NoArgs):
    """`recent`: the last `limit` processed files."""

    limit: int = Field(20, ge=1, le=1000)


class ExplainArgs(NoArgs):
    """`explain`: the analysis record of one file."""

    path: str = Field(min_length=1)


class UndoArgs(NoArgs):
    """`undo`: undo the last `count` actions, only those done at or after `since` (unix time)."""

    count: int = Field(1, ge=1, le=10000)
    since: float | None = Field(None, allow_inf_nan=False)


class DupesArgs(NoArgs):
    """`dupes`: list the groups (no tighter than `tier`), or set the non-best members of
    `groups` (or of all groups) aside into the library's review folder."""

    action: Literal["list", "set_aside"] = "list"
    tier: Literal["exact", "same", "burst"] = "burst"
    groups: list[str] = Field(default_factory=list, max_length=10000)
    all: bool = False


class ReviewArgs(NoArgs):
    """`review`: write the review page (groups, best shots, blurry/accidental photos)."""

    html: str = Field(min_length=1)
    tier: Literal["exact", "same", "burst"] = "burst"


class CorrectArgs(NoArgs):
    """`correct`: give the filed photo at `path` the category `category`."""

    path: str = Field(min_length=1)
    category: str = Field(min_length=1, max_length=100)


class ModelArgs(NoArgs):
    """`model`: list the versions of what the user taught, refit now, or roll back to
    `version` (a name, "shipped", or none: the one before)."""

    action: Literal["list", "refit", "rollback"] = "list"
    version: str | None = Field(None, min_length=1, max_length=40)


class TeachArgs(NoArgs):
    """`teach`: a category of the user's own from example photos (files or folders); with
    `from_folder` and no name, the library folders that could be one."""

    name: str | None = Field(None, min_length=1, max_length=100)
    paths: list[str] = Field(default_factory=list, max_length=10000)
    from_folder: bool = False


class ForgetArgs(NoArgs):
    """`forget`: remove a category of the user's own (its photos stay where they are)."""

    name: str = Field(min_length=1, max_length=100)


class RefileArgs(NoArgs):
    """`refile`: move filed photos the model in use would file elsewhere (or only say so)."""

    dry_run: bool = False


CommandArgs = (ScanArgs | RecentArgs | ExplainArgs | UndoArgs | DupesArgs | ReviewArgs
               | CorrectArgs | ModelArgs | RefileArgs | TeachArgs | ForgetArgs | NoArgs)


ARGS_MODELS: dict[str, type[NoArgs]] = {
    "status": NoArgs,
    "pause": NoArgs,
    "resume": NoArgs,
    "scan": ScanArgs,
    "recent": RecentArgs,
    "explain": ExplainArgs,
    "undo": UndoArgs,
    "reload": NoArgs,
    "dupes": DupesArgs,
    "review": ReviewArgs,
    "correct": CorrectArgs,
    "model": ModelArgs,
    "refile": RefileArgs,
    "teach": TeachArgs,
    "forget": ForgetArgs,
    "albums": NoArgs,
}
# The command names, from the one registry above.
Command = Literal[tuple(ARGS_MODELS)]  # type: ignore[valid-type]


class ControlRequest(BaseModel):
    """One validated request; `args` is the model for `cmd` (e.g. RecentArgs for "recent")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cmd: Command
    args: CommandArgs = Field(default_factory=dict, validate_default=True)

    @field_validator("args", mode="before")
    @classmethod
    def _validate_args_for_cmd(cls, value: Any, info: ValidationInfo) -> Any:
        cmd = info.data.get("cmd")
        if cmd is None:
            return NoArgs()  # cmd itself is invalid: report that error alone
        if value is None:
            value = {}
        try:
            return ARGS_MODELS[cmd].model_validate(value)
        except ValidationError as exc:
            raise PydanticCustomError(
                "invalid_args", "{detail}", {"detail": _describe_errors(exc, prefix="args")}
            ) from None


def _describe_errors(exc: ValidationError, prefix: str = "") -> str:
    """Turn a ValidationError into one readable line: `args.limit: Input should be ...`."""
    parts = []
    for error in exc.errors(include_url=False):
        if error["type"] == "invalid_args":
            parts.append(error["msg"])
            continue
        loc = ".".join(str(p) for p in error["loc"])
        where = ".".join(p for p in (prefix, loc) if p) or "request"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def parse_request(line: bytes | str) -> ControlRequest:
    """Parse one request line; raise RequestError with a message meant for the client."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
    except UnicodeDecodeError:
        raise RequestError("malformed request: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RequestError(f"malformed JSON: {exc}") from None
    except RecursionError:
        # `[[[[...` within the size limit: json recurses per level. Not a ValueError, and
        # uncaught it would leave the client without a reply.
        raise RequestError("malformed request: JSON nested too deeply") from None
    try:
        return ControlRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestError(f"invalid request: {_describe_errors(exc)}") from None


class RequestError(ValueError):
    """A request line that is not valid JSON or not a valid ControlRequest."""


class ControlCommandError(Exception):
    """Raise from a handler for expected failures (unknown file, bad path): logged briefly."""


def _json_default(value: object) -> object:
    """Let handlers return Paths and enums; anything else unknown is a bug worth reporting."""
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_reply(reply: Mapping[str, Any]) -> bytes:
    """One response line, UTF-8, newline-terminated (non-UTF-8 names as \\udcXX escapes)."""
    return json_text(reply, default=_json_default).encode("utf-8") + b"\n"


def error_reply(message: str) -> bytes:
    """The response line for a failed request."""
    return encode_reply({"ok": False, "error": message})
