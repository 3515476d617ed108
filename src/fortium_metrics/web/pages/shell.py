"""What every signed-in page shows around its content: the navigation the principal may use,
who is signed in, and the filter bar with the choices the principal may make."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

from starlette.requests import Request

from ... import teams, users
from ...errors import Forbidden
from ...importers.transcripts_prices import PriceTable
from ...pagination import MAX_LIMIT, PageQuery
from ...permissions import authorize
from ...projects import search_projects
from ...store.uow import UnitOfWork
from .filters import GRANULARITIES, RANGE_LABELS, FilterState


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    path: str
    action: str  # permissions.ACTIONS: the item shows only to those allowed
    icon: str


NAV = (
    NavItem("overview", "Overview", "/overview", "metrics.read", "grid"),
    NavItem("team", "Team", "/team", "metrics.read", "users"),
    NavItem("me", "Me", "/me", "metrics.read", "user"),
    NavItem("models", "Models & cost", "/models", "metrics.read", "coins"),
    NavItem("tools", "Tools & agents", "/tools", "metrics.read", "wrench"),
    NavItem("projects", "Projects", "/projects", "metrics.read", "folder"),
    NavItem("sessions", "Sessions", "/sessions", "metrics.read", "clock"),
    NavItem("dashboards", "My dashboards", "/dashboards", "dashboards.read", "layout"),
    NavItem("connect", "Connect Claude Code", "/connect", "apikeys.own", "plug"),
    NavItem("admin", "Admin", "/admin", "org.update", "shield"),
)


async def allowed(uow: UnitOfWork, action: str) -> bool:
    try:
        await authorize(uow, action)
    except Forbidden:
        return False
    return True


@lru_cache(maxsize=1)
def known_models() -> tuple[str, ...]:
    """The models the service can price (the price table's newest version): the model filter's choices."""
    table = PriceTable.load()
    return tuple(sorted(table.version_for(datetime.now(timezone.utc).date()).models))


async def _people(uow: UnitOfWork) -> list[tuple[str, str]]:
    me = uow.principal.user_id
    if await allowed(uow, "users.list"):
        return [(str(u.id), u.name or u.email) for u in await users.list_users(uow) if u.active]
    return [(str(me), "Me")] if me else []


def _teams(found: list) -> list[tuple[str, str]]:
    """Active teams first; archived ones after them, said so (their history can still be read)."""
    ordered = sorted(found, key=lambda t: (t.archived_at is not None, t.name.lower()))
    return [(t.slug, f"{t.name} (archived)" if t.archived_at else t.name) for t in ordered]


async def filter_choices(uow: UnitOfWork, state: FilterState) -> dict[str, list[tuple[str, str]]]:
    """(value, label) per filter; a value in the URL that is not offered stays selectable."""
    choices = {
        "team": _teams(await teams.list_teams(uow)),
        "user": await _people(uow),
        "project": [(p.name, p.name) for p in (await search_projects(uow, PageQuery(limit=MAX_LIMIT), status="active"))[0]],
        "model": [(m, m) for m in known_models()],
    }
    for name, options in choices.items():
        chosen = state.first(name)
        if chosen and chosen not in {value for value, _ in options}:
            options.append((chosen, chosen))
    return choices


async def shell_context(request: Request, uow: UnitOfWork, current: str, state: FilterState | None) -> dict:
    """The shell's navigation and who is signed in; with a filter state, also the filter bar and
    the page's client context (None: a page without the bar, such as administration)."""
    principal = uow.principal
    user = await users.get_user(uow, principal.user_id) if principal.user_id else None
    context = {
        "nav": [item for item in NAV if await allowed(uow, item.action)], "current": current,
        "who": {"name": (user.name or user.email) if user else principal.label,
                "email": user.email if user else "", "role": principal.role},
        "filters": state, "query": "", "client_context": None, "hide_filters": state is None,
    }
    if state is not None:
        context.update(query=state.query(), choices=await filter_choices(uow, state), ranges=RANGE_LABELS,
                       granularities=GRANULARITIES,
                       client_context={**state.client_context(), "userId": str(principal.user_id or principal.label)})
    return context
