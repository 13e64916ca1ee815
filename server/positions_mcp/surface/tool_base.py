"""How a tool is put on the MCP surface: its published schemas, its errors, its result form.

``add_tool`` builds the SDK's ``Tool`` directly from an arguments model and a result model (no
signature inspection), so each tool's schemas are exactly what the server accepts and returns:

* the input schema is the arguments model's schema, compacted (no generated titles, ``anyOf`` with
  null written as a type list, no ``default: null``) with ``additionalProperties: false``: unknown
  arguments are refused, never silently ignored;
* the output schema is *shallow*: the result's top-level fields with their JSON type (and enum),
  nested objects as ``{"type": "object"}`` — what programs need, without costing the model's
  context. Every result meets it (tests validate each one).

Every error speaks like a tool error: it names the environment, says what was wrong and what to do,
and carries no internal name (no ``…Arguments`` model, no library URL).
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

__all__ = [
    "Arguments",
    "Handler",
    "SurfaceTool",
    "compact_schema",
    "make_tool",
    "present",
    "shallow_schema",
    "tool_error",
]

Handler = Callable[..., Awaitable[CallToolResult | InputRequiredResult]]


class Arguments(ArgModelBase):
    """Base of every tool's arguments: unknown arguments are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


def tool_error(environment: str, message: str) -> ToolError:
    """A tool error that, like every result, says which environment it comes from."""
    return ToolError(f"[{environment}] {message}")


def present(result: BaseModel) -> CallToolResult:
    """The same data twice, as the protocol asks: structured content for programs and compact JSON
    text for the model (nulls left out). In the structured content a top-level field without a value
    is left out (the shallow output schema lists none as null or required); rows below keep every
    field as the API sent it, nulls included."""
    data = result.model_dump(mode="json")
    return CallToolResult(
        content=[TextContent(type="text", text=result.model_dump_json(exclude_none=True))],
        structured_content={key: value for key, value in data.items() if value is not None},
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
    """A tool whose argument errors read like every other error of this server, and whose output
    schema is built from its result model on first ``tools/list`` (not before the first reply)."""

    environment: str
    result: Callable[[], type[BaseModel]] = Field(exclude=True)

    @cached_property
    def output_schema(self) -> dict[str, Any] | None:
        schema = shallow_schema(self.result())
        self.fn_metadata.output_schema = schema
        return schema

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
            raise


# -- schemas -----------------------------------------------------------------------------------


def compact_schema(schema: Any) -> Any:
    """The same JSON schema, shorter: no generated ``title``, ``anyOf [X, null]`` as a type list,
    no ``default: null``. Descriptions, enums, bounds and required fields all stay."""
    if isinstance(schema, list):
        return [compact_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    compact = {
        key: compact_schema(value)
        for key, value in schema.items()
        if not (key == "title" and isinstance(value, str)) and not (key == "default" and value is None)
    }
    options = compact.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        (other,) = [o for o in options if o != {"type": "null"}]
        if isinstance(other.get("type"), str) and "$ref" not in other:
            del compact["anyOf"]
            compact.update(other, type=[other["type"], "null"])
    return compact


_JSON_TYPES: dict[Any, str] = {str: "string", int: "integer", bool: "boolean", float: "number"}


def _json_type(annotation: Any) -> dict[str, Any]:
    """The shallow JSON schema of one top-level field's annotation."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _json_type(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        arms = [_json_type(arm) for arm in get_args(annotation) if arm is not type(None)]
        kinds: list[str] = []
        for arm in arms:
            kind = arm.get("type")
            for k in kind if isinstance(kind, list) else [kind]:
                if k and k not in kinds:
                    kinds.append(k)
        return {"type": kinds[0] if len(kinds) == 1 else kinds} if kinds else {}
    if origin is Literal:
        values = list(get_args(annotation))
        return {"type": "string", "enum": values} if all(isinstance(v, str) for v in values) else {}
    if origin in (list, tuple) or annotation in (list, tuple):
        return {"type": "array"}
    if origin is dict or annotation is dict:
        return {"type": "object"}
    if inspect.isclass(annotation):
        if issubclass(annotation, bool):
            return {"type": "boolean"}
        for kind, name in _JSON_TYPES.items():
            if issubclass(annotation, kind):
                return {"type": name}
        if issubclass(annotation, BaseModel):
            return {"type": "object"}
        if issubclass(annotation, datetime | date | Decimal):
            return {"type": "string"}
    kind = TypeAdapter(annotation).json_schema().get("type")  # e.g. pydantic's AwareDatetime
    return {"type": kind} if isinstance(kind, str) else {}


def shallow_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The result model's top-level fields with their JSON types; nested objects stay opaque.
    A field without a value is left out of a result (``present``), so none is listed as required
    and none is typed null."""
    return {"type": "object", "properties": {name: _json_type(f.annotation) for name, f in model.model_fields.items()}}


def make_tool(
    *,
    name: str,
    title: str,
    description: str,
    annotations: ToolAnnotations,
    arguments: type[Arguments],
    result: Callable[[], type[BaseModel]],
    handler: Handler,
    environment: str,
) -> SurfaceTool:
    """Tool ``name`` running ``handler(ctx, args)``: ``args`` is the validated ``arguments``
    instance; it returns a ``CallToolResult`` (see ``present``) or, to ask the person, an
    ``InputRequiredResult``. ``result`` loads the result model (on first use)."""

    async def call(ctx: Any, **values: Any) -> CallToolResult | InputRequiredResult:
        return await handler(ctx, arguments.model_construct(**values))

    schema = compact_schema(arguments.model_json_schema())
    schema["additionalProperties"] = False
    schema.pop("description", None)  # the tool's description says it once
    return SurfaceTool(
        fn=call,
        name=name,
        title=title,
        description=inspect.cleandoc(description),
        parameters=schema,
        fn_metadata=FuncMetadata(arg_model=arguments),
        is_async=True,
        context_kwarg="ctx",
        annotations=annotations,
        environment=environment,
        result=result,
    )
