"""Durable model calls skip the openai client's request transform when it provably changes nothing. Private.

Before ``AsyncResponses.create`` (and ``chat.completions.create``) sends a request, the openai client walks the
whole body against the API's typed-dict annotations (``openai._utils._transform``) to rename aliased keys,
format dates and files, drop omitted values and dump pydantic models. The input items are unions of dozens of
typed dicts, and the walk tries each one: for a conversation of 200 items (our default model window) it spent
~0.2 s of CPU per model call here, about 90% of a turn, and ~15% of a short turn (``scripts/bench scale``).

For these two endpoints no field anywhere in the request's types is renamed or formatted (checked once per
process by walking the types; a future openai release that adds one turns this off by itself). Then, for a
body made of plain JSON values only (dicts, lists, strings, numbers, booleans, ``None``), after dropping the
top-level omitted arguments and dumping top-level pydantic models as the transform does, the transform
returns an equal body; anything else (a pydantic model deeper down, a tuple, an omitted value deeper down)
goes through the client's own transform. So the bytes sent are the same; the client
still builds, authenticates, sends and parses the request.

Only calls made inside :func:`plain_requests` (our durable model calls) take the short way; every other use of
the openai client in the process is untouched.
"""

from __future__ import annotations

import contextvars
import importlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import pydantic
from openai import NotGiven, Omit
from typing_extensions import is_typeddict

logger = logging.getLogger(__name__)

_PLAIN_REQUESTS: contextvars.ContextVar[bool] = contextvars.ContextVar("resilient_agents_plain_requests", default=False)

_TARGETS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "openai.resources.responses.responses",
        "openai.types.responses.response_create_params",
        ("ResponseCreateParamsNonStreaming", "ResponseCreateParamsStreaming"),
    ),
    (
        "openai.resources.chat.completions.completions",
        "openai.types.chat.completion_create_params",
        ("CompletionCreateParamsNonStreaming", "CompletionCreateParamsStreaming"),
    ),
)
"""(module whose ``async_maybe_transform`` is wrapped, module of the request types, the request types)."""

_installed = False

Transform = Callable[[object, object], Awaitable[Any]]


@contextmanager
def plain_requests() -> Iterator[None]:
    """Within the block, requests of the wrapped endpoints with plain JSON bodies skip the transform."""
    token = _PLAIN_REQUESTS.set(True)
    try:
        yield
    finally:
        _PLAIN_REQUESTS.reset(token)


def install() -> None:
    """Wrap the transform of each target endpoint whose request types rename and format nothing (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    for module_name, types_module, type_names in _TARGETS:
        try:
            module: Any = importlib.import_module(module_name)
            types: Any = importlib.import_module(types_module)
            request_types = frozenset(getattr(types, name) for name in type_names)
        except (ImportError, AttributeError):
            continue  # Another openai release: its transform runs as it is.
        original = getattr(module, "async_maybe_transform", None)
        if original is None or not _checked_free_of_renames(request_types):
            logger.debug("the request transform of %s stays on", module_name)
            continue
        module.async_maybe_transform = _skipping(original, request_types)


def _checked_free_of_renames(request_types: frozenset[object]) -> bool:
    try:
        return not any(renames_or_formats(t) for t in request_types)
    except Exception:  # Types this check cannot read (another openai release): keep the client's transform.
        logger.debug("cannot check the request types %s", request_types, exc_info=True)
        return False


def _skipping(original: Transform, request_types: frozenset[object]) -> Transform:
    async def maybe_transform(data: object, expected_type: object) -> Any:
        if _PLAIN_REQUESTS.get() and expected_type in request_types:
            body = plain_body(data)
            if body is not None:
                return body
        return await original(data, expected_type)

    return maybe_transform


def plain_body(data: object) -> dict[str, Any] | None:
    """``data`` as the client's transform would send it when that is plain JSON; else ``None``.

    Top-level arguments that are omitted are dropped, and pydantic models there (the SDK passes
    ``ModelSettings.reasoning`` as a ``Reasoning``) are dumped as the transform dumps them; everything else
    must already be plain JSON.
    """
    if not isinstance(data, dict):
        return None
    body = {key: _dumped(value) for key, value in data.items() if not isinstance(value, NotGiven | Omit)}
    return body if _is_plain_json(list(body.values())) else None


def _dumped(value: object) -> object:
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", exclude=getattr(value, "__api_exclude__", None), exclude_unset=True)
    return value


def _is_plain_json(values: list[Any]) -> bool:
    pending = values
    while pending:
        value = pending.pop()
        if value is None or isinstance(value, str | int | float):  # bool is an int.
            continue
        if type(value) is dict:
            if not all(isinstance(key, str) for key in value):
                return False
            pending.extend(value.values())
        elif type(value) is list:
            pending.extend(value)
        else:
            return False
    return True


def renames_or_formats(request_type: object) -> bool:
    """Whether any field reachable from ``request_type`` is annotated with a key alias or a value format."""
    seen: set[int] = set()
    pending: list[Any] = [request_type]
    while pending:
        annotation = pending.pop()
        if id(annotation) in seen:
            continue
        seen.add(id(annotation))
        if get_origin(annotation) is Annotated:
            base, *metadata = get_args(annotation)
            if any(getattr(m, "alias", None) is not None or getattr(m, "format", None) is not None for m in metadata):
                return True
            pending.append(base)
        elif is_typeddict(annotation):
            pending.extend(get_type_hints(annotation, include_extras=True).values())
        else:
            pending.extend(a for a in get_args(annotation) if not isinstance(a, str | int | float | bool | bytes))
    return False
