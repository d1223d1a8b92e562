"""Where the service is and which token it takes, found as the CLI does
(app/serviceclient.cpp, core/paths.cpp): an explicit value, else MVS_URL /
MVS_TOKEN, else http://127.0.0.1:8000 and the token file in the config
directory (MVS_CONFIG_DIR, else $XDG_CONFIG_HOME/microvm-sandbox, else
~/.config/microvm-sandbox), file ``token``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Tuple

DEFAULT_URL = "http://127.0.0.1:8000"
TOKEN_FILE_MAX_BYTES = 4096


def config_dir() -> Path:
    env = os.environ.get("MVS_CONFIG_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg else Path.home() / ".config"
    return base / "microvm-sandbox"


def token_file() -> Path:
    return config_dir() / "token"


def resolve_url(url: Optional[str] = None) -> str:
    u = url or os.environ.get("MVS_URL") or DEFAULT_URL
    if "://" not in u:
        u = "http://" + u
    return u.rstrip("/")


def _read_token_file(path: Path) -> Optional[str]:
    try:
        with open(path, "rb") as f:
            raw = f.read(TOKEN_FILE_MAX_BYTES).strip()
    except OSError:
        return None
    if not raw or any(c <= 0x20 or c > 0x7E for c in raw):
        return None
    return raw.decode("ascii")


def resolve_token(token: Optional[str] = None) -> Tuple[Optional[str], str]:
    """The token and where it came from (for error messages)."""
    if token:
        return token, "the token argument"
    env = os.environ.get("MVS_TOKEN", "").strip()
    if env:
        return env, "MVS_TOKEN"
    path = token_file()
    return _read_token_file(path), str(path)
