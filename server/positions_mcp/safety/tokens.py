"""Confirmation tokens: what turns a preview into permission for exactly one execution.

A token is ``cst1.<payload>.<signature>``: the payload is base64url (no padding) compact JSON with
the tool allowed to redeem it, the account, the environment, a SHA-256 of the canonical arguments,
the positions fingerprint, the expiry (epoch seconds), a random nonce, and optionally a small
projection of the previewed positions and the idempotency keys the preview assigned; the signature
is base64url HMAC-SHA256 over ``cst1.<payload>``, compared with :func:`hmac.compare_digest`.

With OAuth the payload also carries a tag of the person (``sub``) who previewed. Verifying checks,
in order: present → well-formed → signature → not expired → tool → account → environment → person →
arguments. Verifying spends nothing: single use is the ledger's job
(``safety.ledger``), which records a token's nonce as spent in one atomic insert that survives
restarts and is shared by every process. Every refusal says to call the preview again.

Canonical arguments: keys sorted; ``None`` values and the keys ``confirmation_token`` and
``account_id`` (bound on its own) left out; decimals (and ``quantity`` values given as strings or
integers) as normalised decimal strings, so ``5``, ``"5"`` and ``5.00`` agree; ``instrument_id``
values compared by :func:`symbol_key`, so renderings of one OSI symbol or ticker agree;
``client_instruction_id`` read as ``instruction_id``; list order kept. Any change of quantity,
instrument, instruction type or ``cancel_orders`` changes the digest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets as _secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from ..clearstreet.decimals import plain
from ..domain.osi import symbol_key

if TYPE_CHECKING:
    from ..clearstreet.models import Position
    from ..domain.calendar import Clock

__all__ = [
    "ConfirmationRefused",
    "ConfirmationTokens",
    "RefusalReason",
    "VerifiedToken",
    "already_used",
    "arguments_digest",
    "canonical_arguments",
    "describe_changes",
    "load_or_create_secret",
    "positions_fingerprint",
    "positions_projection",
    "preview_tool_for",
    "subject_tag",
    "token_digest",
]

_NEW_YORK = ZoneInfo("America/New_York")  # an expiry is said in the exchange's time, as everything else
PREFIX = "cst1"
PROJECTION_LIMIT = 20
"""At most this many positions travel inside a token for the 'what changed' message."""

_UNBOUND_KEYS = frozenset({"confirmation_token", "account_id"})
_DECIMAL_KEYS = frozenset({"quantity"})
_SYMBOL_KEYS = frozenset({"instrument_id", "underlying_instrument_id"})
_KEY_ALIASES = {"client_instruction_id": "instruction_id"}


class RefusalReason(StrEnum):
    NO_TOKEN = "NO_TOKEN"
    MALFORMED = "MALFORMED"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    EXPIRED = "EXPIRED"
    ALREADY_USED = "ALREADY_USED"
    WRONG_TOOL = "WRONG_TOOL"
    WRONG_ARGUMENTS = "WRONG_ARGUMENTS"
    WRONG_ACCOUNT = "WRONG_ACCOUNT"
    WRONG_ENVIRONMENT = "WRONG_ENVIRONMENT"
    WRONG_PERSON = "WRONG_PERSON"
    POSITIONS_CHANGED = "POSITIONS_CHANGED"
    PLAN_CHANGED = "PLAN_CHANGED"


class ConfirmationRefused(Exception):
    """The execution is refused; nothing may reach the upstream. ``message`` is for the user."""

    def __init__(self, reason_code: RefusalReason, message: str) -> None:
        self.reason_code = reason_code
        self.message = message
        super().__init__(message)


def preview_tool_for(tool: str) -> str:
    return tool if tool.startswith("preview_") else f"preview_{tool}"


def _again(tool: str) -> str:
    return (
        f" Nothing was sent. Call {preview_tool_for(tool)} again, show its summary to the user, "
        "and execute with the new confirmation_token once they agree."
    )


# -- canonical forms ----------------------------------------------------------------------------


def _decimal_text(value: Decimal) -> str:
    return plain(value.normalize()) if value.is_finite() else str(value)


def _canonical(value: Any, key: str | None = None, top: bool = False) -> Any:
    """``value`` (under ``key``; ``top``: the arguments themselves) in the form the module
    docstring describes; the bytes of its JSON are what a token's digest binds."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="python", exclude_none=True)
    if isinstance(value, Mapping):
        return _canonical_mapping(value, top)
    if isinstance(value, (list, tuple)):
        return [_canonical(v, key) for v in value]
    return _canonical_scalar(value, key)


def _canonical_mapping(value: Mapping[Any, Any], top: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in value.items():
        name = _KEY_ALIASES.get(str(k), str(k))
        if v is None or (top and name in _UNBOUND_KEYS):
            continue
        out[name] = _canonical(v, name)
    return dict(sorted(out.items()))


def _canonical_scalar(value: Any, key: str | None) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, Enum):
        value = value.value
    if key in _DECIMAL_KEYS and isinstance(value, (str, int, Decimal)):
        try:
            return _decimal_text(Decimal(str(value).strip()))
        except InvalidOperation:
            return value
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, float):
        return _decimal_text(Decimal(repr(value)))
    if key in _SYMBOL_KEYS and isinstance(value, str):
        return symbol_key(value)
    return value


def canonical_arguments(arguments: Mapping[str, Any], instruction_keys: Sequence[str] | None = None) -> str:
    """Canonical JSON of a tool's arguments. With ``instruction_keys``, a row of
    ``arguments["instructions"]`` without an ``instruction_id`` counts as carrying the key the
    preview assigned to it, so the submit may repeat the keys or leave them out."""
    canonical = _canonical(arguments, top=True)
    if instruction_keys is not None and isinstance(canonical.get("instructions"), list):
        for row, key in zip(canonical["instructions"], instruction_keys, strict=False):
            if isinstance(row, dict) and "instruction_id" not in row:
                row["instruction_id"] = key
    return json.dumps(canonical, separators=(",", ":"), sort_keys=True, ensure_ascii=True, default=str)


def arguments_digest(arguments: Mapping[str, Any], instruction_keys: Sequence[str] | None = None) -> str:
    return hashlib.sha256(canonical_arguments(arguments, instruction_keys).encode()).hexdigest()


def positions_projection(positions: Iterable[Position]) -> dict[str, list[str]]:
    """``instrument_id -> [symbol, quantity, available_quantity]``: what a close or an exercise
    depends on. Prices are left out: they move every second."""
    return {
        p.instrument_id.strip().lower(): [
            p.symbol,
            _decimal_text(p.quantity),
            _decimal_text(p.available_quantity),
        ]
        for p in sorted(positions, key=lambda p: p.instrument_id.strip().lower())
    }


def positions_fingerprint(positions: Iterable[Position]) -> str:
    """SHA-256 over (instrument_id, quantity, available_quantity) of each position, in any order."""
    rows = [[iid, q, a] for iid, (_, q, a) in positions_projection(positions).items()]
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def describe_changes(before: Mapping[str, Sequence[str]] | None, after_positions: Iterable[Position]) -> list[str]:
    """What changed between a preview's projection and the positions read now, e.g.
    ``["TSLA quantity -50 → -30"]``. Empty when ``before`` was not kept (large previews)."""
    if before is None:
        return []
    after = positions_projection(after_positions)
    changes: list[tuple[str, str]] = []
    for iid, (symbol, quantity, available) in before.items():
        now = after.get(iid)
        if now is None:
            changes.append((symbol, f"{symbol}: position gone (was {quantity})"))
            continue
        if now[1] != quantity:
            changes.append((symbol, f"{symbol} quantity {quantity} → {now[1]}"))
        if now[2] != available:
            changes.append((symbol, f"{symbol} available {available} → {now[2]}"))
    for iid, (symbol, quantity, _) in after.items():
        if iid not in before:
            changes.append((symbol, f"{symbol}: new position {quantity}"))
    return [text for _, text in sorted(changes, key=lambda c: c[0])]


def token_digest(token: str) -> str:
    """A short, non-reversible tag of a token for logs: ``sha256:1a2b3c4d5e6f``."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:12]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- issuing and redeeming --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token that passed every check but single use. Spend ``nonce`` in the ledger, then compare
    ``fingerprint`` with fresh positions through :meth:`check_positions`, before calling the upstream."""

    tool: str
    account_id: str
    environment: str
    fingerprint: str
    nonce: str
    digest: str
    """``token_digest`` of the token: how audit lines and questions name it."""
    expires_at: datetime
    projection: dict[str, list[str]] | None
    instruction_keys: tuple[str, ...] | None
    repeat_of: int
    """Ledger id of the identical earlier submission the preview named as a repeat (0: none)."""
    plan: str | None = None
    """``plan_digest`` of what the preview would send (None: a token issued without one)."""

    def check_plan(self, sends: Sequence[str]) -> None:
        """Raise ``PLAN_CHANGED`` unless ``sends`` — what would be sent now, planned from fresh
        reads — is what the preview showed. Positions are compared too (``check_positions``), but
        a plan also depends on what they do not show (pending instructions, working orders): this
        is the check that the executed plan is the previewed plan."""
        if self.plan is None or hmac.compare_digest(self.plan, plan_digest(sends)):
            return
        raise ConfirmationRefused(
            RefusalReason.PLAN_CHANGED,
            "What would be sent now differs from the preview (the orders or instruction rows changed, "
            "e.g. a pending instruction or a working order now holds part of the position), so this "
            "confirmation no longer applies." + _again(self.tool),
        )

    def check_positions(self, positions: Iterable[Position]) -> None:
        """Raise ``POSITIONS_CHANGED`` (saying what changed) unless ``positions`` — the same
        scope the preview fingerprinted, re-read now — still have the previewed fingerprint."""
        current = list(positions)
        if positions_fingerprint(current) == self.fingerprint:
            return
        changes = describe_changes(self.projection, current)
        what = "; ".join(changes[:10]) + ("; …" if len(changes) > 10 else "") if changes else ""
        detail = f" ({what})" if what else ""
        raise ConfirmationRefused(
            RefusalReason.POSITIONS_CHANGED,
            f"The positions changed since the preview{detail}, so this confirmation no longer applies."
            + _again(self.tool),
        )


class ConfirmationTokens:
    def __init__(self, secret: bytes, ttl_seconds: int, clock: Clock) -> None:
        if not secret:
            raise ValueError("the confirmation token secret must not be empty")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self._secret = bytes(secret)
        self.ttl_seconds = int(ttl_seconds)
        self._clock = clock

    def _now(self) -> float:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the clock must return an aware datetime")
        return now.timestamp()

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode("ascii"), hashlib.sha256).digest())

    def issue(
        self,
        tool: str,
        account_id: int | str,
        environment: str,
        arguments: Mapping[str, Any],
        fingerprint: str,
        *,
        positions: Sequence[Position] | None = None,
        instruction_keys: Sequence[str] | None = None,
        repeat_of: int = 0,
        sends: Sequence[str] | None = None,
        subject: str | None = None,
    ) -> str:
        """A token that lets ``tool`` (the executing tool, e.g. ``close_position``) run once with
        these arguments. ``positions`` (the scope that was fingerprinted) travel as a projection
        when there are at most ``PROJECTION_LIMIT`` of them; ``instruction_keys`` are the
        idempotency keys the preview assigned, in row order; ``repeat_of`` the ledger id of the
        identical earlier submission the preview named (execution refuses a newer one); ``sends`` what
        the plan would send, one canonical line per order or row (bound as ``plan_digest``);
        ``subject`` the person who previewed (OAuth ``sub``; bound as ``subject_tag``, and only
        another call by that person redeems it)."""
        if positions is not None and positions_fingerprint(positions) != fingerprint:
            raise ValueError("fingerprint does not match the positions given")
        keys = list(instruction_keys) if instruction_keys is not None else None
        payload: dict[str, Any] = {
            "t": tool,
            "a": str(account_id),
            "e": environment,
            "h": arguments_digest(arguments, keys),
            "f": fingerprint,
            "x": int(self._now()) + self.ttl_seconds,
            "n": _secrets.token_urlsafe(12),
        }
        if positions is not None and len(positions) <= PROJECTION_LIMIT:
            payload["p"] = positions_projection(positions)
        if keys is not None:
            payload["k"] = keys
        if repeat_of:
            payload["r"] = int(repeat_of)
        if sends is not None:
            payload["s"] = plan_digest(sends)
        if subject is not None:
            payload["u"] = subject_tag(subject)
        body = f"{PREFIX}.{_b64(json.dumps(payload, separators=(',', ':')).encode())}"
        return f"{body}.{self._sign(body)}"

    def _verify(self, token: Any, tool: str) -> dict[str, Any]:
        if token is None or (isinstance(token, str) and not token.strip()):
            raise ConfirmationRefused(
                RefusalReason.NO_TOKEN,
                f"{tool} needs the confirmation_token of a preview the user agreed to." + _again(tool),
            )
        parts = token.strip().split(".") if isinstance(token, str) else []
        if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
            raise ConfirmationRefused(
                RefusalReason.MALFORMED,
                "The confirmation_token is not one this server issued (malformed)." + _again(tool),
            )
        body = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._sign(body).encode(), parts[2].encode("utf-8", "replace")):
            raise ConfirmationRefused(
                RefusalReason.BAD_SIGNATURE,
                "The confirmation_token's signature does not match: it was altered, or issued by "
                "another server process." + _again(tool),
            )
        try:
            payload = json.loads(_unb64(parts[1]))
            if not isinstance(payload, dict) or any(
                field not in payload for field in ("t", "a", "e", "h", "f", "x", "n")
            ):
                raise ValueError("payload is not a token payload")
            int(payload["x"])
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise ConfirmationRefused(
                RefusalReason.MALFORMED,
                "The confirmation_token could not be read (malformed)." + _again(tool),
            ) from None
        return payload

    def expires_at(self, token: str) -> datetime:
        """The expiry of a token this instance issued (signature checked)."""
        return datetime.fromtimestamp(int(self._verify(token, "this tool")["x"]), UTC)

    def verify(
        self,
        token: str | None,
        tool: str,
        account_id: int | str,
        environment: str,
        arguments: Mapping[str, Any],
        subject: str | None = None,
    ) -> VerifiedToken:
        """Check ``token`` against this call (by ``subject``: the person calling, None without
        OAuth). Raises ``ConfirmationRefused``; spends nothing."""
        payload = self._verify(token, tool)
        now = self._now()
        expiry = int(payload["x"])
        if now >= expiry:
            raise ConfirmationRefused(
                RefusalReason.EXPIRED,
                f"The confirmation_token expired at {datetime.fromtimestamp(expiry, _NEW_YORK):%H:%M:%S} "
                f"ET (tokens live {self.ttl_seconds} s)." + _again(tool),
            )
        if payload["t"] != tool:
            raise ConfirmationRefused(
                RefusalReason.WRONG_TOOL,
                f"This confirmation_token was issued for {payload['t']}, not {tool}." + _again(tool),
            )
        if payload["a"] != str(account_id):
            raise ConfirmationRefused(
                RefusalReason.WRONG_ACCOUNT,
                f"This confirmation_token was issued for account {payload['a']}, not {account_id}." + _again(tool),
            )
        if payload["e"] != environment:
            raise ConfirmationRefused(
                RefusalReason.WRONG_ENVIRONMENT,
                f"This confirmation_token was issued in the {payload['e']} environment, not "
                f"{environment}." + _again(tool),
            )
        if payload.get("u") != (subject_tag(subject) if subject is not None else None):
            raise ConfirmationRefused(
                RefusalReason.WRONG_PERSON,
                "This confirmation_token belongs to another person's preview (or to one made without "
                "signing in); each person confirms only what they previewed." + _again(tool),
            )
        keys = payload.get("k")
        if not hmac.compare_digest(str(payload["h"]), arguments_digest(arguments, keys)):
            raise ConfirmationRefused(
                RefusalReason.WRONG_ARGUMENTS,
                "The arguments differ from the previewed ones (instrument, quantity, instruction "
                "type, instruction_id or cancel_orders changed)." + _again(tool),
            )
        assert token is not None  # _verify refused a missing token
        return VerifiedToken(
            tool=tool,
            account_id=str(payload["a"]),
            environment=str(payload["e"]),
            fingerprint=str(payload["f"]),
            nonce=str(payload["n"]),
            digest=token_digest(token),
            expires_at=datetime.fromtimestamp(expiry, UTC),
            projection=payload.get("p"),
            instruction_keys=tuple(keys) if keys is not None else None,
            repeat_of=int(payload.get("r", 0)),
            plan=payload.get("s"),
        )


def subject_tag(subject: str) -> str:
    """How a token names the person who previewed: a digest, not the ``sub`` itself (a token is
    shown to the model and may be logged by a host)."""
    return _b64(hashlib.sha256(subject.encode("utf-8", "replace")).digest()[:18])


def plan_digest(sends: Sequence[str]) -> str:
    """A short digest of what a plan sends (its canonical lines, in order)."""
    return _b64(hashlib.sha256("\n".join(sends).encode()).digest()[:18])


ALREADY_USED_MESSAGE = "This confirmation_token was already used; each one allows a single execution."


def already_used(tool: str) -> ConfirmationRefused:
    """The refusal for a token whose nonce the ledger already holds."""
    return ConfirmationRefused(RefusalReason.ALREADY_USED, ALREADY_USED_MESSAGE + _again(tool))


def load_or_create_secret(path: Path) -> bytes:
    """The HMAC key kept in ``path`` (mode 0600), created with 32 random bytes on first use, so a
    preview's token survives a restart of the server (clients that start one process per call).

    The key is written whole to a temporary file, synced, then linked into place, so no process
    ever reads a half-written key; of two processes starting at once, the second uses the first's.
    An empty file (left by an older version or a full disk) held no usable key, so no token can
    depend on it: it is replaced. Raises ``OSError`` when the key can be neither read nor created."""
    data = _read_key(path)
    if data:
        return data
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = _secrets.token_hex(32).encode()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{_secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            os.write(fd, secret + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)  # atomic, and fails if the key exists
        except FileExistsError:
            if not _read_key(path):  # an empty key file: replace it whole
                os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    data = _read_key(path)  # whoever won, the key in the file is the key
    if not data:
        raise OSError(f"the key file {path} is still empty after writing it")
    return data


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        return b""
