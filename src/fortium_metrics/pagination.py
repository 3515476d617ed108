"""Pages of results: `page` from 1, `limit` at most 100, with the total for the UI."""
from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Select, func, select

from .store.uow import UnitOfWork

T = TypeVar("T")
MAX_LIMIT = 100


class PageQuery(BaseModel):
    # Bounded so that the offset (page - 1) * limit fits a 64-bit integer on both databases.
    page: int = Field(1, ge=1, le=10**9, description="Page number, from 1.")
    limit: int = Field(20, ge=1, le=MAX_LIMIT, description="Items per page, at most 100.")


def page_number(text: str | None) -> int:
    """A page number read from a page's URL: anything unreadable or out of range is page 1 (a
    link never makes an error page)."""
    try:
        return PageQuery(page=int(text or 1)).page
    except (ValueError, ValidationError):
        return 1


class Page(BaseModel, Generic[T]):
    items: list[T]
    page: int
    limit: int
    total: int


async def paginate(uow: UnitOfWork, query: Select, page: PageQuery) -> tuple[list, int]:
    total = await uow.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = list(await uow.session.scalars(query.offset((page.page - 1) * page.limit).limit(page.limit)))
    return rows, total or 0
