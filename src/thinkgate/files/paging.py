"""Cursor pages ordered by (created_at, id), as OpenAI's lists: `after` / `before` name
an object of the list, `order` is by creation time."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

RowT = TypeVar("RowT")


def paged(
    query: Select[RowT],
    created: InstrumentedAttribute[int],
    ident: InstrumentedAttribute[str],
    *,
    after: tuple[int, str] | None,
    before: tuple[int, str] | None,
    order: str,
    limit: int,
) -> Select[RowT]:
    """`limit + 1` rows past `after` (and short of `before`): the extra one says has_more."""
    descending = order == "desc"
    if after is not None:
        query = query.where(_beyond(created, ident, after, descending))
    if before is not None:
        query = query.where(_beyond(created, ident, before, not descending))
    ordering = (created.desc(), ident.desc()) if descending else (created.asc(), ident.asc())
    return query.order_by(*ordering).limit(limit + 1)


def _beyond(
    created: InstrumentedAttribute[int],
    ident: InstrumentedAttribute[str],
    key: tuple[int, str],
    descending: bool,
) -> Any:
    if descending:
        return (created < key[0]) | ((created == key[0]) & (ident < key[1]))
    return (created > key[0]) | ((created == key[0]) & (ident > key[1]))


def page_body(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
