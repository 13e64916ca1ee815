"""The base of the domain's result models (the exposure summary, the scenario result)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

__all__ = ["CompactResult"]


class CompactResult(BaseModel):
    """A frozen result that leaves out the fields it has no value for, so a model reads only what
    was found (an absent field says "not known" once, instead of a null in every row)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)  # built on first use

    # No return annotation on purpose: pydantic then keeps the model's own serialization schema.
    @model_serializer(mode="wrap")
    def _omit_none(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data = handler(self)
        return {key: value for key, value in data.items() if value is not None}
