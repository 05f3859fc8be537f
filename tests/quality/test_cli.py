"""`hotline quality score FILE [--pack PACK]`: the stable scoring command, as an integrator
runs it on a call exported from elsewhere; no database, clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hotline.api.cli import app
from hotline.quality.pack import default_pack_path
from tests.quality.test_scoring import model_call, said

runner = CliRunner()


def test_a_model_call_scores_100_and_a_rude_one_shows_its_hits(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(model_call(), ensure_ascii=False), encoding="utf-8")
    r = runner.invoke(app, ["quality", "score", str(good)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"call_id": "call-1", "score": 100.0, "band": "优秀", "hits": []}

    rude = tmp_path / "rude.json"
    call = model_call(said("这个 我 也 没 办法", 30.0))
    rude.write_text(json.dumps(call, ensure_ascii=False), encoding="utf-8")
    out = json.loads(runner.invoke(app, ["quality", "score", str(rude)]).output)
    (hit,) = out["hits"]
    assert hit["rule"] == "forbidden_phrase" and hit["channel"] == "agent"
    assert set(hit) == {
        "rule",
        "channel",
        "start",
        "end",
        "evidence",
        "conf",
        "deduction",
        "needs_review",
    }
    assert 30.0 <= hit["start"] < hit["end"] <= 34.0 and "没办法" in hit["evidence"]
    assert out["score"] == 100 - hit["deduction"]


def test_a_hotline_pack_with_its_own_weights_is_used(tmp_path: Path) -> None:
    pack = default_pack_path().read_text(encoding="utf-8")
    heavy = pack.replace("deduct: 15", "deduct: 30", 1)
    assert heavy != pack  # the forbidden-phrase deduction is the pack's first 15
    (tmp_path / "pack.yaml").write_text(heavy, encoding="utf-8")
    (tmp_path / "call.json").write_text(
        json.dumps(model_call(said("这个 我 也 没 办法", 30.0)), ensure_ascii=False),
        encoding="utf-8",
    )
    args = ["quality", "score", str(tmp_path / "call.json"), "--pack", str(tmp_path / "pack.yaml")]
    out = json.loads(runner.invoke(app, args).output)
    assert out["score"] == 70.0 and out["hits"][0]["deduction"] == 30.0


def test_bad_input_says_what_is_wrong_without_a_trace(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["quality", "score", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "cannot read" in missing.output

    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    broken = runner.invoke(app, ["quality", "score", str(tmp_path / "broken.json")])
    assert broken.exit_code == 2 and "is not JSON" in broken.output

    (tmp_path / "shape.json").write_text('{"call_id": "x", "channels": []}', encoding="utf-8")
    shape = runner.invoke(app, ["quality", "score", str(tmp_path / "shape.json")])
    assert shape.exit_code == 1 and "channels" in shape.output
    assert "Traceback" not in shape.output

    (tmp_path / "call.json").write_text(json.dumps(model_call()), encoding="utf-8")
    (tmp_path / "pack.yaml").write_text("id: x\nrules: [", encoding="utf-8")
    pack = runner.invoke(
        app,
        ["quality", "score", str(tmp_path / "call.json"), "--pack", str(tmp_path / "pack.yaml")],
    )
    assert pack.exit_code == 1 and "YAML" in pack.output


def test_a_shipped_pack_is_named_and_the_ring_limit_comes_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.quality.test_packs import PRESCRIBED, conversation

    highway = conversation(PRESCRIBED["highway"])
    highway["ring_seconds"] = 18.2  # 4 rings of 5 s
    (tmp_path / "call.json").write_text(json.dumps(highway, ensure_ascii=False), encoding="utf-8")
    args = ["quality", "score", str(tmp_path / "call.json"), "--pack", "highway"]
    monkeypatch.setenv("HOTLINE_RULES__MAX_RINGS", "4")
    assert json.loads(runner.invoke(app, args).output)["score"] == 100.0
    monkeypatch.setenv("HOTLINE_RULES__MAX_RINGS", "3")
    out = json.loads(runner.invoke(app, args).output)
    assert [h["rule"] for h in out["hits"]] == ["answer_late"]
    unknown = runner.invoke(app, [*args[:-1], "railway"])
    assert unknown.exit_code == 1 and "transport-group" in unknown.output
