"""A tiny Restate app for the engine tests."""

from __future__ import annotations

import restate

greeter = restate.Service("Greeter")


@greeter.handler()
async def greet(ctx: restate.Context, name: str) -> str:
    """Greet ``name`` through one journaled step.

    Args:
        ctx: The Restate context.
        name: Who to greet.

    Returns:
        The greeting.
    """

    async def make() -> str:
        return f"Hello, {name}!"

    return await ctx.run_typed("make greeting", make)


app = restate.app(services=[greeter])
