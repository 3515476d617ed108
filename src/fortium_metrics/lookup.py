"""Finding an object of the caller's organisation by reference: its id, or its natural key
(e-mail, slug, name, key prefix). The unit of work's tenant filter applies, so another
organisation's object is simply not found."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from .errors import NotFound
from .store.uow import UnitOfWork


def ref_condition(model, ref, natural_key, natural_value=None):
    """`model.id == ref` when `ref` is a UUID, else `natural_key == natural_value` (default `ref`)."""
    try:
        return model.id == uuid.UUID(str(ref))
    except ValueError:
        return natural_key == (str(ref) if natural_value is None else natural_value)


async def find_one(uow: UnitOfWork, model, ref, natural_key, field: str, label: str | None = None,
                   natural_value=None):
    found = await uow.session.scalar(select(model).where(ref_condition(model, ref, natural_key, natural_value)))
    if found is None:
        raise NotFound(f"{field}: no {label or field} {str(ref)!r} in this organisation", field=field)
    return found
