"""The sandbox's ASGI app: HeyGen's v3 avatar, asset and account routes, plus /_sandbox
control routes, all made from the one route table in _routes.py.

Every operation is O(1) or O(log n) in the number of looks, except deletes (O(looks in the
group)) and list pages (O(page), plus any deleted rows skipped).
"""

from __future__ import annotations

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
from ._routes import CONTROL_TABLE, UNKEYED_ROUTES, V3_TABLE
from ._state import SandboxState
from .config import SandboxConfig

__all__ = ["FAIL_MARK", "SandboxApp", "SandboxState"]


class _Handlers(AvatarRoutes, AssetRoutes, AccountRoutes):
    """Every handler method the route table names."""


class SandboxApp:
    """ASGI entry point. Keeps the server's own `receive` in the scope, which is how a
    dropped-connection fault finds the transport to close, then hands over to Starlette."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.state = SandboxState(config or SandboxConfig())
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
            routes.append(Route(path, self._control(self._handler(name)), methods=[method]))
        every_method = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        routes.append(Route("/{path:path}", self._unknown_route, methods=every_method))
        return routes

    def _handler(self, name: str) -> Handler:
        return cast(Handler, getattr(self._handlers, name))

    def _v3_route(self, template: str, handler: Handler) -> Route:
        method, path = template.split(" ", 1)
        run = self._policy.run
        keyed = method != "GET" and template not in UNKEYED_ROUTES  # Idempotency-Key applies

        async def endpoint(request: Request) -> Response:
            return await run(request, template, handler, keyed)

        return Route(path, endpoint, methods=[method])

    def _control(self, handler: Handler) -> Handler:
        state = self.state

        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiFailure as failure:
                return failure_response(failure, state.config.not_found_code)

        return endpoint

    async def _unknown_route(self, request: Request) -> Response:
        state = self.state
        state.stats.requests[f"{request.method} (unknown route)"] += 1
        failure = ApiFailure(404, "not_found", f"no route {request.method} {request.url.path}")
        return failure_response(failure, state.config.not_found_code)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return failure_response(ApiFailure(500, "internal_error", f"sandbox bug: {type(exc).__name__}: {exc}"))
