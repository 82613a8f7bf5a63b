"""Complaints in chat: file one step by step, check one's own by ticket number or "我的投诉",
and answer the follow-up visit (satisfied? "no" reopens it). The rules live in
``domain.complaints``; this module only talks."""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from domain import applications, complaints
from handlers.base import Context, Handler, menu_buttons, row_id
from handlers.handoff import request_handoff
from handlers.i18n import t
from handlers.messages import Button, Reply
from storage.models import Complaint, ComplaintEvent, Customer

#: "I want to complain" said outright: starts a complaint whatever follows.
_WANT = re.compile(
    r"(?:我(?:要|想|想要)|要)(?:投诉|举报)|"
    r"\bi\s+(?:want|would\s+like|wish|need)\s+to\s+(?:complain|make\s+a\s+complaint|file\s+a\s+complaint)\b|"
    r"\bi\s+have\s+a\s+complaint\b",
    re.IGNORECASE,
)
#: The bare word, as a command.
_BARE = re.compile(r"^(?:投诉|投诉建议|举报|complain|complaint|file\s+a\s+complaint|make\s+a\s+complaint)[!！。.]?$",
                   re.IGNORECASE)
#: Questions about complaining ("投诉电话是多少", "how do I complain?") are the FAQ's to answer.
_ABOUT = re.compile(r"电话|热线|邮箱|地址|hotline|phone|e-?mail|address", re.IGNORECASE)
#: A typed answer to the follow-up visit's question, as good as its buttons.
_FOLLOW_UP_ANSWERS = {"满意": True, "很满意": True, "非常满意": True, "satisfied": True, "yes": True,
                      "不满意": False, "不太满意": False, "not satisfied": False, "no": False}
_LIST = re.compile(
    r"^(?:查询?|查看)?我的投诉|投诉(?:进度|状态|查询|结果)|查询?投诉|"
    r"\bmy\s+complaints?\b|\bcomplaint\s+(?:status|progress)\b",
    re.IGNORECASE,
)
_CANCEL = {"取消", "算了", "不投诉了", "退出", "cancel", "stop", "quit"}
_DONE = {"完成", "好了", "没有", "跳过", "无", "done", "skip", "no", "none", "finished"}
_PHONE = re.compile(r"^\+?[\d\- ]{6,20}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_DESCRIPTION = 5
MAX_REFERENCE = 64


def _hours(hours: float) -> str:
    return str(int(hours)) if float(hours).is_integer() else f"{hours:.1f}"


def _mask(value: str) -> str:
    """Show a phone number or address without echoing it whole into the transcript."""
    if "@" in value:
        name, _, domain = value.partition("@")
        return f"{name[:1]}***@{domain}"
    return f"{value[:3]}****{value[-2:]}" if len(value) > 6 else "****"


def follow_up_buttons(lang: str, ticket: str) -> list[Button]:
    """The follow-up visit's "satisfied?" answers (handled by ``ComplaintHandler``)."""
    return [Button(t("complaint.button.satisfied", lang), f"complaint:satisfied:{ticket}:yes"),
            Button(t("complaint.button.not_satisfied", lang), f"complaint:satisfied:{ticket}:no")]


def own_applications(session: Session, customer: Customer) -> list[tuple[int, str]]:
    """The person's own submitted applications as (id, label), newest first, for "which
    application is it about"."""
    return [(app.id, app.reference or str(app.id))
            for app in applications.customer_applications(session, customer)[:10]]


class ComplaintHandler(Handler):
    name = "complaint"
    priority = 40

    # -- entry points ----------------------------------------------------------------------------

    def on_intent(self, ctx: Context) -> list[Reply] | None:
        text = ctx.text
        if not text:
            return None
        ticket = complaints.normalize_ticket(text)
        if ticket is not None:
            return self._status(ctx, ticket)
        answer = _FOLLOW_UP_ANSWERS.get(text.strip().strip("!！。.").lower())
        waiting = complaints.awaiting_follow_up(ctx.session, ctx.customer) if answer is not None else None
        if waiting is not None:
            return self._answer_follow_up(ctx, waiting.ticket, answer)
        if _LIST.search(text):
            return self._list(ctx)
        if (_WANT.search(text) or _BARE.match(text.strip())) and not _ABOUT.search(text):
            return self._start(ctx)
        return None

    def on_button(self, ctx: Context, payload: str) -> list[Reply] | None:
        parts = payload.split(":")
        action, args = parts[1] if len(parts) > 1 else "", parts[2:]
        if action == "start":
            return self._start(ctx)
        if action == "list":
            return self._list(ctx)
        if action == "status" and args:
            return self._status(ctx, args[0])
        if action == "person" and args:
            return request_handoff(ctx, "complaint", ctx.t("complaint.handoff_question", ticket=args[0]))
        if action == "satisfied" and len(args) == 2:
            return self._answer_follow_up(ctx, args[0], args[1] == "yes")
        if action == "cancel":
            return self._cancel(ctx)
        step = (ctx.state or "").removeprefix("complaint:")
        if action == "cat" and args and step == "category":
            return self._set_category(ctx, args[0])
        if action == "files_done" and step == "files":
            return self._ask_application(ctx, ctx.state_data)
        if action == "app" and args and step == "application":
            return self._pick_application(ctx, args[0])
        if action == "contact" and args and step == "contact":
            return self._pick_contact(ctx, args[0])
        if action == "submit" and step == "confirm":
            return self._submit(ctx)
        if action == "reason_skip" and step == "reopen_reason":
            ctx.clear_state()
            return [Reply(ctx.t("complaint.reopen.thanks"), menu_buttons(ctx.lang))]
        return [Reply(ctx.t("fallback.stale_button"), menu_buttons(ctx.lang))]

    def on_state(self, ctx: Context) -> list[Reply] | None:
        step = (ctx.state or "").removeprefix("complaint:")
        data = ctx.state_data
        if ctx.attachments and step != "reopen_reason":
            data["files"] = data.get("files", []) + [a.id for a in ctx.attachments]
            ctx.set_state(ctx.state, data)
        text = ctx.text
        if text.strip().lower() in _CANCEL:
            return self._cancel(ctx)
        if step == "category":
            code = self._category_from_text(ctx, text)
            return self._set_category(ctx, code) if code else self._ask_category(ctx, again=True)
        if step == "description":
            if len(text) < MIN_DESCRIPTION:
                return [Reply(ctx.t("complaint.ask.description_more"), [self._cancel_button(ctx)])]
            data["description"] = text
            ctx.set_state("complaint:files", data)
            return [self._files_prompt(ctx)]
        if step == "files":
            if ctx.attachments:
                return [Reply(ctx.t("complaint.files.received", count=len(data.get("files", []))),
                              self._files_prompt(ctx).buttons)]
            if text.strip().lower() in _DONE:
                return self._ask_application(ctx, data)
            if text:  # more words about what happened: keep them with the description
                data["description"] = f"{data.get('description', '')}\n{text}".strip()
                ctx.set_state(ctx.state, data)
                return [Reply(ctx.t("complaint.files.text_added"), self._files_prompt(ctx).buttons)]
            return [self._files_prompt(ctx)]
        if step == "application":
            if not text:
                return self._ask_application(ctx, data)
            data["application_ref"] = text[:MAX_REFERENCE]
            data.pop("application_id", None)
            return self._ask_contact(ctx, data)
        if step == "contact":
            return self._ask_contact(ctx, data)
        if step == "contact_value":
            return self._take_contact_value(ctx, data, text.strip())
        if step == "confirm":
            return [self._summary(ctx, data)]
        if step == "reopen_reason":
            return self._reopen_reason(ctx, data, text)
        ctx.clear_state()
        return None

    # -- filing a complaint ----------------------------------------------------------------------

    def _cancel_button(self, ctx: Context) -> Button:
        return Button(ctx.t("complaint.button.cancel"), "complaint:cancel")

    def _start(self, ctx: Context) -> list[Reply]:
        ctx.set_state("complaint:category", {})
        return [Reply(ctx.t("complaint.intro"))] + self._ask_category(ctx)

    def _ask_category(self, ctx: Context, again: bool = False) -> list[Reply]:
        buttons = [Button(ctx.t(f"complaint.category.{c}"), f"complaint:cat:{c}") for c in complaints.CATEGORIES]
        key = "complaint.ask.category_again" if again else "complaint.ask.category"
        return [Reply(ctx.t(key), buttons + [self._cancel_button(ctx)])]

    def _category_from_text(self, ctx: Context, text: str) -> str | None:
        lowered = text.strip().lower()
        for code in complaints.CATEGORIES:
            if lowered and lowered in (ctx.t(f"complaint.category.{code}").lower(), code):
                return code
        return None

    def _set_category(self, ctx: Context, code: str) -> list[Reply]:
        if code not in complaints.CATEGORIES:
            return self._ask_category(ctx, again=True)
        data = ctx.state_data
        data["category"] = code
        ctx.set_state("complaint:description", data)
        return [Reply(ctx.t("complaint.ask.description"), [self._cancel_button(ctx)])]

    def _files_prompt(self, ctx: Context) -> Reply:
        return Reply(ctx.t("complaint.ask.files"), [Button(ctx.t("complaint.button.files_done"), "complaint:files_done"),
                                                    self._cancel_button(ctx)])

    def _ask_application(self, ctx: Context, data: dict[str, Any]) -> list[Reply]:
        ctx.set_state("complaint:application", data)
        own = own_applications(ctx.session, ctx.customer)
        buttons = [Button(label, f"complaint:app:{app_id}") for app_id, label in own]
        buttons.append(Button(ctx.t("complaint.button.no_application"), "complaint:app:none"))
        key = "complaint.ask.application_pick" if own else "complaint.ask.application_ref"
        return [Reply(ctx.t(key), buttons + [self._cancel_button(ctx)])]

    def _pick_application(self, ctx: Context, choice: str) -> list[Reply]:
        data = ctx.state_data
        data.pop("application_ref", None)
        data.pop("application_id", None)
        if choice != "none":
            own = dict(own_applications(ctx.session, ctx.customer))
            picked = row_id(choice)
            if picked not in own:
                return self._ask_application(ctx, data)
            data["application_id"] = picked
            data["application_label"] = own[picked]
        return self._ask_contact(ctx, data)

    def _ask_contact(self, ctx: Context, data: dict[str, Any]) -> list[Reply]:
        ctx.set_state("complaint:contact", data)
        buttons = [Button(ctx.t(f"complaint.contact.{c}"), f"complaint:contact:{c}") for c in complaints.CONTACTS]
        return [Reply(ctx.t("complaint.ask.contact"), buttons + [self._cancel_button(ctx)])]

    def _pick_contact(self, ctx: Context, kind: str) -> list[Reply]:
        data = ctx.state_data
        if kind not in complaints.CONTACTS:
            return self._ask_contact(ctx, data)
        data["contact"] = kind
        data.pop("contact_value", None)
        known = {"phone": ctx.customer.phone, "email": ctx.customer.email}.get(kind)
        if kind == "chat" or known:
            if known:
                data["contact_value"] = known
            return self._confirm(ctx, data)
        ctx.set_state("complaint:contact_value", data)
        return [Reply(ctx.t(f"complaint.ask.{kind}"), [self._cancel_button(ctx)])]

    def _take_contact_value(self, ctx: Context, data: dict[str, Any], value: str) -> list[Reply]:
        kind = data.get("contact")
        pattern = _PHONE if kind == "phone" else _EMAIL
        if not pattern.match(value):
            return [Reply(ctx.t(f"complaint.ask.{kind}_again"), [self._cancel_button(ctx)])]
        data["contact_value"] = value
        return self._confirm(ctx, data)

    def _confirm(self, ctx: Context, data: dict[str, Any]) -> list[Reply]:
        ctx.set_state("complaint:confirm", data)
        return [self._summary(ctx, data)]

    def _summary(self, ctx: Context, data: dict[str, Any]) -> Reply:
        if data.get("application_label"):
            application = data["application_label"]
        else:
            application = data.get("application_ref") or ctx.t("complaint.summary.no_application")
        contact = ctx.t(f"complaint.contact.{data.get('contact', 'chat')}")
        if data.get("contact_value"):
            contact += f" ({_mask(data['contact_value'])})"
        description = data.get("description", "")
        text = ctx.t(
            "complaint.summary",
            category=ctx.t(f"complaint.category.{data.get('category', 'other')}"),
            description=description if len(description) <= 200 else description[:200] + "…",
            files=len(data.get("files", [])),
            application=application,
            contact=contact,
        )
        return Reply(text, [Button(ctx.t("complaint.button.submit"), "complaint:submit"), self._cancel_button(ctx)])

    def _submit(self, ctx: Context) -> list[Reply]:
        data = ctx.state_data
        complaint = complaints.create(
            ctx.session, ctx.services, ctx.conversation,
            category=data["category"],
            description=data["description"],
            attachment_ids=data.get("files", []),
            application_id=data.get("application_id"),
            application_ref=data.get("application_ref"),
            contact_preference=data.get("contact", "chat"),
            contact_value=data.get("contact_value"),
        )
        ctx.clear_state()
        hours = complaints.stage_hours(ctx.services.settings, "received") or 0
        return [Reply(ctx.t("complaint.received", ticket=complaint.ticket, hours=_hours(hours)),
                      [Button(ctx.t("complaint.button.person"), f"complaint:person:{complaint.ticket}"),
                       Button(ctx.t("complaint.button.my_complaints"), "complaint:list")] + menu_buttons(ctx.lang))]

    def _cancel(self, ctx: Context) -> list[Reply]:
        if ctx.state and ctx.state.startswith("complaint:"):
            ctx.clear_state()
        return [Reply(ctx.t("complaint.cancelled"), menu_buttons(ctx.lang))]

    # -- checking and following up ---------------------------------------------------------------

    def _status_text(self, ctx: Context, complaint: Complaint) -> str:
        text = ctx.t(
            "complaint.status.line",
            ticket=complaint.ticket,
            status=ctx.t(f"complaint.status.{complaint.status}"),
            category=ctx.t(f"complaint.category.{complaint.category}"),
            date=complaint.created_at.strftime("%Y-%m-%d"),
        )
        if complaint.resolution and complaint.status in ("resolved", "follow_up", "closed"):
            text += "\n" + ctx.t("complaint.status.resolution", resolution=complaint.resolution)
        return text

    def _status(self, ctx: Context, ticket: str) -> list[Reply]:
        complaint = complaints.find_for_customer(ctx.session, ctx.customer, ticket)
        if complaint is None:
            return [Reply(ctx.t("complaint.not_found"), [Button(ctx.t("complaint.button.my_complaints"),
                                                                "complaint:list")])]
        buttons = follow_up_buttons(ctx.lang, complaint.ticket) if complaint.status == "follow_up" else []
        return [Reply(self._status_text(ctx, complaint), buttons)]

    def _list(self, ctx: Context) -> list[Reply]:
        own = complaints.customer_complaints(ctx.session, ctx.customer)
        if not own:
            return [Reply(ctx.t("complaint.list.empty"), [Button(ctx.t("menu.button.complain"), "complaint:start")])]
        lines = [ctx.t("complaint.list.header")] + [
            ctx.t("complaint.list.item", ticket=c.ticket, status=ctx.t(f"complaint.status.{c.status}"),
                  category=ctx.t(f"complaint.category.{c.category}")) for c in own
        ]
        buttons = [Button(c.ticket, f"complaint:status:{c.ticket}") for c in own]
        return [Reply("\n".join(lines), buttons)]

    def _answer_follow_up(self, ctx: Context, ticket: str, satisfied: bool) -> list[Reply]:
        complaint = complaints.find_for_customer(ctx.session, ctx.customer, ticket)
        if complaint is None:
            return [Reply(ctx.t("complaint.not_found"))]
        if complaint.status == "closed" and complaint.satisfied is None:  # closed without their answer
            return [Reply(ctx.t("complaint.follow_up.after_close", ticket=complaint.ticket),
                          [Button(ctx.t("menu.button.complain"), "complaint:start"),
                           Button(ctx.t("menu.button.human"), "handoff:request")])]
        if complaint.status != "follow_up":
            return [Reply(ctx.t("complaint.follow_up.already", ticket=complaint.ticket,
                                status=ctx.t(f"complaint.status.{complaint.status}")))]
        actor = complaints.Actor("customer")
        if satisfied:
            complaints.transition(ctx.session, ctx.services, complaint, "close", actor)
            return [Reply(ctx.t("complaint.follow_up.closed", ticket=complaint.ticket), menu_buttons(ctx.lang))]
        event = complaints.transition(ctx.session, ctx.services, complaint, "reopen", actor)
        if ctx.state and not ctx.state.startswith("complaint:"):
            # Another flow is running: do not take its place just to ask for a reason.
            return [Reply(ctx.t("complaint.follow_up.reopened_short", ticket=complaint.ticket))]
        ctx.session.flush()
        ctx.set_state("complaint:reopen_reason", {"event_id": event.id})
        return [Reply(ctx.t("complaint.follow_up.reopened", ticket=complaint.ticket),
                      [Button(ctx.t("complaint.button.skip"), "complaint:reason_skip")])]

    def _reopen_reason(self, ctx: Context, data: dict[str, Any], text: str) -> list[Reply]:
        if not text:
            return [Reply(ctx.t("complaint.reopen.ask_again"), [Button(ctx.t("complaint.button.skip"),
                                                                       "complaint:reason_skip")])]
        event = ctx.session.get(ComplaintEvent, data.get("event_id"))
        if event is not None:
            event.comment = text
        ctx.clear_state()
        return [Reply(ctx.t("complaint.reopen.thanks"), menu_buttons(ctx.lang))]
