"""How a tool is put on the MCP surface: its published schemas, its errors, its result form.

``make_tool`` builds the SDK's ``Tool`` directly from an arguments model (no signature
inspection), so each tool's input schema is the model that reads its arguments:

* the input schema is the arguments model's schema, compacted (no generated titles, no
  ``default: null``, an optional argument without its ``null``, a nested model written where it is
  used) with ``additionalProperties: false``: unknown arguments are refused, never silently ignored;
* the output schema is ``RESULT_SCHEMA``: a result is a JSON object. Every result meets it. Its
  fields are in the result itself (structured content, and a text rendering of it), and what a model
  needs to know of them is in the tool's description; listing every field with its type would cost
  ``tools/list`` about 3.5 KB of the model's context for that.

Every error speaks like a tool error: it names the environment, says what was wrong and what to do,
and carries no internal name (no ``…Arguments`` model, no library URL).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, ValidationError

from ..secret import redact
from .rendering import render

__all__ = [
    "RESULT_SCHEMA",
    "Arguments",
    "Handler",
    "SurfaceTool",
    "compact_schema",
    "make_tool",
    "present",
    "tool_error",
]

Handler = Callable[..., Awaitable[CallToolResult | InputRequiredResult]]
RESULT_SCHEMA: dict[str, Any] = {"type": "object"}
"""Every tool's output schema (see the module's docstring)."""


class Arguments(ArgModelBase):
    """Base of every tool's arguments: unknown arguments are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


def tool_error(environment: str, message: str) -> ToolError:
    """A tool error that, like every result, says which environment it comes from."""
    return ToolError(f"[{environment}] {message}")


def present(result: BaseModel) -> CallToolResult:
    """The data once, in two forms: structured content for programs, and for the model a compact
    text rendering of it (``surface.rendering``: key: value lines and tables), not the JSON again.
    In the structured content a top-level field without a value is left out; rows below keep every
    field as the API sent it, nulls included."""
    data = result.model_dump(mode="json")
    structured = {key: value for key, value in data.items() if value is not None}
    return CallToolResult(
        content=[TextContent(type="text", text=render(structured))],
        structured_content=structured,
    )


def _describe_validation(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_context=False, include_input=False)[:5]:
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "is not an argument of this tool"
        elif error["type"] == "missing":
            message = "is required"
        problems.append(f"{where}: {message}")
    more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return "; ".join(problems) + more


class SurfaceTool(Tool):
    """A tool whose argument errors read like every other error of this server, and whose every
    error is cut clean of the secrets the server holds (``App.secrets``): an upstream, a proxy or
    a library may echo one into a message, and a tool error goes to the model."""

    environment: str

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        try:
            return await super().run(arguments, context, convert_result)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(
                    f"Error executing tool {self.name}: [{self.environment}] Invalid arguments, nothing was "
                    f"sent: {_describe_validation(exc.__cause__)}. The tool's input schema says what each "
                    "argument takes."
                ) from exc.__cause__
            from .app import app_of  # the app imports this module

            message = str(exc)
            clean = redact(message, app_of(context).secrets)
            if clean == message:
                raise
            raise ToolError(clean) from None


# -- schemas -----------------------------------------------------------------------------------


_NULL = {"type": "null"}


def compact_schema(schema: Any) -> Any:
    """The same JSON schema, shorter: no generated ``title``, no ``default: null``, an integer's
    ``exclusiveMinimum: n`` as ``minimum: n+1``, and an optional property published without its
    ``null`` (leaving it out says the same; a null sent is still read as left out); a required one
    keeps ``anyOf [X, null]``, as a type list where it can. Descriptions, enums, bounds and required
    fields all stay."""
    if isinstance(schema, list):
        return [compact_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    compact = {
        key: compact_schema(value)
        for key, value in schema.items()
        if not (key == "title" and isinstance(value, str)) and not (key == "default" and value is None)
    }
    low = compact.get("exclusiveMinimum")
    if compact.get("type") == "integer" and isinstance(low, int):  # the same bound, said shorter
        del compact["exclusiveMinimum"]
        compact["minimum"] = low + 1
    properties = compact.get("properties")
    if isinstance(properties, dict):
        required = set(compact.get("required", ()))
        compact["properties"] = {
            name: prop if name in required else _without_null(prop) for name, prop in properties.items()
        }
    options = compact.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and _NULL in options:
        (other,) = [o for o in options if o != _NULL]
        if isinstance(other.get("type"), str) and "$ref" not in other:
            del compact["anyOf"]
            compact.update(other, type=[other["type"], "null"])
    return compact


def _inline_models(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with each nested model (an object in ``$defs``) that is used once written where it
    is used; enumerations stay named in ``$defs``."""
    defs = dict(schema.get("$defs", {}))
    uses: dict[str, int] = {}
    _count_refs(schema, uses)
    inline = {
        f"#/$defs/{name}": body
        for name, body in defs.items()
        if body.get("type") == "object" and uses.get(f"#/$defs/{name}") == 1
    }
    placed: dict[str, Any] = _place(inline, {k: v for k, v in schema.items() if k != "$defs"})
    kept = {name: _place(inline, body) for name, body in defs.items() if f"#/$defs/{name}" not in inline}
    if kept:
        placed["$defs"] = kept
    return placed


def _count_refs(node: Any, uses: dict[str, int]) -> None:
    """Add to ``uses`` each ``$ref`` under ``node``, once per use."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            uses[ref] = uses.get(ref, 0) + 1
        for value in node.values():
            _count_refs(value, uses)
    elif isinstance(node, list):
        for value in node:
            _count_refs(value, uses)


def _place(inline: dict[str, Any], node: Any) -> Any:
    """``node`` with each ``$ref`` to a body of ``inline`` replaced by that body (the node's other
    keys kept over it)."""
    if isinstance(node, list):
        return [_place(inline, value) for value in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    body = inline.get(ref) if isinstance(ref, str) else None
    if body is not None:
        node = {**body, **{k: v for k, v in node.items() if k != "$ref"}}
    return {key: _place(inline, value) for key, value in node.items()}


def _without_null(prop: Any) -> Any:
    """An optional property's schema without its null arm (``anyOf`` or type list)."""
    if not isinstance(prop, dict):
        return prop
    options = prop.get("anyOf")
    if isinstance(options, list) and _NULL in options:
        rest = [o for o in options if o != _NULL]
        prop = {k: v for k, v in prop.items() if k != "anyOf"}
        if len(rest) == 1:
            prop.update(rest[0])
        else:
            prop["anyOf"] = rest
    kinds = prop.get("type")
    if isinstance(kinds, list) and "null" in kinds:
        rest_kinds = [k for k in kinds if k != "null"]
        prop = {**prop, "type": rest_kinds[0] if len(rest_kinds) == 1 else rest_kinds}
    return prop


def make_tool(
    *,
    name: str,
    title: str,
    description: str,
    annotations: ToolAnnotations,
    arguments: type[Arguments],
    handler: Handler,
    environment: str,
) -> SurfaceTool:
    """Tool ``name`` running ``handler(ctx, args)``: ``args`` is the validated ``arguments``
    instance; it returns a ``CallToolResult`` (see ``present``) or, to ask the person, an
    ``InputRequiredResult``."""

    async def call(ctx: Any, **values: Any) -> CallToolResult | InputRequiredResult:
        return await handler(ctx, arguments.model_construct(**values))

    schema = _inline_models(compact_schema(arguments.model_json_schema()))
    schema["additionalProperties"] = False
    schema.pop("description", None)  # the tool's description says it once
    return SurfaceTool(
        fn=call,
        name=name,
        title=title,
        description=inspect.cleandoc(description),
        parameters=schema,
        fn_metadata=FuncMetadata(arg_model=arguments, output_schema=RESULT_SCHEMA),
        is_async=True,
        context_kwarg="ctx",
        annotations=annotations,
        environment=environment,
    )
