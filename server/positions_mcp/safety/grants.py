"""Per-person accounts: which accounts each person (a token's ``sub``) or group may touch.

The file ``POSITIONS_MCP_ACCOUNT_GRANTS`` names is TOML::

    [subjects]
    "alice@desk.example" = [19816, 19817]

    [groups]
    traders = [19816]

A person may touch the union of their own list and their groups' lists, within
``POSITIONS_MCP_ALLOWED_ACCOUNTS`` (``policy.accounts_of``). The file is read once, at start-up;
a mistake in it stops start-up with one line.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..settings import ConfigError

__all__ = ["SECTIONS", "AccountGrants", "load_grants"]

SECTIONS = ("subjects", "groups")
_SETTING = "POSITIONS_MCP_ACCOUNT_GRANTS"


@dataclass(frozen=True)
class AccountGrants:
    subjects: Mapping[str, tuple[int, ...]]
    groups: Mapping[str, tuple[int, ...]]

    def granted(self, subject: str | None, groups: tuple[str, ...]) -> tuple[int, ...]:
        """The accounts granted to ``subject`` and its ``groups``, in order: the subject's own list
        first, then each group's in the order the file lists the groups; each account once."""
        if subject is None:
            return ()
        lists = [self.subjects.get(subject, ())]
        lists += [accounts for name, accounts in self.groups.items() if name in groups]
        return tuple(dict.fromkeys(account for accounts in lists for account in accounts))


def load_grants(path: Path) -> AccountGrants:
    """Read and check the grants file; ``ConfigError`` (one line) says what is wrong where."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{_SETTING}: cannot read {path} ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{_SETTING}: {path} is not TOML ({exc})") from None
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(
            f"{_SETTING}: {path} has [{unknown[0]}]; only [subjects] and [groups] map names to account ids"
        )
    sections = {name: _section(path, name, data.get(name, {})) for name in SECTIONS}
    return AccountGrants(subjects=sections["subjects"], groups=sections["groups"])


def _section(path: Path, name: str, table: Any) -> dict[str, tuple[int, ...]]:
    if not isinstance(table, dict):
        raise ConfigError(f"{_SETTING}: {path}: {name} must be a table ([{name}]), not a value")
    read: dict[str, tuple[int, ...]] = {}
    for key, accounts in table.items():
        if not isinstance(accounts, list) or not all(_is_account(a) for a in accounts):
            raise ConfigError(
                f"{_SETTING}: {path}: [{name}] {key!r} must be a list of account ids (positive whole numbers), "
                f"e.g. {key!r} = [19816, 19817]"
            )
        read[key] = tuple(accounts)
    return read


def _is_account(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63
