"""Prompts loaded from ``prompts/*.md`` (front matter: title, description, arguments)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)
_ARGUMENT = re.compile(r"^\s+(\w+):\s*(required|optional)\s*(?:[—-]+\s*)?(.*)$")


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

    def render(self, values: dict[str, Any]) -> str:
        def fill(match: re.Match[str]) -> str:
            key = match.group(1)
            value = values.get(key)
            return str(value) if value not in (None, "") else self.defaults[key]

        names = "|".join(re.escape(a.name) for a in self.arguments)
        return re.sub(rf"\{{({names})\}}", fill, self.body) if names else self.body


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


def _renderer(prompt: PromptFile) -> Any:
    async def render(**values: Any) -> str:
        return prompt.render(values)

    return render


def register_prompts(server: MCPServer[Any], directory: Path | None = None) -> list[str]:
    names = []
    for path in sorted((directory or prompts_dir()).glob("*.md")):
        prompt = parse_prompt(path)
        server.add_prompt(
            FilePrompt(
                name=prompt.name,
                title=prompt.title,
                description=prompt.description,
                arguments=list(prompt.arguments),
                fn=_renderer(prompt),
            )
        )
        names.append(prompt.name)
    return names
