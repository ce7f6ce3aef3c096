"""The bots list: filters, ordering by creation (or by a field of `extra`) and keyset pages.

A page ends with the sort key of its last bot; the next page starts strictly after it, so bots
created in between never shift or repeat what a client already saw.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, column, exists, func, literal, or_, select
from sqlalchemy.sql import ColumnElement

from mb_shared.contracts.queries import ListBots
from scheduler.models import Bot


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def sort_columns(query: ListBots) -> list[tuple[ColumnElement, bool]]:
    """(expression, descending) from the most significant key to the least."""
    keys: list[tuple[ColumnElement, bool]] = []
    if query.sort_by_extra is not None:
        value = Bot.params["extra"][query.sort_by_extra.field].astext
        keys.append((case((value.is_(None), 1), else_=0), False))
        keys.append((func.coalesce(value, ""), query.sort_by_extra.descending))
    keys.append((Bot.created_at, True))
    keys.append((Bot.id, True))
    return keys


def _after(keys: list[tuple[ColumnElement, bool]], values: list[Any]) -> ColumnElement:
    """Rows strictly after `values` in the order of `keys` (a lexicographic comparison)."""
    clauses = []
    for i, (expression, descending) in enumerate(keys):
        equal_before = [keys[j][0] == values[j] for j in range(i)]
        beyond = expression < values[i] if descending else expression > values[i]
        clauses.append(and_(*equal_before, beyond))
    return or_(*clauses)


def _cursor_values(query: ListBots, keys) -> list[Any]:
    values = list(query.after or [])
    if len(values) != len(keys):
        raise ValueError("the cursor does not belong to this sort order")
    values[-2] = datetime.fromisoformat(values[-2])
    return values


def list_statement(query: ListBots, keys):
    statement = select(Bot, *[k for k, _ in keys]).where(Bot.account_id == query.account_id)
    if query.bot_name:
        statement = statement.where(Bot.params["bot_name"].astext.ilike(_like(query.bot_name)))
    if query.meeting_url:
        statement = statement.where(
            Bot.params["meeting_url"].astext.ilike(_like(query.meeting_url))
        )
    if query.created_after:
        statement = statement.where(Bot.created_at >= query.created_after)
    if query.created_before:
        statement = statement.where(Bot.created_at <= query.created_before)
    if query.ended_after:
        statement = statement.where(Bot.ended_at >= query.ended_after)
    for field, value in query.filter_by_extra.items():
        statement = statement.where(Bot.params["extra"][field].astext == value)
    if query.speaker_name:
        speakers = func.jsonb_array_elements_text(Bot.speakers).table_valued("value")
        statement = statement.where(
            exists(
                select(literal(1)).select_from(speakers).where(
                    column("value").ilike(_like(query.speaker_name))
                )
            )
        )
    if query.after:
        statement = statement.where(_after(keys, _cursor_values(query, keys)))
    order = [k.desc() if descending else k.asc() for k, descending in keys]
    return statement.order_by(*order).limit(query.limit + 1)


def cursor_of(row_keys: tuple) -> list[Any]:
    values = list(row_keys)
    values[-2] = values[-2].isoformat()
    return values
