"""The web application: ``create_app(settings)`` builds a FastAPI app over one :class:`Service`.

Every response carries security headers (a Content-Security-Policy that allows only this server's own scripts
and styles); errors under ``/api`` are ``application/problem+json`` and pages get a Chinese error page; no
response ever carries a stack trace (internal errors are logged with an incident id the response names).
"""

from __future__ import annotations

import logging
import secrets
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.errors import FatalError
from engine.messages import localise, render
from engine.service.auth import AccountError
from engine.service.core import Service
from engine.service.settings import Settings

__all__ = ["create_app", "problem", "SECURITY_HEADERS"]

log = logging.getLogger("chanjiao.service")
HERE = Path(__file__).parent

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_SECURITY_NAMES = frozenset(name for name, _value in SECURITY_HEADERS)
TITLES = {400: "请求有误", 401: "需要登录", 403: "无权访问", 404: "未找到", 405: "方法不允许", 409: "冲突",
          413: "上传内容过大", 415: "不支持的媒体类型", 422: "无法评估", 429: "请求过多", 500: "内部错误"}


def problem(status: int, detail: str, *, title: str | None = None, errors: list[Any] | None = None,
            warnings: list[Any] | None = None, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """An RFC 9457 ``application/problem+json`` response carrying the same errors and warnings as the CLI."""
    body = {"type": "about:blank", "title": title or TITLES.get(status, "错误"), "status": status, "detail": detail,
            "errors": errors or [], "warnings": warnings or [], **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


class _TooLarge(Exception):
    pass


class Guard:
    """Outermost ASGI layer: security headers on every response, the upload size bound, and no stack traces."""

    def __init__(self, app: Any, max_body: int):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        received = 0
        is_api = scope.get("path", "").startswith("/api/")
        limit = self.max_body + 1024 * 1024  # multipart framing on top of the file

        async def guarded_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge()
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [h for h in message.get("headers", []) if h[0].lower() not in _SECURITY_NAMES]
                if is_api and not any(h[0].lower() == b"cache-control" for h in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers + SECURITY_HEADERS}
            await send(message)

        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await problem(413, f"上传内容超过 {self.max_body // (1 << 20)} MiB 上限")(scope, receive, guarded_send)
                return
        try:
            await self.app(scope, guarded_receive, guarded_send)
        except _TooLarge:
            if not started:
                await problem(413, f"上传内容超过 {self.max_body // (1 << 20)} MiB 上限")(scope, receive, guarded_send)
        except Exception:  # noqa: BLE001 - the promise: never a stack trace to the client
            incident = secrets.token_hex(6)
            log.exception("internal error, incident %s", incident)
            if not started:
                await problem(500, f"服务器内部错误（事件编号 {incident}），已记录", incident=incident)(
                    scope, receive, guarded_send)


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    """The FastAPI application: API under ``/api/v1``, pages, static files; packs loaded once, schema migrated."""
    settings = settings or Settings()
    service = service or Service(settings)
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(lifespan=lifespan, title="chanjiao 产教融合政策合规检查 API", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json",
                  description="Checks enterprise and school records against 产教融合 policies; every decision "
                              "carries its legal citation. Officer endpoints need `Authorization: Bearer <token>` "
                              "(`chanjiao users token NAME`). Errors are `application/problem+json`.")
    app.state.service = service
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    from engine.service import api, pages  # the routers read app.state

    app.include_router(api.router)
    app.include_router(pages.router)

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(FatalError)
    async def _fatal(request: Request, exc: FatalError) -> Response:
        lang = "en" if request.query_params.get("lang") == "en" else "zh"
        text = render(exc.args[0], lang) if exc.args else str(exc)
        if is_api(request):
            return problem(422, text, errors=localise(getattr(exc, "errors", None), lang),
                           warnings=localise(getattr(exc, "warnings", None), lang))
        return pages.error_page(request, 422, text)

    @app.exception_handler(AccountError)
    async def _account(request: Request, exc: AccountError) -> Response:
        text = render(exc.args[0], "en" if request.query_params.get("lang") == "en" else "zh") if exc.args else str(exc)
        return problem(400, text) if is_api(request) else pages.error_page(request, 400, text)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (302, 303) and exc.headers and "Location" in exc.headers:
            return RedirectResponse(exc.headers["Location"], status_code=exc.status_code)
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "错误")
        if is_api(request):
            return problem(exc.status_code, detail, headers=getattr(exc, "headers", None))
        return pages.error_page(request, exc.status_code, detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": [str(x) for x in e.get("loc", ())], "message": str(e.get("msg", ""))} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['message']}" for e in errors) or "请求参数有误"
        if is_api(request):
            return problem(422, detail, title="请求参数有误", errors=errors)
        return pages.error_page(request, 422, detail)

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    async def docs(request: Request) -> Response:
        return app.state.templates.TemplateResponse(request, "docs.html", {"spec": app.openapi(), "user": None})

    app.add_middleware(Guard, max_body=settings.max_upload_bytes)
    return app
