"""Which statements database.read_rows may read straight off the DBAPI cursor: only those whose
rows SQLAlchemy would hand over unconverted (no database needed: compiled per dialect)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, PickleType, Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from webapp.core import queries
from webapp.core.database import _compiled_for_cursor

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
    compiled = _compiled_for_cursor(statement, PSYCOPG)
    assert compiled is not None
    state = compiled.construct_expanded_state(
        {
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
    )
    for name in state.parameters:  # named parameters, bound by the driver
        assert f"%({name})s" in state.statement
    if "LIMIT" in state.statement and statement is not queries._feed_statement(True):
        assert "LIMIT 20 OFFSET 40" in state.statement  # written in as numbers


def test_sqlite_dates_need_sqlalchemy():
    # SQLite hands back dates as text; SQLAlchemy's result processor makes them datetimes.
    assert _compiled_for_cursor(queries._page_statement(False, ()), sqlite.dialect()) is None


def test_a_column_or_parameter_sqlalchemy_converts_keeps_its_path():
    table = Table(
        "things",
        MetaData(),
        Column("id", Integer),
        Column("blob", PickleType),
        Column("at", DateTime),
    )
    assert _compiled_for_cursor(select(table.c.id, table.c.at), PSYCOPG) is not None
    assert _compiled_for_cursor(select(table.c.blob), PSYCOPG) is None
    pickled = select(table.c.id).where(table.c.blob == bindparam("blob", type_=PickleType))
    assert _compiled_for_cursor(pickled, PSYCOPG) is None
