"""The sandbox's ASGI app: HeyGen's v3 avatar, asset and account routes, plus /_sandbox
control routes, all made from the one route table in _routes.py.

Every operation is O(1) or O(log n) in the number of looks, except deletes (O(looks in the
group)) and list pages (O(page), plus any deleted rows skipped). With a world file, every
request that changed the world also saves it whole (O(world)) before it answers.
"""

from __future__ import annotations

import os
import time
from typing import cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ._account_routes import AccountRoutes
from ._asset_routes import AssetRoutes
from ._avatar_routes import FAIL_MARK, AvatarRoutes
from ._envelope import ApiFailure
from ._policy import RECEIVE_KEY, Handler, V3Policy, failure_response
from ._routes import CONTROL_TABLE, UNKEYED_ROUTES, V3_TABLE, WORLD_CONTROLS
from ._state import SandboxState
from ._world import WorldFile
from .config import SandboxConfig

__all__ = ["FAIL_MARK", "SandboxApp", "SandboxState"]

WORKED_KEY = "batchavatars.sandbox.worked"  # in the scope once a /v3 handler ran: the world may have changed


class _Handlers(AvatarRoutes, AssetRoutes, AccountRoutes):
    """Every handler method the route table names."""


class SandboxApp:
    """ASGI entry point. Keeps the server's own `receive` in the scope, which is how a
    dropped-connection fault finds the transport to close, then hands over to Starlette.

    `world`: the file the account's world is loaded from and saved to (see _world.py); None
    keeps it in memory only, on the monotonic clock.
    """

    def __init__(self, config: SandboxConfig | None = None, world: str | os.PathLike[str] | None = None) -> None:
        # A saved world is on the wall clock, so it ages while no sandbox runs, as HeyGen's does.
        self.state = SandboxState(config or SandboxConfig(), time.monotonic if world is None else time.time)
        self.world = None if world is None else WorldFile(world)
        if self.world is not None:
            self.world.open(self.state)
            self.state.world = self.world
        self._policy = V3Policy(self.state)
        self._handlers = _Handlers(self.state)
        self.starlette = Starlette(routes=self._routes(), exception_handlers={Exception: _internal_error})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[RECEIVE_KEY] = receive
        await self.starlette(scope, receive, send)

    def _routes(self) -> list[Route]:
        routes = [self._v3_route(template, self._handler(name)) for template, name in V3_TABLE]
        for template, name in CONTROL_TABLE:
            method, path = template.split(" ", 1)
            endpoint = self._control(self._handler(name), saves=template in WORLD_CONTROLS)
            routes.append(Route(path, endpoint, methods=[method]))
        every_method = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        routes.append(Route("/{path:path}", self._unknown_route, methods=every_method))
        return routes

    def _handler(self, name: str) -> Handler:
        return cast(Handler, getattr(self._handlers, name))

    def _v3_route(self, template: str, handler: Handler) -> Route:
        method, path = template.split(" ", 1)
        run = self._policy.run
        keyed = method != "GET" and template not in UNKEYED_ROUTES  # Idempotency-Key applies
        state, world = self.state, self.world

        async def endpoint(request: Request) -> Response:
            return await run(request, template, handler, keyed)

        marked = _marking(handler)

        async def saving_endpoint(request: Request) -> Response:
            response = await run(request, template, marked, keyed)
            # Saved only once the handler ran (faults, 401, 429, replays and 409s change nothing),
            # and after the policy recorded its answer under the key, so the key replays too.
            if world is not None and WORKED_KEY in request.scope:
                world.save(state)
            return response

        return Route(path, endpoint if world is None or method == "GET" else saving_endpoint, methods=[method])

    def _control(self, handler: Handler, *, saves: bool) -> Handler:
        state, world = self.state, self.world

        async def endpoint(request: Request) -> Response:
            try:
                response = await handler(request)
            except ApiFailure as failure:  # refused: nothing changed
                return failure_response(failure, state.config.not_found_code)
            if saves and world is not None:
                world.save(state)
            return response

        return endpoint

    async def _unknown_route(self, request: Request) -> Response:
        state = self.state
        state.stats.requests[f"{request.method} (unknown route)"] += 1
        failure = ApiFailure(404, "not_found", f"no route {request.method} {request.url.path}")
        return failure_response(failure, state.config.not_found_code)


def _marking(handler: Handler) -> Handler:
    async def marked(request: Request) -> Response:
        request.scope[WORKED_KEY] = True
        return await handler(request)

    return marked


async def _internal_error(request: Request, exc: Exception) -> Response:
    return failure_response(ApiFailure(500, "internal_error", f"sandbox bug: {type(exc).__name__}: {exc}"))
