#!/usr/bin/env bash
# Install xintud for this user and start it at login.
#   - a private virtual environment in ~/.local/share/xintud/venv (nothing system-wide)
#   - `xintud` and `xintuctl` linked into ~/.local/bin
#   - `xintuctl service install`: the systemd user unit / LaunchAgent, enabled and started
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
DATA_HOME=${XDG_DATA_HOME:-$HOME/.local/share}
VENV="$DATA_HOME/xintud/venv"
BIN="$HOME/.local/bin"

if [ "$(id -u)" = 0 ] && [ "${XINTUD_ALLOW_ROOT:-}" != 1 ]; then
    echo "install.sh: run this as your own user, not root: xintud is a per-user service" >&2
    exit 2
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet .
mkdir -p "$BIN"
ln -sf "$VENV/bin/xintud" "$BIN/xintud"
ln -sf "$VENV/bin/xintuctl" "$BIN/xintuctl"
echo "installed $("$VENV/bin/xintud" --version) into $VENV"
case ":$PATH:" in
    *":$BIN:"*) ;;
    *) echo "note: add $BIN to your PATH to run xintuctl from anywhere" ;;
esac
exec "$VENV/bin/xintuctl" service install
