"""What both command lines do at their output's end: a reader that stops early is no error."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

Main = Callable[[Sequence[str] | None], int]


def until_reader_leaves(run: Main, argv: Sequence[str] | None) -> int:
    """`run(argv)`, but when stdout's reader goes away (`xintuctl recent | head -1`) stop
    quietly with exit 0 instead of a BrokenPipeError traceback."""
    try:
        return run(argv)
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at /dev/null so that flush is silent.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
