"""Which statements database.read_rows may read straight off the DBAPI cursor: only those whose
rows SQLAlchemy would hand over unconverted (no database needed: compiled per dialect)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, PickleType, Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from webapp.core import database, queries
from webapp.core.database import _cursor_plan

PSYCOPG = postgresql.dialect(driver="psycopg")


@pytest.mark.parametrize(
    "statement",
    [
        queries._page_statement(True, ("tag", "author", "favorited")),
        queries._page_statement(False, ()),
        queries._feed_statement(True),
        queries._article_statement(True),
        queries._profile_statement(False),
        queries._comments_statement(True),
        queries._tags_statement(),
    ],
    ids=["page", "anonymous page", "feed", "article", "profile", "comments", "tags"],
)
def test_the_api_reads_are_read_off_the_cursor_on_postgresql(statement):
    plan = _cursor_plan(statement, PSYCOPG)
    assert plan is not None
    values = {
        "limit": 20,
        "offset": 40,
        "reader_id": 1,
        "token_version": 0,
        "slug": "a",
        "username": "a",
        "tag": "t",
        "author": "a",
        "favorited": "a",
    }
    text, parameters = plan.execution(values)
    for name in parameters:  # named parameters, bound by the driver
        assert f"%({name})s" in text
    if statement is not queries._feed_statement(True) and "LIMIT" in text:
        assert "LIMIT 20 OFFSET 40" in text  # written in as numbers
        assert "limit" not in parameters
        assert "offset" not in parameters


def test_a_plan_writes_each_page_size_and_offset_once():
    plan = database._CursorPlan(queries._page_statement(False, ()).compile(dialect=PSYCOPG))
    first, _ = plan.execution({"limit": 20, "offset": 0})
    again, _ = plan.execution({"limit": 20, "offset": 0})
    other, _ = plan.execution({"limit": 5, "offset": 10})
    assert first is again  # kept, not written again
    assert plan.texts[(20, 0)][0] is first
    assert "LIMIT 20 OFFSET 0" in first
    assert "LIMIT 5 OFFSET 10" in other
    assert len(plan.texts) == 2


def test_a_plan_keeps_a_bounded_number_of_texts(monkeypatch):
    monkeypatch.setattr(database, "PLAN_TEXTS", 3)
    plan = database._CursorPlan(queries._page_statement(False, ()).compile(dialect=PSYCOPG))
    for offset in range(10):
        text, _ = plan.execution({"limit": 20, "offset": offset})
        assert f"LIMIT 20 OFFSET {offset}" in text  # still right past the bound
    assert len(plan.texts) == 3


def test_an_expanding_in_list_is_written_each_time():
    table = Table("things", MetaData(), Column("id", Integer))
    statement = select(table.c.id).where(table.c.id.in_(bindparam("ids", expanding=True)))
    plan = _cursor_plan(statement, PSYCOPG)
    assert plan is not None
    two, _ = plan.execution({"ids": [1, 2]})
    three, _ = plan.execution({"ids": [1, 2, 3]})
    assert two != three
    assert plan.texts == {}


def test_sqlite_dates_need_sqlalchemy():
    # SQLite hands back dates as text; SQLAlchemy's result processor makes them datetimes.
    assert _cursor_plan(queries._page_statement(False, ()), sqlite.dialect()) is None


def test_a_column_or_parameter_sqlalchemy_converts_keeps_its_path():
    table = Table(
        "things",
        MetaData(),
        Column("id", Integer),
        Column("blob", PickleType),
        Column("at", DateTime),
    )
    assert _cursor_plan(select(table.c.id, table.c.at), PSYCOPG) is not None
    assert _cursor_plan(select(table.c.blob), PSYCOPG) is None
    pickled = select(table.c.id).where(table.c.blob == bindparam("blob", type_=PickleType))
    assert _cursor_plan(pickled, PSYCOPG) is None
