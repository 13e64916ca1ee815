"""Prompts loaded from ``prompts/*.md`` (front matter: title, description, arguments, and
``acts: true`` for a prompt that leads to a state-changing tool: it is not offered when those tools
are not registered).

A body names its arguments as ``{name}``, and may name facts of the moment the prompt is fetched
(``FACTS``: today's date and time, and the exercise cutoff, from the server's clock) the same way. A
placeholder that is neither is an error when the server starts, not a stray brace in a person's
prompt. An argument value that is not what its name says (``ARGUMENT_CHECKS``) is refused with the
reason, never pasted into the prompt."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)
_ARGUMENT = re.compile(r"^\s+(\w+):\s*(required|optional)\s*(?:[—-]+\s*)?(.*)$")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")

FACTS = ("today", "exercise_cutoff_today", "last_trade_today")
"""Placeholders filled when a prompt is fetched, from the server's clock (see ``todays_facts``)."""

ARGUMENT_CHECKS: dict[str, tuple[re.Pattern[str], str]] = {
    "account_id": (re.compile(r"\d{1,18}"), "a Clear Street account id (digits only)"),
    "quantity": (re.compile(r"[1-9]\d{0,6}"), "a whole number of contracts, 1 or more"),
    "instruction_type": (
        re.compile(r"EXERCISE|DO_NOT_EXERCISE|CONTRARY_EXERCISE"),
        "EXERCISE, DO_NOT_EXERCISE or CONTRARY_EXERCISE",
    ),
    "instrument_id": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._/-]{0,63}"),
        "a ticker, an OSI option symbol or an instrument UUID",
    ),
}
"""What each argument a prompt may take must look like (after trimming; instruction_type in any
case), and how to say so."""

Facts = Callable[[], Awaitable[Mapping[str, str]]]


def prompts_dir() -> Path:
    """``prompts/`` inside an installed wheel, else at the root of a source checkout."""
    package = Path(__file__).resolve().parents[1]
    packaged = package / "prompts"
    return packaged if packaged.is_dir() else package.parents[1] / "prompts"


@dataclass(frozen=True)
class PromptFile:
    name: str
    title: str | None
    description: str | None
    arguments: tuple[PromptArgument, ...]
    body: str
    defaults: dict[str, str]
    acts: bool = False

    def render(self, values: dict[str, Any], facts: Mapping[str, str] | None = None) -> str:
        """The body with each argument's value (its default when blank) and each fact filled in;
        any other brace is left as written."""

        def fill(match: re.Match[str]) -> str:
            key = match.group(1)
            if key in self.defaults:
                value = values.get(key)
                return str(value) if value not in (None, "") else self.defaults[key]
            if facts is not None and key in facts:
                return facts[key]
            return match.group(0)

        return _PLACEHOLDER.sub(fill, self.body)


def parse_prompt(path: Path) -> PromptFile:
    """Parse one prompt file. Raises ValueError naming the file when it is malformed."""
    text = path.read_text(encoding="utf-8")
    match = _FRONT_MATTER.match(text)
    if not match:
        raise ValueError(f"{path}: missing '---' front matter")
    header, body = match.groups()
    fields: dict[str, str] = {}
    arguments: list[PromptArgument] = []
    defaults: dict[str, str] = {}
    in_arguments = False
    for line in header.splitlines():
        if not line.strip():
            continue
        if in_arguments and line.startswith((" ", "\t")):
            arg = _ARGUMENT.match(line)
            if not arg:
                raise ValueError(
                    f"{path}: argument line {line.strip()!r} is not 'name: required|optional — description'"
                )
            name, need, description = arg.groups()
            default = description.partition(" Default: ")[2]  # stays in the description: what blank means
            arguments.append(PromptArgument(name=name, description=description.strip(), required=need == "required"))
            defaults[name] = default.strip() or "(not given)"
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"{path}: front matter line {line!r} is not 'key: value'")
        in_arguments = key.strip() == "arguments"
        if not in_arguments:
            fields[key.strip()] = value.strip()
    names = {a.name for a in arguments}
    unknown = sorted(set(_PLACEHOLDER.findall(body)) - names - set(FACTS))
    if unknown:
        raise ValueError(
            f"{path}: placeholder(s) {', '.join(unknown)} name no argument and no fact ({', '.join(FACTS)})"
        )
    return PromptFile(
        name=path.stem,
        title=fields.get("title"),
        description=fields.get("description"),
        arguments=tuple(arguments),
        body=body.strip() + "\n",
        defaults=defaults,
        acts=fields.get("acts", "false").lower() == "true",
    )


class FilePrompt(Prompt):
    """A prompt whose missing required argument is an invalid-params error naming it, in both
    protocol eras (the SDK's own check surfaces as "Internal server error" on 2026-07-28)."""

    async def render(self, arguments: dict[str, Any] | None, context: Any) -> Any:
        given = arguments or {}
        missing = [a.name for a in self.arguments or [] if a.required and not str(given.get(a.name) or "").strip()]
        if missing:
            raise MCPError(
                INVALID_PARAMS,
                f"prompt {self.name!r} needs the argument(s) {', '.join(missing)}; "
                "see prompts/list for what each one means",
            )
        return await super().render(checked_arguments(self.name, given), context)


def checked_arguments(prompt: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` trimmed (instruction_type upper-cased), each value checked against
    ``ARGUMENT_CHECKS``. Raises an invalid-params error naming the argument and what it must be."""
    checked: dict[str, Any] = {}
    for name, raw in given.items():
        value = str(raw).strip() if raw is not None else ""
        if name == "instruction_type":
            value = value.upper()
        check = ARGUMENT_CHECKS.get(name)
        if value and check is not None and not check[0].fullmatch(value):
            shown = value if len(value) <= 40 else value[:40] + "…"
            raise MCPError(INVALID_PARAMS, f"prompt {prompt!r}: {name} {shown!r} is not {check[1]}")
        checked[name] = value
    return checked


def _renderer(prompt: PromptFile, facts: Facts) -> Any:
    async def render(**values: Any) -> str:
        return prompt.render(values, await facts())

    return render


def todays_facts(now: Callable[[], datetime], ready: Callable[[], Awaitable[None]] | None = None) -> Facts:
    """Today's date and time, exercise cutoff and options' last trades in New York, read from
    ``now`` each time a prompt is fetched. The cutoff is FINRA Rule 2360(b)(23)(A)'s, as
    ``domain.calendar.describe_todays_exercise_cutoff`` words it (once it has passed: so, and the
    next business day's). The last trades are
    ``domain.last_trade.describe_last_trades``'s (AM-settled index options stop a business day
    earlier). ``ready`` runs first (the API's clock is read when due)."""

    async def facts() -> Mapping[str, str]:
        if ready is not None:
            await ready()
        from ..domain.calendar import describe_todays_exercise_cutoff, new_york
        from ..domain.last_trade import describe_last_trades

        local = new_york(now())
        return {
            "today": f"{local:%a %Y-%m-%d}, {local:%H:%M} ET now",
            "exercise_cutoff_today": describe_todays_exercise_cutoff(local),
            "last_trade_today": describe_last_trades(local),
        }

    return facts


def register_prompts(
    server: MCPServer[Any], facts: Facts, directory: Path | None = None, *, acting: bool = True
) -> list[str]:
    """Register every prompt file; without ``acting`` (no state-changing tools registered), only
    the prompts that do not lead to one."""
    names = []
    for path in sorted((directory or prompts_dir()).glob("*.md")):
        prompt = parse_prompt(path)
        if prompt.acts and not acting:
            continue
        server.add_prompt(
            FilePrompt(
                name=prompt.name,
                title=prompt.title,
                description=prompt.description,
                arguments=list(prompt.arguments),
                fn=_renderer(prompt, facts),
            )
        )
        names.append(prompt.name)
    return names
