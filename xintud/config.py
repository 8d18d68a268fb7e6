"""The one TOML config file: load, validate (pydantic v2) and render the library layout.

A bad file is refused as a whole with ConfigError, never partly used: the message names the
file, each bad key as a path (``library.action``, ``watch[1].kind``,
``categories.food.folder``) and the reason. Unknown keys are refused so that a typo cannot
silently fall back to a default. config.example.toml at the repo root documents every key.
"""

from __future__ import annotations

import logging
import os
import string
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from xintud.categories import CATEGORY_IDS, category_by_id
from xintud.paths import default_config_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

logger = logging.getLogger(__name__)

DEFAULT_CATEGORY_FOLDERS: Mapping[str, str] = {
    "social": "Social",
    "pets": "Pets",
    "single": "Single",
    "food": "Food",
    "travel": "Travel",
    "screenshot": "Screenshots",
    "idphoto": "ID Photos",
    "other": "Other",
}
LAYOUT_PLACEHOLDERS: tuple[str, ...] = ("category", "category_id", "year", "month", "day")
DEFAULT_LAYOUT = "{category}/{year}/{month}"

# Literal built from the one list of ids, so a new category needs no edit here.
CategoryId = Literal[CATEGORY_IDS]  # type: ignore[valid-type]


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file, key paths and reasons."""

    def __init__(
        self, message: str, *, path: Path | None = None,
        problems: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.path = path
        self.problems = list(problems)


class KeyedValueError(ValueError):
    """A validation failure that knows its own key path (for checks across several keys)."""

    def __init__(self, key_path: str, reason: str) -> None:
        super().__init__(f"{key_path}: {reason}")
        self.key_path = key_path
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# Value checks shared by the models


def relative_folder_problem(text: str) -> str | None:
    """Why text is not a safe folder path relative to the library root, or None."""
    if not text:
        return "is empty"
    if "\0" in text:
        return "contains a NUL character"
    if "\\" in text:
        return "contains a backslash; separate folders with /"
    if text.startswith("/") or PureWindowsPath(text).drive:
        return "is absolute; it must be relative to library.root"
    for part in text.split("/"):
        if part == "":
            return "has an empty folder name (a leading, trailing or double /)"
        if part in (".", ".."):
            return f"contains {part!r}; folders must stay inside library.root"
    return None


def _check_relative_folder(text: str) -> str:
    problem = relative_folder_problem(text)
    if problem is not None:
        raise ValueError(f"{text!r} {problem}")
    return text


def _absolute_user_path(value: object) -> Path:
    """A path string from the file: ~ expanded, normalised; relative paths are refused."""
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a path string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError("path is empty")
    if "\0" in value:
        raise ValueError("path contains a NUL character")
    expanded = Path(os.path.expanduser(value))
    if not expanded.is_absolute():
        # A daemon's working directory is arbitrary, so a relative path has no clear meaning.
        raise ValueError(
            f"relative path {value!r} is refused; write it from your home as "
            f"'~/{value}' or as an absolute path"
        )
    return Path(os.path.normpath(expanded))


def _check_glob(pattern: str) -> str:
    if not pattern.strip():
        raise ValueError("pattern is empty")
    if "/" in pattern or "\\" in pattern:
        raise ValueError(
            f"{pattern!r} contains a path separator; ignore patterns match file names only"
        )
    return pattern


def layout_problem(layout: str) -> str | None:
    """Why a layout template is unusable, or None.

    Placeholders are never empty and never contain '..', so rendering the template with
    sample values shows whether any literal part could leave the library root.
    """
    try:
        fields = list(string.Formatter().parse(layout))
    except ValueError as error:
        return f"{layout!r} is not a valid template ({error}); write braces as {{{{ and }}}}"
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in LAYOUT_PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in LAYOUT_PLACEHOLDERS)
            return f"unknown placeholder {{{name}}}; known: {known}"
        if spec or conversion:
            return f"placeholder {{{name}}} cannot take a format spec or conversion"
    sample = _fill_layout(layout, "Category", "other", datetime(2026, 1, 2))
    problem = relative_folder_problem(sample)
    return None if problem is None else f"{layout!r} renders to {sample!r}, which {problem}"


def _check_layout(layout: str) -> str:
    problem = layout_problem(layout)
    if problem is not None:
        raise ValueError(problem)
    return layout


def _fill_layout(layout: str, folder: str, category_id: str, when: datetime) -> str:
    return layout.format_map({
        "category": folder,
        "category_id": category_id,
        "year": f"{when.year:04d}",
        "month": f"{when.month:02d}",
        "day": f"{when.day:02d}",
    })


def _resolved(path: Path) -> Path:
    # Symlinks are followed so a linked watch folder cannot hide inside the library.
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


# ---------------------------------------------------------------------------------------------
# Models


class _Strict(BaseModel):
    # strict: "8" is not 8 and "yes" is not true; TOML has real types, so a string is a slip.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class WatchFolder(_Strict):
    """A folder where new photos arrive."""

    path: Path
    kind: Literal["camera", "screenshots"] = "camera"

    @field_validator("path", mode="before")
    @classmethod
    def _expand_path(cls, value: object) -> Path:
        return _absolute_user_path(value)


class LibraryConfig(_Strict):
    """Where and how photos are filed."""

    root: Path = Field(default_factory=lambda: Path.home() / "Pictures" / "Xintu")
    action: Literal["move", "copy", "tag"] = "move"
    layout: Annotated[str, AfterValidator(_check_layout)] = DEFAULT_LAYOUT
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    below_threshold: Literal["leave", "other"] = "leave"

    @field_validator("root", mode="before")
    @classmethod
    def _expand_root(cls, value: object) -> Path:
        return _absolute_user_path(value)


class CategoryConfig(_Strict):
    """Per-category settings."""

    folder: Annotated[str, AfterValidator(_check_relative_folder)]


class DaemonConfig(_Strict):
    """How the daemon paces itself."""

    settle_seconds: float = Field(default=3.0, gt=0.0, le=3600.0)
    batch_size: int = Field(default=8, ge=1, le=256)
    batch_max_wait_seconds: float = Field(default=0.5, ge=0.0, le=60.0)
    inference_threads: int = Field(default=2, ge=1, le=256)
    dry_run: bool = False
    reconcile_interval_seconds: float = Field(default=900.0, ge=0.0)
    idle_unload_seconds: float = Field(default=300.0, ge=0.0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_log_level(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    def python_log_level(self) -> int:
        """The logging module's number for log_level."""
        return int(logging.getLevelName(self.log_level.upper()))


def _default_watch() -> list[WatchFolder]:
    home = Path.home()
    return [
        WatchFolder(path=home / "Pictures" / "Camera", kind="camera"),
        WatchFolder(path=home / "Pictures" / "Screenshots", kind="screenshots"),
    ]


def _default_categories() -> dict[str, CategoryConfig]:
    return {cid: CategoryConfig(folder=DEFAULT_CATEGORY_FOLDERS[cid]) for cid in CATEGORY_IDS}


class Config(_Strict):
    """The whole configuration; every key has a default."""

    watch: list[WatchFolder] = Field(default_factory=_default_watch)
    library: LibraryConfig = Field(default_factory=LibraryConfig)
    categories: dict[CategoryId, CategoryConfig] = Field(default_factory=_default_categories)
    ignore: list[Annotated[str, AfterValidator(_check_glob)]] = Field(default_factory=list)
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)

    @field_validator("watch", mode="after")
    @classmethod
    def _some_watch_folder(cls, value: list[WatchFolder]) -> list[WatchFolder]:
        if not value:
            raise ValueError("no folder to watch; list at least one [[watch]] table, or leave "
                             "the key out for the defaults")
        return value

    @field_validator("categories", mode="before")
    @classmethod
    def _default_folder_names(cls, value: object) -> object:
        # [categories.food] without `folder` keeps the default "Food", not an error.
        if not isinstance(value, Mapping):
            return value
        filled: dict[Any, Any] = {}
        for cid, table in value.items():
            if isinstance(table, Mapping) and "folder" not in table and cid in CATEGORY_IDS:
                table = {**table, "folder": DEFAULT_CATEGORY_FOLDERS[cid]}
            filled[cid] = table
        return filled

    @field_validator("categories", mode="after")
    @classmethod
    def _all_categories(cls, value: dict[str, CategoryConfig]) -> dict[str, CategoryConfig]:
        defaults = _default_categories()
        return {cid: value.get(cid, defaults[cid]) for cid in CATEGORY_IDS}

    @model_validator(mode="after")
    def _folders_do_not_overlap(self) -> Config:
        check_watch_folders(self.watch)
        if self.library.action != "tag":
            # Tagging leaves photos where they are, so only filing can loop.
            check_library_outside_watch(self.library.root, self.watch)
        return self


def check_watch_folders(watch: Sequence[WatchFolder]) -> None:
    """Refuse a watch folder listed twice or inside another (each photo would come twice)."""
    resolved = [_resolved(folder.path) for folder in watch]
    for later in range(len(watch)):
        for earlier in range(later):
            if _overlaps(resolved[later], resolved[earlier]):
                raise KeyedValueError(
                    f"watch[{later}].path",
                    f"{watch[later].path} overlaps watch[{earlier}].path {watch[earlier].path}"
                    f" (the same folder, or one inside the other). Fix: list only the outer "
                    f"folder once",
                )


def check_library_outside_watch(root: Path, watch: Sequence[WatchFolder]) -> None:
    """Refuse a watch folder inside the library root or containing it (endless re-filing)."""
    real_root = _resolved(root)
    for index, folder in enumerate(watch):
        real_watch = _resolved(folder.path)
        if not _overlaps(real_watch, real_root):
            continue
        where = "is inside" if real_watch.is_relative_to(real_root) else "contains"
        if real_watch == real_root:
            where = "is the same folder as"
        raise KeyedValueError(
            f"watch[{index}].path",
            f"{folder.path} {where} library.root {root}; filed photos would be seen as new "
            f"and filed again forever. Fix: choose a library.root outside every watch folder "
            f"(or use action = \"tag\")",
        )


# ---------------------------------------------------------------------------------------------
# Loading


def load_config(path: Path | None = None) -> Config:
    """Load and validate the config file.

    path None means the default file (user_config_dir/config.toml); when that file does not
    exist the built-in defaults are used. An explicit path that does not exist is an error.
    Raises ConfigError for a missing explicit file, unreadable file, bad TOML or bad values.
    """
    if path is None:
        path = default_config_file()
        if not path.exists():
            logger.info("no config file at %s; using built-in defaults", path)
            return Config()
    data = _read_toml(path)
    return validate_config(data, source=path)


def validate_config(data: Mapping[str, Any], source: Path | None = None) -> Config:
    """Validate parsed TOML data; raise ConfigError naming source, key paths and reasons."""
    try:
        return Config.model_validate(dict(data))
    except ValidationError as error:
        problems = [_describe_error(detail) for detail in error.errors()]
        raise ConfigError(_invalid_message(source, problems), path=source,
                          problems=problems) from None


def render_layout(config: Config, category: str, when: datetime) -> PurePosixPath:
    """The folder under library.root for a photo of this category taken at `when`.

    E.g. "Food/2026/11" for the default layout. Raises ValueError for an unknown category;
    the result never leaves the library root (checked again here, not only at load).
    """
    category_by_id(category)
    text = _fill_layout(config.library.layout, config.categories[category].folder,
                        category, when)
    problem = relative_folder_problem(text)
    if problem is not None:
        raise ValueError(f"library.layout rendered for {category!r} {problem}")
    return PurePosixPath(text)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found. Fix: create it (config.example.toml documents "
            f"every key) or leave out --config to use {default_config_file()}", path=path,
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file. Fix: point --config "
                          f"at the TOML file", path=path) from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file: {error.strerror}. Fix: check "
                          f"its permissions", path=path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start}). Fix: save the file "
                          f"as UTF-8", path=path) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}. Fix the syntax there",
                          path=path) from None


def _invalid_message(source: Path | None, problems: Sequence[tuple[str, str]]) -> str:
    where = str(source) if source is not None else "config"
    lines = [f"{where}: invalid config, refused:"]
    lines += [f"  {key}: {reason}" for key, reason in problems]
    lines.append("Fix these keys; config.example.toml documents each one.")
    return "\n".join(lines)


def _describe_error(detail: Mapping[str, Any]) -> tuple[str, str]:
    """(key path, reason) for one pydantic error."""
    cause = detail.get("ctx", {}).get("error")
    if isinstance(cause, KeyedValueError):
        return cause.key_path, cause.reason
    loc = tuple(detail["loc"])
    key = format_key_path(loc)
    kind = detail["type"]
    if kind == "extra_forbidden":
        valid = _valid_keys_at(loc[:-1])
        hint = f"; valid keys here: {', '.join(valid)}" if valid else ""
        return key, f"unknown key (a typo?){hint}"
    if kind == "missing":
        return key, "required key is missing"
    if loc and loc[-1] == "[key]":
        return key, (f"unknown category id {detail.get('input')!r}; valid ids: "
                     f"{', '.join(CATEGORY_IDS)}")
    if kind in ("model_type", "dict_type"):
        return key, f"expected a table, like [{key}]"
    if kind == "list_type" and key == "watch":
        return key, "expected a list: one [[watch]] table per folder"
    if kind == "list_type":
        return key, 'expected a list, like ["a", "b"]'
    reason = _plain_message(detail)
    value = detail.get("input")
    if isinstance(value, (str, int, float, bool)) and not isinstance(cause, Exception):
        reason += f" (got {value!r})"
    return key, reason


def _plain_message(detail: Mapping[str, Any]) -> str:
    message = str(detail["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def format_key_path(loc: Sequence[str | int]) -> str:
    """A pydantic location as a TOML key path: ("watch", 1, "kind") → "watch[1].kind"."""
    text = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _valid_keys_at(loc: Sequence[str | int]) -> list[str]:
    """The field names of the model found at a location, for 'valid keys here' hints."""
    node: Any = Config
    for part in loc:
        if _is_model(node):
            if not isinstance(part, str) or part not in node.model_fields:
                return []
            node = node.model_fields[part].annotation
        else:
            node = _element_type(node)  # a list index or a dict key: step into the element
    return list(node.model_fields) if _is_model(node) else []


def _is_model(node: Any) -> bool:
    return isinstance(node, type) and issubclass(node, BaseModel)


def _element_type(node: Any) -> Any:
    # list[X] → X, dict[K, X] → X; anything else has no inner model.
    origin = get_origin(node)
    if origin in (list, dict, Union):
        args = [a for a in get_args(node) if a is not type(None)]
        return args[-1] if args else None
    return None
