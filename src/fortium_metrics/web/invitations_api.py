"""Invitations over REST: invite someone by e-mail, list the pending invitations, withdraw one —
the same service (invitations.py) as the users page and `fortium-metrics user invite`.

Without an SMTP server the answer carries the one-time link for the inviter to pass on; with
one, the link goes by e-mail only (it is a credential: whoever holds it chooses the password).
"""
from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from .. import invitations
from .addresses import server_url
from .admin_api import ERRORS, Body, Email, Role, act
from .bodies import parse_body
from .errors import ErrorEnvelope
from .openapi import Operation, documented


class InvitationOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    role: str
    invited_by: str
    created_at: datetime
    expires_at: datetime


class NewInvitationOut(InvitationOut):
    emailed: bool = Field(description="The link went by e-mail (FORTIUM_SMTP_*).")
    link: str | None = Field(description="Without an SMTP server: the one-time link to pass on yourself; "
                                         "null when it was e-mailed.")


class InvitationIn(Body):
    email: Email
    name: str = Field("", max_length=200, description="Display name; they may change it when accepting.")
    role: Role = "developer"


def _out(invitation) -> InvitationOut:
    return InvitationOut.model_validate(invitation, from_attributes=True)


@documented(Operation(summary="Pending invitations (not accepted, withdrawn or expired)", tag="admin",
                      responses={200: ("Invitations, newest first.", list[InvitationOut]), **ERRORS}))
async def list_invitations(request: Request) -> JSONResponse:
    async def action(uow):
        return [_out(i).model_dump(mode="json") for i in await invitations.pending_invitations(uow)]
    return await act(request, action)


@documented(Operation(
    summary="Invite someone by e-mail (a one-time link to choose their password)", tag="admin", body=InvitationIn,
    description="Inviting an address again replaces its pending invitation. The link expires after "
                "FORTIUM_INVITATION_DAYS days and works once.",
    responses={201: ("Invited.", NewInvitationOut), 409: ("A user with this e-mail already exists.", ErrorEnvelope),
               502: ("The SMTP server refused or failed; nobody was invited.", ErrorEnvelope), **ERRORS},
    examples={"developer": {"email": "new.person@example.com", "name": "New Person", "role": "developer"}}))
async def create_invitation(request: Request) -> JSONResponse:
    body = await parse_body(request, InvitationIn)

    async def action(uow):
        sent = await invitations.invite_and_send(uow, request.app.state.settings, server_url(request), body.email,
                                                 body.name, body.role)
        return NewInvitationOut(**_out(sent.new.invitation).model_dump(), emailed=sent.emailed,
                                link=None if sent.emailed else sent.link)
    return await act(request, action, 201)


@documented(Operation(summary="Withdraw an invitation (its link stops working)", tag="admin",
                      responses={200: ("Withdrawn (or already used, withdrawn or expired).", InvitationOut), **ERRORS}))
async def withdraw_invitation(request: Request) -> JSONResponse:
    ref = request.path_params["invitation_id"]

    async def action(uow):
        return _out(await invitations.withdraw(uow, ref))
    return await act(request, action)


def invitation_routes() -> list[BaseRoute]:
    return [Route("/api/invitations", list_invitations, methods=["GET"]),
            Route("/api/invitations", create_invitation, methods=["POST"]),
            Route("/api/invitations/{invitation_id}", withdraw_invitation, methods=["DELETE"])]
