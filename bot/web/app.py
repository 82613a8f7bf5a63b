"""The one FastAPI app: health, web chat, webhooks, console and REST API."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot import metrics
from bot.app import Runtime
from bot.config import load_settings
from bot.jsonbody import WEBHOOK_JSON_LIMIT, JsonBodyLimits
from bot.logs import setup_logging
from bot.web import api_applications, api_audit, api_customers, api_outbox, api_webhooks, webchat
from bot.web.api_feedback import router as feedback_api_router
from bot.web.console import applications as console_applications
from bot.web.console import (
    audit_pages,
    dashboard,
    erasure_pages,
    handoff_pages,
    knowledge_learning,
    knowledge_pages,
    search_pages,
    staff_pages,
    webhooks_pages,
)
from bot.web.console import pages as console_pages
from bot.web.console.complaints import router as complaint_console_router
from bot.web.console.security import LoginRequired
from bot.web.limits import BodySizeLimit, build_rate_limiter

WEB_DIR = Path(__file__).parent
#: The route modules of pages and the web chat: kept out of /openapi.json, which describes the REST API.
PAGE_ROUTERS = (
    webchat.router,
    console_pages.router,
    handoff_pages.router,
    search_pages.router,
    knowledge_pages.router,
    knowledge_learning.router,
    dashboard.router,
    staff_pages.router,
    webhooks_pages.router,
    erasure_pages.router,
    complaint_console_router,
    console_applications.router,
    audit_pages.router,
)
#: The REST API's route modules (``/api/v1``), described at /openapi.json.
API_ROUTERS = (
    api_outbox.router,
    api_webhooks.router,
    api_customers.router,
    feedback_api_router,
    api_applications.router,
    api_audit.router,
)


def _add_error_handlers(app: FastAPI) -> None:
    """Every error answers ``{"error": ...}`` (console pages: an error page), never a traceback."""

    @app.exception_handler(StarletteHTTPException)  # also FastAPI's, and the router's own 404/405
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/console") and "text/html" in request.headers.get("accept", ""):
            return console_pages.render(request, "console/error.html",
                                        {"status": exc.status_code, "message": str(exc.detail)},
                                        status_code=exc.status_code)
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(LoginRequired)
    async def _login_required(_request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/console/login?next={quote(exc.next_url, safe='')}", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            "the request body is not valid JSON" if err["type"] == "json_invalid" else
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body')}: {err['msg']}" for err in exc.errors()
        )
        return JSONResponse({"error": problems or "invalid request"}, status_code=422)


def app_from_environment() -> FastAPI:
    """The app of one ``serve`` worker process, from the settings in the environment (each
    worker builds its own runtime; the parent migrated the database before starting them)."""
    settings = load_settings()
    setup_logging(settings.log_level, settings.log_format)
    return create_app(Runtime.build(settings, migrate=False))


def create_app(runtime: Runtime, start_workers: bool = True) -> FastAPI:
    """Build the app around a runtime; ``start_workers=False`` leaves background workers to the caller."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_workers:
            await runtime.start()
        try:
            yield
        finally:
            if start_workers:
                await runtime.stop()

    app = FastAPI(title="Service desk bot", version="0.1.0", lifespan=lifespan,
                  docs_url="/api/docs", redoc_url=None)
    settings = runtime.services.settings
    app.state.runtime = runtime
    app.state.services = runtime.services
    app.state.templates = Jinja2Templates(directory=WEB_DIR / "templates")
    app.state.rate_limiter = build_rate_limiter(settings, runtime.services.db)
    app.add_middleware(metrics.RequestMetrics)
    app.add_middleware(JsonBodyLimits, limits={"/telegram/webhook": WEBHOOK_JSON_LIMIT})
    app.add_middleware(BodySizeLimit, limits={"/api/chat/upload": settings.max_upload_bytes + 64 * 1024},
                       default=settings.max_upload_bytes + 64 * 1024)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")

    _add_error_handlers(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        with runtime.services.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "Not ready: the checks say which part is not ok"}})
    def readyz() -> JSONResponse:
        """Ready to take traffic: migrations applied, knowledge loaded, background workers running."""
        checks = runtime.readiness()
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                            status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        body, content_type = metrics.exposition(runtime.services.db)
        return Response(body, media_type=content_type)

    for router in API_ROUTERS:
        app.include_router(router)
    for router in PAGE_ROUTERS:
        app.include_router(router, include_in_schema=False)
    for channel in runtime.channels.values():
        router = getattr(channel, "router", None)
        if router is not None:
            app.include_router(router, include_in_schema=False)
    return app
