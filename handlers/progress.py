"""Progress (查进度): the customer's own applications, one with its history, and proving on a
new channel that an application is theirs (reference number + check code links the identities).

Nobody sees another person's application: a reference number that is not theirs gets the same
answer whether it exists or not, and a check code is the only way in (the guessing limits are
``domain.applications.check_code``: 5 wrong codes per reference and per person, 20 per address).
"""
from __future__ import annotations

import re
from datetime import datetime
from math import ceil
from zoneinfo import ZoneInfo

from sqlalchemy import select

from domain import applications as apps
from handlers.base import Context, Handler, menu_buttons
from handlers.i18n import t
from handlers.messages import Button, Reply
from handlers.notices.applications import due_text, service_label, stage_name
from storage.models import Application, ApplicationExtension, ApplicationTransition, utcnow
from storage.outbox import enqueue

VERIFY = "progress:verify"
_WORDS = {"查进度", "查询进度", "进度", "办理进度", "进度查询", "我的申请", "我的业务", "申请进度", "查看进度",
          "my applications", "check progress", "progress", "application status", "my application", "status"}
_CODE = re.compile(r"^\s*(\d{6})\s*$")


class ProgressHandler(Handler):
    name = "progress"
    priority = 15

    def on_button(self, ctx: Context, payload: str) -> list[Reply] | None:
        action, _, arg = payload.removeprefix("progress:").partition(":")
        if action == "list":
            return self.list(ctx)
        if action == "show":
            return self.show(ctx, arg)
        if action == "code":
            return self.send_code(ctx, arg)
        return None

    def on_intent(self, ctx: Context) -> list[Reply] | None:
        low = ctx.text.lower().strip().rstrip("?？!！。.")
        if low in _WORDS:
            return self.list(ctx)
        found = apps.REFERENCE.search(ctx.text)
        if found:
            return self.show(ctx, found.group(0).upper())
        return None

    def on_state(self, ctx: Context) -> list[Reply] | None:
        if ctx.state != VERIFY:
            return None
        match = _CODE.match(ctx.text)
        if match is None:
            ctx.clear_state()
            return None
        return self.verify(ctx, ctx.state_data.get("reference", ""), match.group(1))

    # -- listing and showing ------------------------------------------------------------------------

    def _when(self, ctx: Context, moment: datetime | None) -> str:
        if moment is None:
            return "-"
        zone = ZoneInfo(ctx.services.catalogue.calendar.timezone)
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    def _overdue(self, ctx: Context, app: Application) -> str:
        late = app.stage not in apps.TERMINAL and (app.overdue or (app.due_at is not None and app.due_at <= utcnow()))
        return ctx.t("progress.overdue") if late else ""

    def list(self, ctx: Context) -> list[Reply]:
        mine = apps.customer_applications(ctx.session, ctx.customer)
        if not mine:
            return [Reply(ctx.t("progress.none"), [Button(ctx.t("menu.button.apply"), "application:start")])]
        lines = [ctx.t("progress.line", reference=a.reference, service=service_label(a, ctx.lang),
                       stage=stage_name(a.stage, ctx.lang), changed=self._when(ctx, a.stage_changed_at),
                       due=due_text(a, ctx.lang), overdue=self._overdue(ctx, a)) for a in mine[:20]]
        buttons = [Button(a.reference or "", f"progress:show:{a.reference}") for a in mine[:8]]
        return [Reply(ctx.t("progress.list", items="\n".join(lines)), buttons)]

    def show(self, ctx: Context, reference: str) -> list[Reply]:
        reference = reference.strip().upper()
        app = apps.owned_by(ctx.session, ctx.customer, reference)
        if app is None:
            ctx.set_state(VERIFY, {"reference": reference})
            return [Reply(ctx.t("progress.not_yours", reference=reference),
                          [Button(ctx.t("progress.button.send_code"), f"progress:code:{reference}")])]
        return [self.detail(ctx, app)]

    def detail(self, ctx: Context, app: Application) -> Reply:
        lang = ctx.lang
        events: list[tuple[datetime, str]] = []
        for row in ctx.session.scalars(select(ApplicationTransition).where(
                ApplicationTransition.application_id == app.id).order_by(ApplicationTransition.id)):
            comment = f" — {row.comment}" if row.comment else ""
            events.append((row.created_at, ctx.t("progress.history_line", when=self._when(ctx, row.created_at),
                                                 stage=stage_name(row.to_stage, lang), comment=comment)))
        for ext in ctx.session.scalars(select(ApplicationExtension).where(
                ApplicationExtension.application_id == app.id)):
            events.append((ext.created_at, ctx.t("progress.detail.extension", when=self._when(ctx, ext.created_at),
                                                 days=ext.days, reason=ext.reason)))
        events.sort(key=lambda e: e[0])
        text = ctx.t("progress.detail", reference=app.reference, service=service_label(app, lang),
                     stage=stage_name(app.stage, lang), submitted=self._when(ctx, app.submitted_at),
                     due=due_text(app, lang), overdue=self._overdue(ctx, app),
                     history="\n".join(line for _, line in events))
        buttons: list[Button] = []
        if app.stage == "correction_requested":
            service = ctx.services.catalogue.get(app.service_id)
            items = []
            for entry in app.correction_items:
                material = service.material(entry["material"]) if service else None
                label = material.label(lang) if material else entry["material"]
                items.append(f"• {label}" + (f" — {entry['note']}" if entry.get("note") else ""))
            text += ctx.t("progress.detail.correction", items="\n".join(items))
            buttons.append(Button(ctx.t("application.button.fix"), f"application:fix:{app.id}"))
        elif app.stage == "rejected":
            text += ctx.t("progress.detail.rejected", reason=app.decision_reason or "-", remedy=app.remedy or "-")
        elif app.stage == "completed":
            text += ctx.t("progress.detail.completed", follow_up=app.follow_up or "-")
        if apps.customer_may_withdraw(app):
            buttons.append(Button(ctx.t("application.button.withdraw"), f"application:withdraw:{app.id}"))
        buttons.append(Button(ctx.t("menu.button.progress"), "progress:list"))
        return Reply(text, buttons)

    # -- proving it is them -------------------------------------------------------------------------

    def send_code(self, ctx: Context, reference: str) -> list[Reply]:
        """A one-time code to the chat the application was followed on; the same answer whatever the number."""
        reference = reference.strip().upper()
        if apps.owned_by(ctx.session, ctx.customer, reference) is not None:
            return self.show(ctx, reference)
        link = apps.issue_code_to_owner(ctx.session, ctx.customer, reference)
        if link is not None:
            lang = link.conversation.language or link.application.language
            enqueue(ctx.session, link.conversation, [Reply(t(
                "progress.link_code", lang, reference=link.application.reference, code=link.code,
                minutes=link.minutes))])
        ctx.set_state(VERIFY, {"reference": reference})
        return [Reply(ctx.t("progress.code_sent", reference=reference))]

    def verify(self, ctx: Context, reference: str, code: str) -> list[Reply]:
        """The code within the guessing limits; locked out, the customer is told how to get help."""
        checked = apps.check_code(ctx.session, ctx.services.settings, ctx.customer, reference, code,
                                  ctx.incoming.address)
        if checked.application is not None:
            ctx.clear_state()
            return [Reply(ctx.t("progress.verified")), self.detail(ctx, checked.application)]
        if checked.locked_until is not None:
            ctx.clear_state()
            minutes = max(1, ceil((checked.locked_until - utcnow()).total_seconds() / 60))
            return [Reply(ctx.t("progress.locked", minutes=minutes), menu_buttons(ctx.lang))]
        return [Reply(ctx.t("progress.bad_code", left=checked.tries_left))]
