"""The single-use ledger in Redis: what several replicas of the server share (``POSITIONS_MCP_LEDGER``
set to ``redis://…`` or ``rediss://…``). The same promises as :class:`~.ledger.SqliteLedger`, kept by
single Redis commands, each atomic on the server (https://redis.io/docs/latest/develop/interact/transactions/):

* **Spending** a token is one ``SET <nonce> … NX EX`` (https://redis.io/docs/latest/commands/set/):
  of any number of replicas racing with one token exactly one sets the key, and only that one may
  send. The key outlives every token by far (:data:`SPENT_RETENTION` against a lifetime of at most
  an hour), so no clock stepped back within a token's life makes it valid again.
* **Recording a submission** moves two keys together (the request's index and the submission
  itself, after the check that no identical one came since the preview): one Lua script, which
  Redis runs without interleaving any other command (https://redis.io/docs/latest/develop/interact/programmability/eval-intro/).
* Every key shares the hash tag ``{positions-mcp}``, so in a Redis Cluster they live in one slot.

Every failure to reach or use Redis is a :class:`~.ledger.LedgerError` (the pipeline refuses the
state change, nothing sent) and never names the URL's password. Commands are never retried by the
client: a spend retried after a lost answer would read as "already used". A restart of Redis
keeps what it had only from its append-only file, so :meth:`RedisLedger.check` refuses a Redis that
keeps none (``appendonly no``): the first restart would forget every spent token.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .ledger import REPEAT_WINDOW, SUBMISSION_RETENTION, LedgerError, Submission

if TYPE_CHECKING:
    from redis import Redis
    from redis.commands.core import Script

    from ..settings import RedisURL

__all__ = ["PREFIX", "SPENT_RETENTION", "RedisLedger"]

PREFIX = "{positions-mcp}:"
SPENT_RETENTION = timedelta(days=30)
_CONNECT_TIMEOUT_SECONDS = 3.0
_COMMAND_TIMEOUT_SECONDS = 5.0

# KEYS: the request's index (sorted set: submission id by sent_at, µs), the id counter.
# ARGV: prefix, sent_at µs, window start µs, retention start µs, newer_than, retention s,
#       account, tool, request, keys (JSON), confirmation, sent_at (ISO 8601).
_RECORD = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[3], '+inf')) do
  if tonumber(id) > tonumber(ARGV[5]) then return false end
end
local id = redis.call('INCR', KEYS[2])
local key = ARGV[1] .. 'submission:' .. id
redis.call('HSET', key, 'account', ARGV[7], 'tool', ARGV[8], 'request', ARGV[9], 'keys', ARGV[10],
  'confirmation', ARGV[11], 'sent_at', ARGV[12], 'outcome', 'sending', 'ids', '[]', 'status', '')
redis.call('EXPIRE', key, ARGV[6])
redis.call('ZADD', KEYS[1], ARGV[2], id)
redis.call('EXPIRE', KEYS[1], ARGV[6])
return id
"""

# KEYS: the submission. ARGV: outcome, ids (JSON), status ('' for none). A submission gone with
# its retention is not brought back.
_COMPLETE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'outcome', ARGV[1], 'ids', ARGV[2], 'status', ARGV[3])
return 1
"""

# KEYS: the request's index. ARGV: window start µs, now µs, prefix. The latest submission (by
# sent_at, then id) and its fields, or nil.
_RECENT = """
local best, best_score = nil, nil
local found = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES')
for i = 1, #found, 2 do
  local id, score = tonumber(found[i]), tonumber(found[i + 1])
  if best == nil or score > best_score or (score == best_score and id > best) then
    best, best_score = id, score
  end
end
if best == nil then return false end
local fields = redis.call('HGETALL', ARGV[3] .. 'submission:' .. best)
if #fields == 0 then return false end
return {best, fields}
"""


def _micros(instant: datetime) -> int:
    """An instant as whole microseconds since the epoch: exact as a sorted set's score (< 2**53)."""
    return int(instant.timestamp()) * 1_000_000 + instant.microsecond


def _text(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def _request_index(account: str, tool: str, request: str) -> str:
    """The sorted set of an identical request's submissions (``request`` is a hex digest)."""
    return f"{PREFIX}requests:{account}:{tool}:{request}"


class RedisLedger:
    """:class:`~.ledger.Ledger` on a Redis server (``redis`` client, blocking; the pipeline calls it
    from a worker thread, and the client's connection pool is shared by threads). Nothing connects
    before the first command."""

    def __init__(self, url: RedisURL) -> None:
        from redis import Redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.where = url.where
        self._redis: Redis = Redis.from_url(
            url.url.reveal(),
            decode_responses=True,
            socket_connect_timeout=_CONNECT_TIMEOUT_SECONDS,
            socket_timeout=_COMMAND_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),  # never repeat a command whose answer was lost
            client_name="clearstreet-positions-mcp",
        )
        # each is sent by its SHA, and sent whole again to a restarted Redis that lost it
        self._record: Script = self._redis.register_script(_RECORD)
        self._complete: Script = self._redis.register_script(_COMPLETE)
        self._recent: Script = self._redis.register_script(_RECENT)

    def _failed(self, doing: str, exc: Exception) -> LedgerError:
        # redis' messages name the host and port, never the password
        return LedgerError(f"the Redis ledger at {self.where} cannot be {doing}: {exc}")

    def check(self) -> None:
        """Reach Redis (and log in) and make sure it keeps an append-only file; raises
        ``LedgerError`` saying why not. Called at start-up: a server that could not guarantee single
        use refuses to start."""
        from redis.exceptions import RedisError

        try:
            persistence = self._redis.info("persistence")
        except (RedisError, OSError) as exc:
            raise self._failed("reached", exc) from None
        if not int(persistence.get("aof_enabled", 0)):
            raise LedgerError(
                f"the Redis ledger at {self.where} keeps no append-only file (appendonly no), so a restart "
                "of Redis would forget every spent token: run it with appendonly yes and appendfsync always"
            )

    def close(self) -> None:
        self._redis.close()

    def _run(self, doing: str, command: Any) -> Any:
        from redis.exceptions import RedisError

        try:
            return command()
        except (RedisError, OSError) as exc:
            raise self._failed(doing, exc) from None

    def spend(self, nonce: str, *, tool: str, account: str, at: datetime) -> bool:
        record = json.dumps({"tool": tool, "account": account, "spent_at": _text(at)})
        key, seconds = f"{PREFIX}spent:{nonce}", int(SPENT_RETENTION.total_seconds())
        return bool(self._run("written", lambda: self._redis.set(key, record, nx=True, ex=seconds)))

    def is_spent(self, nonce: str) -> bool:
        return bool(self._run("read", lambda: self._redis.exists(f"{PREFIX}spent:{nonce}")))

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
        arguments: list[str | int] = [
            PREFIX,
            _micros(at),
            _micros(at - REPEAT_WINDOW),
            _micros(at - SUBMISSION_RETENTION),
            newer_than,
            int(SUBMISSION_RETENTION.total_seconds()),
            account,
            tool,
            request,
            json.dumps(list(keys)),
            confirmation,
            _text(at),
        ]
        index = [_request_index(account, tool, request), f"{PREFIX}submission-id"]
        recorded = self._run("written", lambda: self._record(keys=index, args=arguments))
        return None if recorded is None else int(recorded)

    def complete_submission(
        self, submission_id: int, *, outcome: str, ids: Sequence[str], status: int | None = None
    ) -> None:
        key = f"{PREFIX}submission:{submission_id}"
        arguments = [outcome, json.dumps(list(ids)), "" if status is None else str(status)]
        self._run("written", lambda: self._complete(keys=[key], args=arguments))

    def recent_submission(self, *, account: str, tool: str, request: str, now: datetime) -> Submission | None:
        index = _request_index(account, tool, request)
        arguments: list[str | int] = [_micros(now - REPEAT_WINDOW), _micros(now), PREFIX]
        found = self._run("read", lambda: self._recent(keys=[index], args=arguments))
        if not found:
            return None
        submission_id, flat = found
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        return Submission(
            id=int(submission_id),
            account=fields["account"],
            tool=fields["tool"],
            request=fields["request"],
            keys=tuple(json.loads(fields["keys"])),
            confirmation=fields["confirmation"],
            sent_at=datetime.fromisoformat(fields["sent_at"]),
            outcome=fields["outcome"],
            ids=tuple(json.loads(fields["ids"])),
            status=int(fields["status"]) if fields["status"] else None,
        )
