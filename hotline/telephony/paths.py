"""Where a file the switch wrote lives on this machine. Rule: one pure mapping, by the
longest matching prefix, for every reader of switch paths (the call store, the archiver).
"""

from __future__ import annotations

from collections.abc import Mapping


def map_path(path: str | None, path_map: Mapping[str, str]) -> str | None:
    """The local path of a file the switch wrote, through the longest matching prefix."""
    if not path:
        return None
    for prefix in sorted(path_map, key=len, reverse=True):
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return path_map[prefix].rstrip("/") + path[len(prefix.rstrip("/")) :]
    return path
