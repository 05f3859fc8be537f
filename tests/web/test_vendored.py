"""Vendored browser code is exactly what its manifest records, licence included."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import hotline.web

VENDOR = Path(hotline.web.__file__).resolve().parent / "static" / "vendor"


def test_every_vendored_file_matches_its_recorded_sha256() -> None:
    manifest = json.loads((VENDOR / "VENDORED.json").read_text(encoding="utf-8"))
    recorded: set[Path] = set()
    for package in manifest["packages"]:
        assert package["version"] and package["licence"] and package["source"]
        assert any(name.endswith("LICENSE") for name in package["files"]), package["name"]
        for name, sha in package["files"].items():
            path = VENDOR / name
            assert hashlib.sha256(path.read_bytes()).hexdigest() == sha, name
            recorded.add(path)
    on_disk = {p for p in VENDOR.rglob("*") if p.is_file() and p.parent != VENDOR}
    assert on_disk == recorded, "a vendored file is not in VENDORED.json"
