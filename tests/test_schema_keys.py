"""Ready to shard by organisation (docs/scaling.md): every tenant table's primary key and unique
constraints carry organization_id, and every foreign key between tenant tables does too. The
exceptions are listed here AND in docs/scaling.md; a new one fails until it is documented."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import UniqueConstraint

import fortium_metrics.store  # noqa: F401  (registers every table)
from fortium_metrics.store.models import Base

SCALING_DOC = Path(__file__).resolve().parents[1] / "docs" / "scaling.md"
# table.column(s) unique across organisations, and tables without an organisation
GLOBAL_UNIQUE = {"api_keys.prefix", "refresh_tokens.token_hash", "invitations.token_hash", "organizations.slug"}
NOT_TENANT = {"organizations", "job_leases"}


def _name(table, columns) -> str:
    return f"{table.name}.{','.join(column.name for column in columns)}"


def test_every_key_carries_the_organisation_except_the_documented_ones():
    found_global, found_not_tenant = set(), set()
    for table in Base.metadata.tables.values():
        if "organization_id" not in table.columns:
            found_not_tenant.add(table.name)
            for constraint in table.constraints:
                if isinstance(constraint, UniqueConstraint):
                    found_global.add(_name(table, constraint.columns))
            continue
        assert "organization_id" in table.primary_key.columns, table.name
        uniques = [c.columns for c in table.constraints if isinstance(c, UniqueConstraint)]
        uniques += [index.columns for index in table.indexes if index.unique]
        for columns in uniques:
            if "organization_id" not in columns:
                found_global.add(_name(table, columns))
        for foreign_key in table.foreign_key_constraints:
            if foreign_key.referred_table.name != "organizations":
                assert "organization_id" in foreign_key.column_keys, f"{table.name} -> {foreign_key.referred_table.name}"
    assert found_global == GLOBAL_UNIQUE
    assert found_not_tenant == NOT_TENANT
    doc = SCALING_DOC.read_text()
    for name in found_global | found_not_tenant:
        assert f"`{name}`" in doc, f"{name} is not discussed in docs/scaling.md"
