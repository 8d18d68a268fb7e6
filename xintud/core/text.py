"""Untrusted text — file names, and reasons that quote them — made safe for output.

A POSIX file name may hold a newline, a carriage return, a terminal escape sequence or bytes
that are not UTF-8. Printed raw, it splits one log line in two (or forges a second one),
recolours a terminal, or makes the write itself fail. `printable` escapes exactly those
characters and keeps every other one, so 北京 2026.jpg stays readable. `json_text` is the one
JSON encoder for results that may hold such names (xintud classify, the control socket,
xintuctl --json). Standard library only: xintuctl imports this.
"""

from __future__ import annotations

import json
import logging
import os
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

# Controls, undecodable bytes (surrogate escapes) and line/paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str | bytes | os.PathLike[str]) -> str:
    """The text with control characters escaped (``\\n``, ``\\x1b``, ``\\u2028``).

    A byte that was not valid UTF-8 in a file name (carried by Python as a surrogate escape)
    is shown as the byte it was, ``\\xff``.
    """
    value = os.fsdecode(text) if isinstance(text, bytes) else os.fspath(text)
    if value.isprintable():
        return value
    return "".join(_escape(char) for char in value)


def _escape(char: str) -> str:
    if unicodedata.category(char) not in _UNSAFE_CATEGORIES:
        return char
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for an undecodable byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class PrintableFormatter(logging.Formatter):
    """Escapes control characters in a record's string and path arguments.

    Only the arguments are escaped, never the message template: a file name can then never
    split or forge a log line, while a message written over several lines on purpose (a
    config error listing its keys) stays readable.
    """

    def format(self, record: logging.LogRecord) -> str:
        if record.args:
            record = logging.makeLogRecord(record.__dict__)  # other handlers see the original
            record.args = _printable_args(record.args)
        return super().format(record)


class JsonLineFormatter(logging.Formatter):
    """One JSON object per log record: time, level, logger and the message (for log shippers).

    The message is JSON-encoded, so a file name cannot split or forge a line here either.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json_text(entry)


def _printable_args(args: tuple[object, ...] | Mapping[str, object]
                    ) -> tuple[object, ...] | dict[str, object]:
    if isinstance(args, Mapping):
        return {key: _printable_arg(value) for key, value in args.items()}
    return tuple(_printable_arg(value) for value in args)


def _printable_arg(value: object) -> object:
    if isinstance(value, (str, bytes, os.PathLike)):
        return printable(value)
    return value


def json_text(data: Any, *, indent: int | None = None,
              default: Callable[[Any], Any] | None = None) -> str:
    """`data` as JSON text (compact unless `indent`), non-ASCII kept readable.

    A file name that is not UTF-8 (Python holds its bytes as surrogate escapes, which cannot be
    encoded) makes the whole text fall back to \\udcXX escapes instead of failing; json.loads
    turns them back into that same Python path.
    """
    separators = None if indent is not None else (",", ":")
    text = json.dumps(data, ensure_ascii=False, indent=indent, separators=separators,
                      default=default)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data, indent=indent, separators=separators, default=default)
    return text
