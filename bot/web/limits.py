"""Guards for the public endpoints: request body size and request rate (shared by every worker)."""
from __future__ import annotations

import logging
from datetime import timedelta

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import Settings
from bot.jsonbody import send_error
from storage import counters
from storage.db import Database
from storage.models import utcnow
from storage.models.base import INT_MAX  # noqa: F401 - every integer input is bounded by it

log = logging.getLogger(__name__)

__all__ = ["INT_MAX", "BodySizeLimit", "RateLimiter"]


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware: a body over the limit for its path prefix is answered 413, not read."""

    def __init__(self, app: ASGIApp, limits: dict[str, int], default: int) -> None:
        self.app = app
        self.limits = sorted(limits.items(), key=lambda kv: -len(kv[0]))
        self.default = default

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await send_error(send, 413, f"request body too large (limit {limit} bytes)")
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await send_error(send, 413, f"request body too large (limit {limit} bytes)")


class DatabaseRateLimiter:
    """Requests per minute per key, counted in the database (``storage.counters``): every worker
    and every machine on one database shares the budget. The minute starts at a key's first hit."""

    def __init__(self, per_minute: int, db: Database) -> None:
        self.per_minute = per_minute
        self.db = db

    def allow(self, key: str, limit: int | None = None) -> bool:
        with self.db.session() as session:
            hits = counters.count_hit(session, f"rate:{key}", timedelta(minutes=1), utcnow())
        return hits <= (limit or self.per_minute)


class RedisRateLimiter:
    """The same budget in Redis (``BOT_REDIS_URL``): one INCR per hit; the key's minute starts at
    its first hit (``EXPIRE ... NX``, Redis 7), as in the database."""

    def __init__(self, per_minute: int, url: str, prefix: str = "sdb:rate:") -> None:
        import redis

        self.per_minute = per_minute
        self.client = redis.Redis.from_url(url)
        self.prefix = prefix

    def allow(self, key: str, limit: int | None = None) -> bool:
        """Redis out of reach lets the request through (one warning line): customers before the limit."""
        import redis

        name = self.prefix + key
        try:
            with self.client.pipeline() as pipe:
                hits, _ = pipe.incr(name).expire(name, 60, nx=True).execute()
        except redis.RedisError as exc:
            log.warning("rate limit not counted, Redis is out of reach: %s", exc)
            return True
        return int(hits) <= (limit or self.per_minute)


RateLimiter = DatabaseRateLimiter | RedisRateLimiter


def build_rate_limiter(settings: Settings, db: Database) -> RateLimiter:
    """Redis when BOT_REDIS_URL is set, else the database: either way shared by every worker."""
    if settings.redis_url:
        return RedisRateLimiter(settings.rate_limit_per_minute, settings.redis_url)
    return DatabaseRateLimiter(settings.rate_limit_per_minute, db)
