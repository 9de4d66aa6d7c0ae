"""A Restate serde for pydantic models. Private module."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel
from restate.serde import Serde

M = TypeVar("M", bound=BaseModel)


class PydanticSerde(Serde[M], Generic[M]):
    """JSON (de)serialization of one pydantic model type, so replayed values equal first-run values.

    Args:
        model: The model class.
    """

    def __init__(self, model: type[M]) -> None:
        self._model = model

    def serialize(self, obj: M | None) -> bytes:
        """Encode ``obj`` as JSON (``None`` as an empty body)."""
        return b"" if obj is None else obj.model_dump_json().encode()

    def deserialize(self, buf: bytes) -> M | None:
        """Decode JSON into the model (an empty body as ``None``)."""
        return self._model.model_validate_json(buf) if buf else None
