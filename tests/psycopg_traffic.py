"""What psycopg sends, for the PostgreSQL tests that pin a request's round trips."""
from __future__ import annotations

import psycopg
from psycopg import _pipeline_base


def record_traffic(monkeypatch) -> dict:
    """From now on, until the monkeypatch is undone, in order (`sent`): the statements psycopg's cursors execute,
    by their first word, marked "(autocommit)" when the connection was; its own commands, such as the `BEGIN` it
    opens a transaction with or its `commit()`, as "psycopg BEGIN"; and (`syncs`) how many Syncs its pipelines
    sent, each of which it waits for (a round trip)."""
    seen = {"sent": [], "syncs": 0}
    command, execute = psycopg.Connection._exec_command, psycopg.Cursor.execute
    sync = _pipeline_base.BasePipeline._enqueue_sync

    def commanded(conn, sql, *args, **kwargs):
        seen["sent"].append("psycopg " + (bytes(sql).decode() if isinstance(sql, bytes) else str(sql)))
        return command(conn, sql, *args, **kwargs)

    def executed(cursor, sql, *args, **kwargs):
        text = sql if isinstance(sql, str) else repr(sql)  # some tests' own setup composes theirs
        seen["sent"].append(text.split(None, 1)[0].upper() + (" (autocommit)" if cursor.connection.autocommit else ""))
        return execute(cursor, sql, *args, **kwargs)

    def synced(pipeline):
        seen["syncs"] += 1
        return sync(pipeline)

    monkeypatch.setattr(psycopg.Connection, "_exec_command", commanded)
    monkeypatch.setattr(psycopg.Cursor, "execute", executed)
    monkeypatch.setattr(_pipeline_base.BasePipeline, "_enqueue_sync", synced)
    return seen
