"""`xintuctl service install|uninstall`: rendered units, repo templates, and the install flow."""

from __future__ import annotations

import configparser
import io
import json
import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

from xintud.cli.service import (
    LAUNCHD_PLIST_TEMPLATE,
    SYSTEMD_UNIT_TEMPLATE,
    ServiceContext,
    install_service,
    launchd_plist_path,
    render_launchd_plist,
    render_systemd_unit,
    systemd_quote,
    systemd_unit_path,
    uninstall_service,
    xintud_command,
)

REPO = Path(__file__).resolve().parents[3]
LINUX_ONLY = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd flow")


def read_unit(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(text)
    return parser


def fake_tool(bin_dir: Path, name: str, exit_code: int = 0, stderr: str = "") -> Path:
    """A stand-in for systemctl/launchctl that logs its arguments to $TOOL_LOG."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / name
    script.write_text(
        "#!/bin/sh\n"
        f'echo "{name} $*" >> "$TOOL_LOG"\n'
        + (f'echo "{stderr}" >&2\n' if stderr else "")
        + f"exit {exit_code}\n"
    )
    script.chmod(0o755)
    return script


def xintuctl_service(action: str, env: dict[str, str],
                     *flags: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "xintuctl"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "xintud.cli.xintuctl"]
    return subprocess.run(
        [*command, "service", action, *flags],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def service_env(tmp_path: Path, path: Path) -> dict[str, str]:
    return {
        "PATH": str(path),
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
        "TOOL_LOG": str(tmp_path / "tool.log"),
    }


# --- templates and rendering ---------------------------------------------------------------


def test_repo_templates_are_the_ones_service_renders() -> None:
    assert (REPO / "systemd" / "xintud.service").read_text(encoding="utf-8") == (
        SYSTEMD_UNIT_TEMPLATE
    )
    assert (REPO / "launchd" / "io.xintu.xintud.plist").read_text(encoding="utf-8") == (
        LAUNCHD_PLIST_TEMPLATE
    )


def test_systemd_unit_has_the_required_settings() -> None:
    unit = read_unit(render_systemd_unit(["/opt/xintu/bin/xintud"]))
    assert dict(unit["Service"]) == {
        "Type": "simple",
        "ExecStart": "/opt/xintu/bin/xintud",
        "Restart": "on-failure",
        "RestartSec": "5",
        "Nice": "10",
        "IOSchedulingClass": "idle",
        "CPUSchedulingPolicy": "batch",
        "KillSignal": "SIGTERM",
        "TimeoutStopSec": "20",
    }
    assert unit["Install"]["WantedBy"] == "default.target"


def test_systemd_exec_start_quotes_what_systemd_would_mangle() -> None:
    assert systemd_quote("/usr/bin/xintud") == "/usr/bin/xintud"
    assert systemd_quote("/home/a b/xintud") == '"/home/a b/xintud"'
    assert systemd_quote("/h/100%/$HOME") == "/h/100%%/$$HOME"
    text = render_systemd_unit(["/home/a b/python", "-m", "xintud"])
    assert 'ExecStart="/home/a b/python" -m xintud\n' in text


def test_launchd_plist_has_the_required_settings(tmp_path: Path) -> None:
    home = tmp_path / "Ann & Bo"
    plist = plistlib.loads(render_launchd_plist(["/py", "-m", "xintud"], home).encode())
    assert plist["Label"] == "io.xintu.xintud"
    assert plist["ProgramArguments"] == ["/py", "-m", "xintud"]
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["ProcessType"] == "Background"
    assert plist["LowPriorityIO"] is True
    assert plist["Nice"] == 10
    assert plist["StandardErrorPath"] == str(home / "Library" / "Logs" / "xintud.log")


def test_repo_plist_template_is_a_valid_plist() -> None:
    plist = plistlib.loads(LAUNCHD_PLIST_TEMPLATE.encode())
    assert plist["ProgramArguments"] == ["@XINTUD@"]


def test_xintud_command_prefers_the_script_beside_python(tmp_path: Path) -> None:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    assert xintud_command("", executable=str(python)) == [str(python), "-m", "xintud"]
    script = bin_dir / "xintud"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert xintud_command("", executable=str(python)) == [str(script)]


def test_unit_paths_follow_xdg_config_home(tmp_path: Path) -> None:
    ctx = ServiceContext("linux", tmp_path / "home", {"XDG_CONFIG_HOME": str(tmp_path / "c")}, 1)
    assert systemd_unit_path(ctx) == tmp_path / "c" / "systemd" / "user" / "xintud.service"
    relative = ServiceContext("linux", tmp_path / "home", {"XDG_CONFIG_HOME": "rel"}, 1)
    assert systemd_unit_path(relative) == (
        tmp_path / "home" / ".config" / "systemd" / "user" / "xintud.service"
    )
    mac = ServiceContext("darwin", tmp_path, {}, 501)
    assert launchd_plist_path(mac) == tmp_path / "Library/LaunchAgents/io.xintu.xintud.plist"


# --- install / uninstall on Linux (systemd), through xintuctl -------------------------------


@LINUX_ONLY
def test_install_without_systemctl_writes_unit_and_prints_manual_commands(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    proc = xintuctl_service("install", service_env(tmp_path, empty))
    assert proc.returncode == 0, proc.stderr
    unit_file = tmp_path / "cfg" / "systemd" / "user" / "xintud.service"
    unit = read_unit(unit_file.read_text())
    exec_start = unit["Service"]["ExecStart"]
    assert Path(exec_start.split()[0]).is_absolute()
    assert exec_start == str(Path(sys.executable).parent / "xintud") or exec_start.endswith(
        " -m xintud"
    )
    assert "systemctl not found" in proc.stdout
    assert "  systemctl --user daemon-reload\n" in proc.stdout
    assert "  systemctl --user enable --now xintud\n" in proc.stdout


@LINUX_ONLY
def test_install_runs_daemon_reload_then_enable(tmp_path: Path) -> None:
    fake_tool(tmp_path / "bin", "systemctl")
    proc = xintuctl_service("install", service_env(tmp_path, tmp_path / "bin"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "tool.log").read_text().splitlines() == [
        "systemctl --user daemon-reload",
        "systemctl --user enable --now xintud",
    ]
    assert "enabled and running" in proc.stdout


@LINUX_ONLY
def test_install_without_a_user_session_explains_what_to_run(tmp_path: Path) -> None:
    fake_tool(tmp_path / "bin", "systemctl", exit_code=1, stderr="Failed to connect to bus")
    proc = xintuctl_service("install", service_env(tmp_path, tmp_path / "bin"))
    assert proc.returncode == 0, proc.stderr  # the unit was written: that part worked
    assert (tmp_path / "cfg" / "systemd" / "user" / "xintud.service").is_file()
    assert "Failed to connect to bus" in proc.stdout
    assert "systemctl --user enable --now xintud" in proc.stdout


@LINUX_ONLY
def test_install_fails_when_the_unit_cannot_be_written(tmp_path: Path) -> None:
    env = service_env(tmp_path, tmp_path)
    Path(env["XDG_CONFIG_HOME"]).write_text("a file where a folder should be")
    proc = xintuctl_service("install", env)
    assert proc.returncode == 1
    assert "cannot write" in proc.stderr


@LINUX_ONLY
def test_uninstall_disables_and_removes_the_unit(tmp_path: Path) -> None:
    fake_tool(tmp_path / "bin", "systemctl")
    env = service_env(tmp_path, tmp_path / "bin")
    assert xintuctl_service("install", env).returncode == 0
    (tmp_path / "tool.log").unlink()
    proc = xintuctl_service("uninstall", env)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "cfg" / "systemd" / "user" / "xintud.service").exists()
    assert (tmp_path / "tool.log").read_text().splitlines() == [
        "systemctl --user disable --now xintud",
        "systemctl --user daemon-reload",
    ]
    again = xintuctl_service("uninstall", env)
    assert again.returncode == 0 and "nothing to remove" in again.stdout


# --- install / uninstall on macOS (launchd), in process --------------------------------------


def test_launchd_install_writes_plist_and_bootstraps(tmp_path: Path) -> None:
    fake_tool(tmp_path / "bin", "launchctl")
    env = {"PATH": str(tmp_path / "bin"), "TOOL_LOG": str(tmp_path / "tool.log")}
    ctx = ServiceContext("darwin", tmp_path / "home", env, 501)
    out = io.StringIO()
    assert install_service(ctx, out=out, err=io.StringIO()) == 0
    plist_file = tmp_path / "home" / "Library" / "LaunchAgents" / "io.xintu.xintud.plist"
    plist = plistlib.loads(plist_file.read_bytes())
    assert Path(plist["ProgramArguments"][0]).is_absolute()
    assert (tmp_path / "home" / "Library" / "Logs").is_dir()
    assert (tmp_path / "tool.log").read_text().splitlines() == [
        "launchctl bootout gui/501/io.xintu.xintud",
        f"launchctl bootstrap gui/501 {plist_file}",
    ]
    assert uninstall_service(ctx, out=out, err=io.StringIO()) == 0
    assert not plist_file.exists()


def test_launchd_install_without_launchctl_prints_the_command(tmp_path: Path) -> None:
    ctx = ServiceContext("darwin", tmp_path, {"PATH": str(tmp_path)}, 501)
    out = io.StringIO()
    assert install_service(ctx, out=out, err=io.StringIO()) == 0
    plist_file = tmp_path / "Library" / "LaunchAgents" / "io.xintu.xintud.plist"
    assert f"launchctl bootstrap gui/501 {plist_file}" in out.getvalue()


def test_unsupported_platform_says_so(tmp_path: Path) -> None:
    err = io.StringIO()
    ctx = ServiceContext("win32", tmp_path, {"PATH": os.defpath}, 0)
    assert install_service(ctx, out=io.StringIO(), err=err) == 2
    assert "Linux (systemd) and macOS (launchd)" in err.getvalue()


@LINUX_ONLY
def test_install_with_json_reports_one_object(tmp_path: Path) -> None:
    fake_tool(tmp_path / "bin", "systemctl")
    proc = xintuctl_service("install", service_env(tmp_path, tmp_path / "bin"), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["action"] == "install" and report["ok"] is True and report["exit_code"] == 0
    assert any("enabled and running" in line for line in report["output"])
    assert (tmp_path / "cfg" / "systemd" / "user" / "xintud.service").is_file()


@LINUX_ONLY
def test_uninstall_failure_with_json_reports_its_exit_code(tmp_path: Path) -> None:
    fake_tool(tmp_path / "bin", "systemctl", exit_code=1, stderr="Failed to connect to bus")
    proc = xintuctl_service("uninstall", service_env(tmp_path, tmp_path / "bin"), "--json")
    report = json.loads(proc.stdout)
    assert report["action"] == "uninstall" and report["exit_code"] == proc.returncode
    assert report["ok"] is (proc.returncode == 0)
