"""Router assembly that keeps request routing cheap.

FastAPI (0.165) keeps every `include_router` as a nested router and matches a request against
each level twice (once to pick the router, once inside it), so a route nested two levels deep
costs several times what a route of one flat list does. The routers of one concern are
therefore merged into a single list, in the order given (the first full match wins).
"""

from __future__ import annotations

from fastapi import APIRouter


def flat_router(*routers: APIRouter) -> APIRouter:
    """One router holding the routes of `routers` in order; none of them may have a prefix."""
    merged = APIRouter()
    for router in routers:
        if router.prefix:
            raise ValueError(f"flat_router: cannot merge a router with prefix {router.prefix!r}")
        merged.routes.extend(router.routes)
    return merged
