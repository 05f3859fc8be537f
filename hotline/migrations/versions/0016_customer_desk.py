"""the agent's desk (issue 16): customers, their numbers, imports, call links, identity
checks, the customer audit; knowledge articles with versions and search grams; notices

Revision ID: w16_0016_customer_desk
Revises: w13ops_0010_job_waits
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "w16_0016_customer_desk"
down_revision = "w13ops_0010_job_waits"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_no", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("address", sa.String(512), nullable=False),
        sa.Column("district", sa.String(64)),
        sa.Column("street", sa.String(128)),
        sa.Column("import_id", sa.Integer()),
        sa.Column("import_row", sa.Integer()),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("account_no", name=op.f("uq_customers_account_no")),
    )
    op.create_index(op.f("ix_customers_district"), "customers", ["district"])
    op.create_index(op.f("ix_customers_street"), "customers", ["street"])
    op.create_table(
        "customer_phones",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_phones_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "number", name=op.f("pk_customer_phones")),
    )
    op.create_index("ix_customer_phones_number", "customer_phones", ["number"])
    op.create_table(
        "customer_imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("started_by", sa.String(64), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_imports")),
    )
    op.create_index(op.f("ix_customer_imports_status"), "customer_imports", ["status"])
    op.create_table(
        "customer_import_rejects",
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("account_no", sa.String(64)),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["customer_imports.id"],
            name=op.f("fk_customer_import_rejects_import_id_customer_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("import_id", "row_no", name=op.f("pk_customer_import_rejects")),
    )
    op.create_table(
        "call_customers",
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.Integer()),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("by", sa.String(64)),
        _at("at"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_call_customers_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_call_customers")),
    )
    op.create_index(op.f("ix_call_customers_customer_id"), "call_customers", ["customer_id"])
    op.create_table(
        "identity_checks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        _at("at"),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("confirmed", sa.Text(), nullable=False),
        sa.Column("note", sa.Text()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_checks")),
    )
    for column in ("call_id", "customer_id"):
        op.create_index(op.f(f"ix_identity_checks_{column}"), "identity_checks", [column])
    op.create_table(
        "customer_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _at("at"),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.Integer()),
        sa.Column("call_id", sa.String(64)),
        sa.Column("detail", sa.Text()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_audit")),
    )
    for column in ("at", "actor", "action", "customer_id", "call_id"):
        op.create_index(op.f(f"ix_customer_audit_{column}"), "customer_audit", [column])
    # -- knowledge base and notices ------------------------------------------------------
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("published_version", sa.Integer()),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
    )
    op.create_table(
        "kb_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("keywords", sa.Text(), nullable=False),
        _at("valid_from"),
        _at("valid_until", nullable=True),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("reviewer", sa.String(64)),
        sa.Column("review_note", sa.Text()),
        _at("created_at"),
        _at("reviewed_at", nullable=True),
        _at("published_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["kb_articles.id"],
            name=op.f("fk_kb_versions_article_id_kb_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_versions")),
        sa.UniqueConstraint("article_id", "version", name=op.f("uq_kb_versions_article_id")),
    )
    op.create_index(op.f("ix_kb_versions_state"), "kb_versions", ["state"])
    op.create_table(
        "kb_grams",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("gram", sa.String(32), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["kb_versions.id"],
            name=op.f("fk_kb_grams_version_id_kb_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "gram", name=op.f("pk_kb_grams")),
    )
    op.create_index("ix_kb_grams_gram", "kb_grams", ["gram", "version_id"])
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("wording", sa.Text(), nullable=False),
        sa.Column("districts", sa.Text(), nullable=False),
        sa.Column("streets", sa.Text(), nullable=False),
        sa.Column("accounts", sa.Text(), nullable=False),
        sa.Column("affected", sa.Integer(), nullable=False),
        _at("starts_at"),
        _at("ends_at"),
        sa.Column("published_by", sa.String(64), nullable=False),
        _at("published_at"),
        sa.Column("withdrawn_by", sa.String(64)),
        _at("withdrawn_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
    )
    for column in ("starts_at", "ends_at"):
        op.create_index(op.f(f"ix_notices_{column}"), "notices", [column])


def downgrade() -> None:
    for table in (
        "notices",
        "kb_grams",
        "kb_versions",
        "kb_articles",
        "customer_audit",
        "identity_checks",
        "call_customers",
        "customer_import_rejects",
        "customer_imports",
        "customer_phones",
        "customers",
    ):
        op.drop_table(table)
