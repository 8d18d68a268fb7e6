"""Load the one TOML config file: TOML → Config, every problem reported as a key path.

A bad file is refused as a whole with ConfigError, never partly used: the message names the
file, each bad key as a path (``library.action``, ``watch[1].kind``,
``categories.food.folder``) and the reason, and says how to fix it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from xintud.config.schema import Config, KeyedValueError
from xintud.core.categories import CATEGORY_IDS
from xintud.core.paths import default_config_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

logger = logging.getLogger(__name__)


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file, key paths and reasons."""

    def __init__(
        self, message: str, *, path: Path | None = None,
        problems: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.path = path
        self.problems = list(problems)


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
        return key, (f"{_plain_message(detail)}; valid ids: {', '.join(CATEGORY_IDS)}, or a "
                     "category of your own taught with `xintuctl teach`")
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
