"""API keys (administrators: any key, any scope, bound to anyone) and "Connect Claude Code"
(everyone: keys of their own, the three MCP transports, the OTLP environment and the hooks, and
whether their events arrive). A new key's secret is in the response to its creation only: the
page is drawn at once, never redirected to, so reloading cannot show it again."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ... import apikeys, users
from ...principal import SCOPES
from ...store.uow import UnitOfWork
from .admin_common import FormState, admin_page, back, render_admin, submit, text
from .admin_snippets import snippets
from ..addresses import server_url


@admin_page("keys")
async def keys_page(request: Request, uow: UnitOfWork, form: FormState | None = None, new=None) -> Response:
    keys = await apikeys.list_api_keys(uow)
    people = {u.id: u for u in await users.list_users(uow)}
    return await render_admin(request, uow, "keys", "admin/keys.html", form=form, title="API keys",
                              intro="Keys let Claude Code, scripts and integrations send and read data. "
                                    "Only a hash is stored: a secret is shown once, when the key is created.",
                              keys=keys, people=people, scopes=SCOPES, new=new,
                              snippets=snippets(server_url(request), new.secret) if new else None)


@submit("apikeys.manage", "create", keys_page.view)
async def create_key(uow: UnitOfWork, data: FormData, request: Request) -> Response:
    new = await apikeys.create_api_key(uow, text(data, "name"), [str(s) for s in data.getlist("scopes")] or None,
                                       text(data, "user") or None)
    return await keys_page.view(request, uow, new=new)


@submit("apikeys.manage", "revoke", keys_page.view)
async def revoke_key(uow: UnitOfWork, data: FormData, request: Request) -> str:
    key = await apikeys.revoke_api_key(uow, request.path_params["key_id"])
    return back("/admin/keys", f"Key {key.name} ({key.prefix}) was revoked; it stops working at once.")


@admin_page("connect", "apikeys.own")
async def connect_page(request: Request, uow: UnitOfWork, form: FormState | None = None, new=None) -> Response:
    url = server_url(request)
    return await render_admin(request, uow, "connect", "admin/connect.html", form=form, nav="connect",
                              title="Connect Claude Code",
                              intro="Send your Claude Code sessions to this server, and ask it questions from Claude Code.",
                              keys=await apikeys.list_own_keys(uow), new=new, url=url,
                              events=await users.my_events(uow),
                              snippets=snippets(url, new.secret if new else "fmk_YOUR_KEY"))


@submit("apikeys.own", "create", connect_page.view)
async def create_own_key(uow: UnitOfWork, data: FormData, request: Request) -> Response:
    new = await apikeys.create_own_key(uow, text(data, "name"))
    return await connect_page.view(request, uow, new=new)


@submit("apikeys.own", "revoke", connect_page.view)
async def revoke_own_key(uow: UnitOfWork, data: FormData, request: Request) -> str:
    key = await apikeys.revoke_own_key(uow, request.path_params["key_id"])
    return back("/connect", f"Key {key.name} ({key.prefix}) was revoked.")


def key_routes() -> list[tuple[str, str, object]]:
    return [
        ("GET", "/admin/keys", keys_page), ("POST", "/admin/keys", create_key),
        ("POST", "/admin/keys/{key_id}/revoke", revoke_key),
        ("GET", "/connect", connect_page), ("POST", "/connect/keys", create_own_key),
        ("POST", "/connect/keys/{key_id}/revoke", revoke_own_key),
    ]
