"""Prompts loaded from ``prompts/*.md`` (front matter: title, description, arguments).

A body names its arguments as ``{name}``, and may name facts of the moment the prompt is fetched
(``FACTS``: today's date and exercise cutoff, from the server's clock) the same way. A placeholder
that is neither is an error when the server starts, not a stray brace in a person's prompt."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
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

FACTS = ("today", "exercise_cutoff_today")
"""Placeholders filled when a prompt is fetched, from the server's clock (see ``todays_facts``)."""

Facts = Callable[[], Mapping[str, str]]


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
        return await super().render(arguments, context)


def _renderer(prompt: PromptFile, facts: Facts) -> Any:
    async def render(**values: Any) -> str:
        return prompt.render(values, facts())

    return render


def todays_facts(now: Callable[[], datetime]) -> Facts:
    """Today's date and exercise cutoff in New York, read from ``now`` each time a prompt is
    fetched. The cutoff is FINRA Rule 2360(b)(23)(A)'s (17:30 ET; 14:30 ET on an early-close
    day), as ``domain.calendar.describe_exercise_cutoff`` words it."""

    def facts() -> Mapping[str, str]:
        from ..domain.calendar import describe_exercise_cutoff, new_york

        today = new_york(now()).date()
        return {"today": f"{today:%a %Y-%m-%d}", "exercise_cutoff_today": describe_exercise_cutoff(today)}

    return facts


def register_prompts(server: MCPServer[Any], facts: Facts, directory: Path | None = None) -> list[str]:
    names = []
    for path in sorted((directory or prompts_dir()).glob("*.md")):
        prompt = parse_prompt(path)
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
