"""REST: a person's data (``/api/v1/customers``), admins only: the export archive and the erasure
(each recorded with who and why)."""
from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION, Principal, require_role
from bot.web.api_schema import AUTHORIZED, errors
from domain import erasure, privacy

router = APIRouter(prefix="/api/v1/customers", tags=["customers"], responses=AUTHORIZED)
ADMIN = require_role("admin")
#: ``CHANNEL:EXTERNAL_ID``, e.g. ``telegram:123456`` (no slash: it is one path segment).
Identity = Annotated[str, Path(pattern=r"^[a-z_]{1,32}:[^/]{1,256}$", description="CHANNEL:EXTERNAL_ID")]


def archive_name(identity: str) -> str:
    return "customer-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", identity) + ".zip"


@router.get("/{identity}/export", summary="One ZIP of everything held about the person (data.json and files)",
            response_class=Response, responses={200: {"content": {"application/zip": {}}}, **errors(404)})
def export_customer(identity: Identity, request: Request, reason: str | None = Query(None, max_length=2000),
                    principal: Principal = Depends(ADMIN), session: Session = DB_SESSION) -> Response:
    services = request.app.state.services
    try:
        content = privacy.export_identity(session, services, services.attachments, identity,
                                          f"api:{principal.name}", reason)
    except privacy.UnknownCustomer as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(content, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{archive_name(identity)}"'})


class ErasureIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why (recorded with the erasure)")


@router.post("/{identity}/erase", summary="Erase everything held about the person but the cases that must be kept",
             description="Names, phones, e-mails, message text, files, materials, complaint text, rating comments and "
                         "recorded questions of every linked identity are deleted or anonymised; the figures keep "
                         "counting the emptied cases. Cases in BOT_RETENTION_KEEP_STAGES younger than "
                         "BOT_RETENTION_KEEP_DAYS are kept and listed in `kept`; the customer is told in their last "
                         "chat, and `customer.erased` is sent to webhooks.",
             responses={200: {"description": "Erased; `identities` as they are written now, `kept` the cases kept"},
                        **errors(400, 404)})
def erase_customer(identity: Identity, body: ErasureIn, request: Request, principal: Principal = Depends(ADMIN),
                   session: Session = DB_SESSION) -> dict[str, Any]:
    services = request.app.state.services
    try:
        done = erasure.erase_identity(session, services, services.attachments, identity, f"api:{principal.name}",
                                      body.reason)
    except privacy.UnknownCustomer as exc:
        raise HTTPException(404, str(exc)) from None
    except erasure.ErasureError as exc:
        raise HTTPException(422, str(exc)) from None
    return done.to_json()
