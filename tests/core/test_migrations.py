"""The schema's history is one line: a second head means two changes that never met."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory

from hotline.core.db import MIGRATIONS


def test_the_migrations_have_a_single_head() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    assert len(heads) == 1, (
        f"migrations have {len(heads)} heads {sorted(heads)}: add a merge revision "
        "(alembic merge) or point the new revision's down_revision at the current head"
    )
