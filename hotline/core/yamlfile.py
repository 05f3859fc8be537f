"""Reading the YAML files people edit (rule packs, classification packs, holiday
schedules). Rule: a file that cannot be read or parsed is an InvalidInput naming the file,
what it is and the setting that points to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hotline.core.errors import InvalidInput


def read_yaml(path: Path, what: str, setting: str) -> Any:
    """The parsed content of `path`; `what` names the file for people (e.g. "质检规则包
    rule pack"), `setting` the setting that points to it."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(
            f"无法读取{what} {path} (cannot read it: {exc.strerror or exc}); "
            f"check the path in the {setting} setting"
        ) from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(
            f"{what} {path} 不是有效的 YAML (not valid YAML: {exc}); fix the line named, "
            "e.g. a missing space after ':' or a bad indent"
        ) from exc
