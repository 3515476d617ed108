"""Analytics: dimension columns on metric_events, and the rollup tables.

metric_events gains the dimensions analytics groups by (agent, skill, MCP server, plugin, query
source, language, Claude Code version, the source's labels) and the 5-minute / 1-hour split of
cache writes as plain columns; rows written before this revision get them from their JSON
attributes here (their labels cannot be told apart from other attributes, so they stay unset).
The OTLP commit and pull-request counters, kept as raw points until now, become the productivity
metrics `commits` and `pull_requests` that analytics sums.

The rollup tables start empty; `rollup_state` has no row, so analytics reads raw events until the
`rollups` job (run by `serve`'s scheduler, or `fortium-metrics analytics rebuild`) builds them.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import context, op

from fortium_metrics.store.migration_helpers import app_role, secure_tenant_table

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

NEW_COLUMNS = [
    ("cache_write_5m_tokens", sa.BigInteger()), ("cache_write_1h_tokens", sa.BigInteger()),
    ("agent", sa.String(200)), ("skill", sa.String(200)), ("mcp_server", sa.String(200)), ("plugin", sa.String(200)),
    ("query_source", sa.String(100)), ("language", sa.String(50)), ("app_version", sa.String(50)),
    ("labels", sa.String(500)),
]
TEXT_KEYS = [("kind", 24), ("name", 200), ("model", 100), ("source", 32), ("agent", 200), ("skill", 200),
             ("mcp_server", 200), ("plugin", 200), ("query_source", 100), ("language", 50), ("app_version", 50),
             ("labels", 500)]
MEASURES = [("n", sa.BigInteger()), ("n_ok", sa.BigInteger()), ("n_fail", sa.BigInteger()), ("dur_n", sa.BigInteger()),
            ("dur_sum", sa.Float()), ("dur_max", sa.Float()), ("input_tokens", sa.BigInteger()), ("output_tokens", sa.BigInteger()),
            ("cache_read_tokens", sa.BigInteger()), ("cache_write_tokens", sa.BigInteger()),
            ("cache_write_5m_tokens", sa.BigInteger()), ("cache_write_1h_tokens", sa.BigInteger()),
            ("cost_usd", sa.Float()), ("lines_added", sa.BigInteger()), ("lines_removed", sa.BigInteger()),
            ("value_sum", sa.Float())]
ROLLUPS = ("rollup_hourly", "rollup_daily", "rollup_daily_org", "rollup_daily_lite", "rollup_presence",
           "rollup_tool_durations", "rollup_tool_durations_team", "rollup_tool_durations_lite", "rollup_state")
LITE_KEYS = [("kind", 24), ("name", 200), ("model", 100), ("source", 32), ("agent", 200), ("skill", 200),
             ("mcp_server", 200)]


def _org():
    return sa.Column("organization_id", sa.Uuid, sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False)


def _text(name: str, length: int):
    return sa.Column(name, sa.String(length), nullable=False, server_default="")


def _measures():
    return [sa.Column(name, kind, nullable=False, server_default="0") for name, kind in MEASURES]


def _event_keys():
    return [sa.Column("team_id", sa.Uuid, nullable=False), sa.Column("project_id", sa.Uuid, nullable=False),
            *(_text(name, length) for name, length in TEXT_KEYS)]


EVENT_KEY_NAMES = ["team_id", "project_id", *(name for name, _ in TEXT_KEYS)]
HISTOGRAM_KEYS = ["name", "mcp_server", "hb"]


def _histogram(name: str, *ids: str, source: bool = False) -> None:
    op.create_table(
        name, _org(), sa.Column("day", sa.Date, nullable=False), *(sa.Column(c, sa.Uuid, nullable=False) for c in ids),
        *([_text("source", 32)] if source else []), _text("name", 200), _text("mcp_server", 200),
        sa.Column("hb", sa.SmallInteger, nullable=False), sa.Column("n", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("organization_id", "day", *ids, *(["source"] if source else []), *HISTOGRAM_KEYS))


def _create_rollups() -> None:
    op.create_table(
        "rollup_hourly", _org(), sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date, nullable=False), sa.Column("user_id", sa.Uuid, nullable=False),
        _text("session_id", 128), *_event_keys(), *_measures(),
        sa.PrimaryKeyConstraint("organization_id", "bucket", "user_id", "session_id", *EVENT_KEY_NAMES))
    op.create_table(
        "rollup_daily", _org(), sa.Column("day", sa.Date, nullable=False), sa.Column("user_id", sa.Uuid, nullable=False),
        *_event_keys(), *_measures(),
        sa.PrimaryKeyConstraint("organization_id", "day", "user_id", *EVENT_KEY_NAMES))
    op.create_index("ix_rollup_daily_user", "rollup_daily", ["organization_id", "user_id", "day"])
    op.create_index("ix_rollup_daily_team", "rollup_daily", ["organization_id", "team_id", "day"])
    op.create_table(
        "rollup_daily_lite", _org(), sa.Column("day", sa.Date, nullable=False),
        *(_text(name, length) for name, length in LITE_KEYS), *_measures(),
        sa.PrimaryKeyConstraint("organization_id", "day", *(name for name, _ in LITE_KEYS)))
    op.create_table(
        "rollup_daily_org", _org(), sa.Column("day", sa.Date, nullable=False), *_event_keys(), *_measures(),
        sa.PrimaryKeyConstraint("organization_id", "day", *EVENT_KEY_NAMES))
    op.create_table(
        "rollup_presence", _org(), sa.Column("day", sa.Date, nullable=False), sa.Column("user_id", sa.Uuid, nullable=False),
        _text("session_id", 128), sa.Column("team_id", sa.Uuid, nullable=False),
        sa.Column("project_id", sa.Uuid, nullable=False), _text("source", 32),
        sa.Column("n", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("organization_id", "day", "user_id", "session_id", "team_id", "project_id", "source"))
    _histogram("rollup_tool_durations", "user_id", "team_id", "project_id", source=True)
    op.create_index("ix_rollup_tool_durations_user", "rollup_tool_durations", ["organization_id", "user_id", "day"])
    _histogram("rollup_tool_durations_team", "team_id")
    _histogram("rollup_tool_durations_lite")
    op.create_table(
        "rollup_state", _org(), sa.Column("version", sa.Integer, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organization_id"))


# Backfill of the new columns from the attributes of rows written before this revision.
def _backfill(dialect: str) -> None:
    if dialect == "postgresql":
        attr = lambda key: f"(attributes->>'{key}')"  # noqa: E731
        server = "split_part(substr(name, 6), '__', 1)"
    else:
        attr = lambda key: f"json_extract(attributes, '$.\"{key}\"')"  # noqa: E731
        server = "substr(name, 6, instr(substr(name, 6) || '__', '__') - 1)"

    def first(*keys: str, length: int) -> str:
        found = attr(keys[0]) if len(keys) == 1 else f"coalesce({', '.join(attr(k) for k in keys)})"
        return f"substr({found}, 1, {length})"

    op.execute(f"""UPDATE metric_events SET
        cache_write_5m_tokens = CAST({attr('cache_write_5m_tokens')} AS BIGINT),
        cache_write_1h_tokens = CAST({attr('cache_write_1h_tokens')} AS BIGINT),
        agent = CASE WHEN kind = 'agent_invocation' THEN name
                     ELSE {first('agent', 'agent.name', 'agent_type', 'subagent_type', length=200)} END,
        skill = {first('skill.name', 'skill_name', length=200)},
        mcp_server = coalesce({first('mcp_server.name', 'mcp_server_name', 'server_name', length=200)},
                              CASE WHEN kind IN ('tool_execution', 'tool_decision') AND name LIKE 'mcp\\_\\_%' ESCAPE '\\'
                                   THEN nullif({server}, '') END),
        plugin = {first('plugin.name', length=200)},
        query_source = {first('query_source', length=100)},
        language = CASE WHEN kind = 'code_change' THEN name ELSE {first('language', length=50)} END,
        app_version = {first('app.version', 'service.version', 'version', 'claude_version', length=50)},
        model = coalesce(model, {first('model', length=100)})""")
    op.execute("""UPDATE metric_events SET kind = 'productivity_metric',
        name = CASE name WHEN 'claude_code.commit.count' THEN 'commits' ELSE 'pull_requests' END
        WHERE kind = 'other' AND name IN ('claude_code.commit.count', 'claude_code.pull_request.count')""")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, kind in NEW_COLUMNS:
        op.add_column("metric_events", sa.Column(name, kind, nullable=True))
    # A session's timeline and counts read its events by session id.
    op.create_index("ix_metric_events_org_session", "metric_events", ["organization_id", "session_id", "occurred_at"])
    _backfill(dialect)
    _create_rollups()
    if dialect == "postgresql":
        for table in ROLLUPS:
            secure_tenant_table(op, table, app_role(context))


def downgrade() -> None:
    for table in ROLLUPS:
        op.drop_table(table)
    op.drop_index("ix_metric_events_org_session", "metric_events")
    op.execute("""UPDATE metric_events SET kind = 'other',
        name = CASE name WHEN 'commits' THEN 'claude_code.commit.count' ELSE 'claude_code.pull_request.count' END
        WHERE kind = 'productivity_metric' AND name IN ('commits', 'pull_requests') AND source = 'otlp'""")
    with op.batch_alter_table("metric_events") as batch:
        for name, _ in reversed(NEW_COLUMNS):
            batch.drop_column(name)
