"""`xintuctl service install|uninstall`: start xintud at login (systemd user unit, launchd agent).

The unit templates live here, not only in the repo's systemd/ and launchd/ folders, because an
installed package has no repo beside it; a test keeps those repo files equal to these texts.
This module is imported by xintuctl, so it must stay light (standard library only).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from xml.sax.saxutils import escape as xml_escape

UNIT_NAME = "xintud.service"
LAUNCHD_LABEL = "io.xintu.xintud"
EXEC_PLACEHOLDER = "@XINTUD@"
HOME_PLACEHOLDER = "@HOME@"
_COMMAND_TIMEOUT_S = 60

SYSTEMD_UNIT_TEMPLATE = """\
# xintud systemd user unit. `xintuctl service install` writes it with ExecStart set to the
# absolute path of the xintud command; `xintuctl service uninstall` removes it.
[Unit]
Description=xintud: sorts new photos into category folders on the local CPU

[Service]
Type=simple
ExecStart=@XINTUD@
Restart=on-failure
RestartSec=5
# A background job: stay out of the way of whatever the user is doing.
Nice=10
IOSchedulingClass=idle
CPUSchedulingPolicy=batch
KillSignal=SIGTERM
TimeoutStopSec=20

[Install]
WantedBy=default.target
"""

LAUNCHD_PLIST_TEMPLATE = """\
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- xintud launchd agent. `xintuctl service install` writes it with the path of the xintud
     command and of your home directory filled in; `xintuctl service uninstall` removes it. -->
<plist version="1.0">
<dict>
    <key>Label</key>
    <string>io.xintu.xintud</string>
    <key>ProgramArguments</key>
    <array>
        <string>@XINTUD@</string>
    </array>
    <key>RunAtLoad</key>
    <true/>
    <key>KeepAlive</key>
    <dict>
        <key>SuccessfulExit</key>
        <false/>
    </dict>
    <key>ThrottleInterval</key>
    <integer>5</integer>
    <key>ExitTimeOut</key>
    <integer>20</integer>
    <key>ProcessType</key>
    <string>Background</string>
    <key>LowPriorityIO</key>
    <true/>
    <key>Nice</key>
    <integer>10</integer>
    <key>StandardErrorPath</key>
    <string>@HOME@/Library/Logs/xintud.log</string>
    <key>StandardOutPath</key>
    <string>@HOME@/Library/Logs/xintud.log</string>
</dict>
</plist>
"""

_PLIST_EXEC_LINE = f"        <string>{EXEC_PLACEHOLDER}</string>\n"


@dataclass(frozen=True)
class ServiceContext:
    """Where and for whom to install: the OS, the home dir, the environment and the uid."""

    platform: str
    home: Path
    env: Mapping[str, str]
    uid: int

    @classmethod
    def current(cls) -> ServiceContext:
        """The context of this process."""
        return cls(sys.platform, Path.home(), dict(os.environ), os.getuid())


# ---------------------------------------------------------------------------------------------
# Rendering


def xintud_command(search_path: str | None = None, executable: str = sys.executable) -> list[str]:
    """The absolute command line that starts the daemon.

    The `xintud` script beside this Python comes first (the same installation as this
    xintuctl), then `xintud` on PATH, then `python -m xintud`.
    """
    beside = Path(executable).parent / "xintud"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside.absolute())]
    found = shutil.which("xintud", path=search_path)
    if found:
        return [os.path.abspath(found)]
    return [os.path.abspath(executable), "-m", "xintud"]


def systemd_quote(arg: str) -> str:
    """Quote one ExecStart word: escape specifiers (%) and variables ($), quote whitespace."""
    word = arg.replace("%", "%%").replace("$", "$$")
    if word and not re.search(r"[\s\"'\\;]", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_systemd_unit(command: Sequence[str]) -> str:
    """The systemd user unit text for this daemon command."""
    exec_start = " ".join(systemd_quote(arg) for arg in command)
    return SYSTEMD_UNIT_TEMPLATE.replace(f"ExecStart={EXEC_PLACEHOLDER}", f"ExecStart={exec_start}")


def render_launchd_plist(command: Sequence[str], home: Path) -> str:
    """The launchd agent plist text for this daemon command and home directory."""
    lines = "".join(f"        <string>{xml_escape(arg)}</string>\n" for arg in command)
    text = LAUNCHD_PLIST_TEMPLATE.replace(_PLIST_EXEC_LINE, lines)
    return text.replace(HOME_PLACEHOLDER, xml_escape(str(home)))


def systemd_unit_path(ctx: ServiceContext) -> Path:
    """~/.config/systemd/user/xintud.service, honouring an absolute XDG_CONFIG_HOME."""
    xdg = ctx.env.get("XDG_CONFIG_HOME", "")
    config = Path(xdg) if xdg and Path(xdg).is_absolute() else ctx.home / ".config"
    return config / "systemd" / "user" / UNIT_NAME


def launchd_plist_path(ctx: ServiceContext) -> Path:
    """~/Library/LaunchAgents/io.xintu.xintud.plist."""
    return ctx.home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"


# ---------------------------------------------------------------------------------------------
# Install / uninstall


def install_service(
    ctx: ServiceContext | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Write the unit for this OS and start it; return the exit code (non-zero: not written)."""
    ctx = ctx or ServiceContext.current()
    out, err = out or sys.stdout, err or sys.stderr
    command = xintud_command(ctx.env.get("PATH"))
    if ctx.platform.startswith("linux"):
        return _install_systemd(ctx, command, out, err)
    if ctx.platform == "darwin":
        return _install_launchd(ctx, command, out, err)
    return _unsupported(ctx, err)


def uninstall_service(
    ctx: ServiceContext | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Stop and disable the service and remove its unit; return the exit code."""
    ctx = ctx or ServiceContext.current()
    out, err = out or sys.stdout, err or sys.stderr
    if ctx.platform.startswith("linux"):
        return _uninstall_systemd(ctx, out, err)
    if ctx.platform == "darwin":
        return _uninstall_launchd(ctx, out, err)
    return _unsupported(ctx, err)


def _install_systemd(ctx: ServiceContext, command: list[str], out: TextIO, err: TextIO) -> int:
    unit = systemd_unit_path(ctx)
    if not _write_file(unit, render_systemd_unit(command), err):
        return 1
    print(f"wrote {unit} (ExecStart={' '.join(command)})", file=out)
    steps = [["daemon-reload"], ["enable", "--now", "xintud"]]
    problem = _run_all(ctx, "systemctl", [["--user", *step] for step in steps])
    if problem is None:
        print("xintud is enabled and running; see `systemctl --user status xintud`", file=out)
        return 0
    print(f"could not start the service: {problem}", file=out)
    print("start it by hand in your login session:", file=out)
    for step in steps:
        print(f"  systemctl --user {' '.join(step)}", file=out)
    print(
        "(without a user session manager, e.g. over ssh or in a container, run "
        "`loginctl enable-linger $USER` first, or just run `xintud`)",
        file=out,
    )
    return 0


def _uninstall_systemd(ctx: ServiceContext, out: TextIO, err: TextIO) -> int:
    unit = systemd_unit_path(ctx)
    problem = _run_all(ctx, "systemctl", [["--user", "disable", "--now", "xintud"]])
    if problem is not None:
        print(f"could not stop the service: {problem}", file=out)
        print("stop it by hand: systemctl --user disable --now xintud", file=out)
    if not unit.exists():
        print(f"no unit at {unit}; nothing to remove", file=out)
        return 0
    if not _remove_file(unit, err):
        return 1
    print(f"removed {unit}", file=out)
    _run_all(ctx, "systemctl", [["--user", "daemon-reload"]])
    return 0


def _install_launchd(ctx: ServiceContext, command: list[str], out: TextIO, err: TextIO) -> int:
    plist = launchd_plist_path(ctx)
    if not _write_file(plist, render_launchd_plist(command, ctx.home), err):
        return 1
    (ctx.home / "Library" / "Logs").mkdir(parents=True, exist_ok=True)
    print(f"wrote {plist} (program {' '.join(command)})", file=out)
    domain = f"gui/{ctx.uid}"
    # An older copy may be loaded already; bootout fails harmlessly when it is not.
    _run_all(ctx, "launchctl", [["bootout", f"{domain}/{LAUNCHD_LABEL}"]])
    problem = _run_all(ctx, "launchctl", [["bootstrap", domain, str(plist)]])
    if problem is None:
        print(f"xintud is loaded; see `launchctl print {domain}/{LAUNCHD_LABEL}`", file=out)
        return 0
    print(f"could not load the agent: {problem}", file=out)
    print(f"load it by hand: launchctl bootstrap {domain} {plist}", file=out)
    return 0


def _uninstall_launchd(ctx: ServiceContext, out: TextIO, err: TextIO) -> int:
    plist = launchd_plist_path(ctx)
    problem = _run_all(ctx, "launchctl", [["bootout", f"gui/{ctx.uid}/{LAUNCHD_LABEL}"]])
    if problem is not None:
        print(f"could not unload the agent (maybe not loaded): {problem}", file=out)
    if not plist.exists():
        print(f"no agent at {plist}; nothing to remove", file=out)
        return 0
    if not _remove_file(plist, err):
        return 1
    print(f"removed {plist}", file=out)
    return 0


def _unsupported(ctx: ServiceContext, err: TextIO) -> int:
    print(
        f"xintuctl: service install supports Linux (systemd) and macOS (launchd), not "
        f"{ctx.platform}; add `{' '.join(xintud_command(ctx.env.get('PATH')))}` to your "
        "login programs instead",
        file=err,
    )
    return 2


def _run_all(ctx: ServiceContext, tool: str, arg_lists: Sequence[Sequence[str]]) -> str | None:
    """Run `tool args` for each list in order; return why the first failure failed, or None."""
    exe = shutil.which(tool, path=ctx.env.get("PATH"))
    if exe is None:
        return f"{tool} not found on PATH"
    for args in arg_lists:
        argv = [exe, *args]
        try:
            proc = subprocess.run(
                argv,
                env=dict(ctx.env),
                capture_output=True,
                text=True,
                timeout=_COMMAND_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{tool} {' '.join(args)}` failed: {exc}"
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            reason = detail[-1] if detail else f"exit code {proc.returncode}"
            return f"`{tool} {' '.join(args)}` failed: {reason}"
    return None


def _write_file(path: Path, text: str, err: TextIO) -> bool:
    """Write text atomically (temp file + rename); report a failure on err."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        print(
            f"xintuctl: cannot write {path}: {exc.strerror or exc}; check the folder's permissions",
            file=err,
        )
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return False
    return True


def _remove_file(path: Path, err: TextIO) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return True
    except OSError as exc:
        print(f"xintuctl: cannot remove {path}: {exc.strerror or exc}", file=err)
        return False
    return True
