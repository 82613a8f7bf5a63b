"""What every REST route (``/api/v1``) shares in its OpenAPI description: the error body and the
status codes that answer with it; and the typed inputs (ids, times, path keys) a request
must fit, which the console's routes use too."""
from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field

from bot.web.limits import INT_MAX


class ErrorOut(BaseModel):
    """Every refusal answers this body (bot/web/app.py's error handlers)."""

    error: str


ERROR_DESCRIPTIONS = {
    400: "The body cannot be read (not UTF-8)",
    401: "Missing, unknown or revoked Bearer token",
    403: "The token's role does not allow this",
    404: "No such object",
    409: "Not allowed in the object's current state",
    422: "The request does not fit this description, or the change misses data",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a router or route: these status codes, each with the error body."""
    return {code: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[code]} for code in codes}


#: What every route behind a token can answer besides its success.
AUTHORIZED = errors(401, 403, 422)

_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_only(value: object) -> object:
    """Pydantic would read ``0.5`` or ``1700000000`` as seconds since 1970; the API takes ISO 8601 only."""
    if isinstance(value, str) and not _ISO_TIME.match(value):
        raise ValueError("give an ISO 8601 time with a zone, e.g. 2026-11-01T00:00:00+08:00")
    return value


#: A moment in an ISO 8601 (RFC 3339) text with its zone; a naive or numeric time answers 422.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_only)]
#: A row id: what a PostgreSQL ``integer`` column holds.
RowId = Annotated[int, Field(ge=1, le=INT_MAX)]
#: The path key of an application (reference number) or a complaint (ticket number).
CaseKey = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,40}$",
                              description="As the customer was told it, e.g. SB-20261201-7KQ2 or TS261201-K7QM")]
#: A row id in a path.
PathId = Annotated[int, Path(ge=1, le=INT_MAX)]
