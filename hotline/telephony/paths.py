"""Where a file the switch wrote lives on this machine. Rule: one pure mapping, by the
longest matching prefix, for every reader of switch paths (the call store, the archiver);
`..` is resolved first and a path that would leave its recordings folder is refused.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Mapping

log = logging.getLogger(__name__)


def map_path(path: str | None, path_map: Mapping[str, str]) -> str | None:
    """The local path of a file the switch wrote, through the longest matching prefix;
    None when there is none, or when `..` would take it out of the mapped folder (or, with
    `..` in an unmapped path, out of anywhere we could vouch for)."""
    if not path:
        return None
    for prefix in sorted(path_map, key=len, reverse=True):
        root = prefix.rstrip("/") or "/"
        if path == root or path.startswith(root.rstrip("/") + "/"):
            rest = posixpath.normpath(path[len(root) :].lstrip("/") or ".")
            if rest == ".." or rest.startswith("../") or rest.startswith("/"):
                log.warning("recording path %r leaves %s: refused", path, root)
                return None
            local = path_map[prefix].rstrip("/") or "/"
            return local if rest == "." else posixpath.join(local, rest)
    if ".." in path.split("/"):
        if path_map:
            log.warning("recording path %r has '..' and no mapped folder: refused", path)
            return None
        return posixpath.normpath(path)
    return path
