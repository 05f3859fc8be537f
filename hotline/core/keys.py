"""Secrets the service makes for itself. Rule: a secret comes from the settings, or is
generated once, at install (the first start), and kept in the data folder readable by the
service's user only; it is never a constant in the code.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SAMPLE_KEY_FILE = "sample.key"


def sample_key(configured: str, data_dir: Path) -> str:
    """The key of the 抽查 sample's keyed hash: `configured` (security.sample_key), else the
    one in data_dir/sample.key, made now if there is none yet (so the sample stays the same
    across restarts, and agents cannot compute it)."""
    if configured:
        return configured
    path = data_dir / SAMPLE_KEY_FILE
    try:
        key = path.read_text().strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key
