"""The single-use ledger: spent confirmation tokens and recent submissions, durable and shared.

Every server process on the machine that uses the same ledger file sees the same spent tokens and
the same recent submissions, before and after a restart:

* **Spending** a token is one atomic ``INSERT`` of its nonce (the primary key): of two processes
  racing with one token exactly one insert succeeds, and only that one may send. A spent nonce is
  never forgotten, so no clock, stepped back or forward, can make a spent token valid again.
* **Submissions** record what was sent (account, tool, the request without its idempotency keys,
  the keys, when) before it leaves, then how it ended (outcome, ids, the HTTP status of a failure):
  an identical request repeated within :data:`REPEAT_WINDOW` is recognised, so a retry after a
  lost answer reuses the same keys or is named as a repeat to the person, with what is known of it.

:class:`Ledger` is the interface; :class:`SqliteLedger` (stdlib ``sqlite3`` in WAL mode, synchronous
FULL, so a commit is on disk before it returns) is the default, for the processes of one machine;
``safety.redis_ledger.RedisLedger`` is the ledger several replicas share.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

__all__ = [
    "DEFAULT_FILE_NAME",
    "REPEAT_WINDOW",
    "SUBMISSION_RETENTION",
    "Ledger",
    "LedgerError",
    "SqliteLedger",
    "Submission",
]

DEFAULT_FILE_NAME = "ledger.sqlite3"
REPEAT_WINDOW = timedelta(minutes=15)
"""An identical request sent again within this window is a repeat (the confirmation model README.md describes)."""
SUBMISSION_RETENTION = timedelta(days=2)
"""How long a submission is kept: far past the repeat window it serves."""
_BUSY_TIMEOUT_SECONDS = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spent_tokens (
    nonce TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    account TEXT NOT NULL,
    spent_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    tool TEXT NOT NULL,
    request TEXT NOT NULL,
    keys TEXT NOT NULL,
    confirmation TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'sending',
    ids TEXT NOT NULL DEFAULT '[]',
    status INTEGER
);
CREATE INDEX IF NOT EXISTS submissions_by_request ON submissions (account, tool, request, sent_at);
"""


class LedgerError(Exception):
    """The ledger cannot be read or written. Nothing may be sent: single use cannot be guaranteed."""


@dataclass(frozen=True, slots=True)
class Submission:
    """A state-changing request as it was sent (or was about to be)."""

    id: int
    account: str
    tool: str
    request: str
    """Digest of the request without its idempotency keys (what makes two requests identical)."""
    keys: tuple[str, ...]
    confirmation: str
    """Short digest of the confirmation token that allowed it."""
    sent_at: datetime
    outcome: str
    ids: tuple[str, ...]
    """Order or instruction ids the upstream answered with, once known."""
    status: int | None = None
    """The HTTP status of a failed attempt, when the upstream answered with one (e.g. 429)."""


class Ledger(Protocol):
    def check(self) -> None:
        """Open the ledger (creating what it needs); ``LedgerError`` saying why it cannot be used.
        Called at start-up, so a server that could not guarantee single use refuses to start."""
        ...

    def close(self) -> None:
        """Let go of what the ledger holds open (connections); it opens them again on next use."""
        ...

    def spend(self, nonce: str, *, tool: str, account: str, at: datetime) -> bool:
        """Mark the token ``nonce`` spent; False when it already was (then nothing may be sent)."""
        ...

    def is_spent(self, nonce: str) -> bool:
        """Whether ``nonce`` was spent (a question is never asked for a spent token)."""
        ...

    def record_submission(
        self,
        *,
        account: str,
        tool: str,
        request: str,
        keys: Sequence[str],
        confirmation: str,
        at: datetime,
        newer_than: int = 0,
    ) -> int | None:
        """Record a request about to be sent and return its id (for :meth:`complete_submission`).
        Atomically refuses (returns None) when an identical submission with an id above
        ``newer_than`` was recorded within the repeat window: the person was told of none."""
        ...

    def complete_submission(
        self, submission_id: int, *, outcome: str, ids: Sequence[str], status: int | None = None
    ) -> None:
        """Record how a submission ended (sent / rejected / unknown / not sent), the ids it created and
        the HTTP status of a failure. A submission never completed keeps the outcome ``sending``: the
        process stopped (or is still waiting) after recording it, so whether it left is not known."""
        ...

    def recent_submission(self, *, account: str, tool: str, request: str, now: datetime) -> Submission | None:
        """The latest identical submission within :data:`REPEAT_WINDOW` of ``now``, if any."""
        ...


def _add_status_column(connection: sqlite3.Connection) -> None:
    """A ledger written by an earlier version has no ``status`` column: add it (another process
    may do the same at the same moment; either one's column serves)."""
    columns = {row[1] for row in connection.execute("PRAGMA table_info(submissions)")}
    if "status" in columns:
        return
    try:
        connection.execute("ALTER TABLE submissions ADD COLUMN status INTEGER")
    except sqlite3.OperationalError:
        if "status" not in {row[1] for row in connection.execute("PRAGMA table_info(submissions)")}:
            raise


def _text(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


class SqliteLedger:
    """:class:`Ledger` in a SQLite file (created ``0600`` in a ``0700`` folder).

    Connections are opened per operation, so the object can be shared by threads and survives a
    file replaced underneath it; every write is its own ``BEGIN IMMEDIATE`` transaction.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()
        self._ready = False

    def check(self) -> None:
        """Create the file and its tables if needed; raises ``LedgerError`` saying why not.
        Called at start-up so a server that could not guarantee single use refuses to start."""
        with self._connect():
            pass

    def close(self) -> None:
        """Nothing is held open: each operation opens its own connection."""

    def _connect(self) -> sqlite3.Connection:
        try:
            directory = self.path.parent
            if not directory.is_dir():
                directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600))
            connection = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None)
            connection.execute("PRAGMA busy_timeout = 10000")
            if not self._ready:
                with self._lock:
                    connection.execute("PRAGMA journal_mode = WAL")
                    connection.executescript(_SCHEMA)
                    _add_status_column(connection)
                    self._ready = True
            connection.execute("PRAGMA synchronous = FULL")
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"the ledger {self.path} cannot be opened: {exc}") from None
        return connection

    def _write(self, sql: str, parameters: Sequence[object]) -> sqlite3.Cursor:
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            cursor = connection.execute(sql, parameters)
            connection.execute("COMMIT")
            return cursor
        except sqlite3.IntegrityError:
            connection.execute("ROLLBACK")
            raise
        except sqlite3.Error as exc:
            raise LedgerError(f"the ledger {self.path} cannot be written: {exc}") from None
        finally:
            connection.close()

    def spend(self, nonce: str, *, tool: str, account: str, at: datetime) -> bool:
        try:
            self._write(
                "INSERT INTO spent_tokens (nonce, tool, account, spent_at) VALUES (?, ?, ?, ?)",
                (nonce, tool, account, _text(at)),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def is_spent(self, nonce: str) -> bool:
        connection = self._connect()
        try:
            row = connection.execute("SELECT 1 FROM spent_tokens WHERE nonce = ?", (nonce,)).fetchone()
        except sqlite3.Error as exc:
            raise LedgerError(f"the ledger {self.path} cannot be read: {exc}") from None
        finally:
            connection.close()
        return row is not None

    def record_submission(
        self,
        *,
        account: str,
        tool: str,
        request: str,
        keys: Sequence[str],
        confirmation: str,
        at: datetime,
        newer_than: int = 0,
    ) -> int | None:
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")  # the check and the insert are one step for every process
            connection.execute("DELETE FROM submissions WHERE sent_at < ?", (_text(at - SUBMISSION_RETENTION),))
            newer = connection.execute(
                "SELECT 1 FROM submissions WHERE account = ? AND tool = ? AND request = ? AND id > ? AND sent_at >= ?",
                (account, tool, request, newer_than, _text(at - REPEAT_WINDOW)),
            ).fetchone()
            if newer is not None:
                connection.execute("ROLLBACK")
                return None
            cursor = connection.execute(
                "INSERT INTO submissions (account, tool, request, keys, confirmation, sent_at) VALUES (?, ?, ?, ?, ?, ?)",
                (account, tool, request, json.dumps(list(keys)), confirmation, _text(at)),
            )
            connection.execute("COMMIT")
            return int(cursor.lastrowid or 0)
        except sqlite3.Error as exc:
            raise LedgerError(f"the ledger {self.path} cannot be written: {exc}") from None
        finally:
            connection.close()

    def complete_submission(
        self, submission_id: int, *, outcome: str, ids: Sequence[str], status: int | None = None
    ) -> None:
        self._write(
            "UPDATE submissions SET outcome = ?, ids = ?, status = ? WHERE id = ?",
            (outcome, json.dumps(list(ids)), status, submission_id),
        )

    def recent_submission(self, *, account: str, tool: str, request: str, now: datetime) -> Submission | None:
        connection = self._connect()
        try:
            row = connection.execute(
                "SELECT id, account, tool, request, keys, confirmation, sent_at, outcome, ids, status FROM submissions "
                "WHERE account = ? AND tool = ? AND request = ? AND sent_at >= ? AND sent_at <= ? "
                "ORDER BY sent_at DESC, id DESC LIMIT 1",
                (account, tool, request, _text(now - REPEAT_WINDOW), _text(now)),
            ).fetchone()
        except sqlite3.Error as exc:
            raise LedgerError(f"the ledger {self.path} cannot be read: {exc}") from None
        finally:
            connection.close()
        if row is None:
            return None
        return Submission(
            id=row[0],
            account=row[1],
            tool=row[2],
            request=row[3],
            keys=tuple(json.loads(row[4])),
            confirmation=row[5],
            sent_at=datetime.fromisoformat(row[6]),
            outcome=row[7],
            ids=tuple(json.loads(row[8])),
            status=row[9],
        )
