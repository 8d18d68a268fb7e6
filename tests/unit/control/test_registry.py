"""One command registry: the protocol's commands, the handlers' methods and xintuctl agree."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

import pytest

from xintud.cli.xintuctl import LOCAL_COMMANDS, build_parser
from xintud.control.handlers import Commands, DaemonFlags, handled_commands
from xintud.control.protocol import ARGS_MODELS
from xintud.library.actor import Actor
from xintud.state.db import StateConnection
from xintud.state.journal import Journal
from xintud.state.queue import FileQueue
from xintud.state.records import Records


def xintuctl_commands() -> set[str]:
    """The subcommands of xintuctl's parser."""
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    return set(actions[0].choices)


def test_protocol_handlers_and_xintuctl_name_the_same_commands() -> None:
    protocol = set(ARGS_MODELS)
    assert set(handled_commands(Commands)) == protocol
    assert xintuctl_commands() - set(LOCAL_COMMANDS) == protocol


def test_a_handler_class_missing_a_command_is_refused_at_construction(
    conn: StateConnection, tmp_path: Path
) -> None:
    class Incomplete(Commands):
        cmd_status = None  # type: ignore[assignment]  # as if the method were never written

    journal = Journal(conn)
    with pytest.raises(TypeError, match="status"):
        Incomplete(DaemonFlags(), FileQueue(conn), Records(conn), journal, Actor(journal),
                   threading.Lock(), None, lambda: "test")
