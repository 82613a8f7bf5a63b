"""Applying in the chat: pick the service, see the checklist, hand in each material (upload or
type it), hear everything still missing in one message (一次性告知), confirm, get a reference
number; later, supply exactly the items a correction request names, or withdraw.

The draft lives in the database (an application in stage ``draft``), so the customer can
leave, even clear the conversation state with /menu, and continue days later.
"""
from __future__ import annotations

import re

from domain import applications as apps
from domain.catalogue import FILE_KINDS, Material, Service
from handlers.base import Context, Handler, menu_buttons, row_id
from handlers.messages import Button, Reply
from handlers.notices.applications import due_text, service_label, stage_name
from storage.models import Application, Attachment

COLLECT, CONFIRM, CHOOSE, FIX = "application:collect", "application:confirm", "application:choose", "application:fix"
#: Saying one wants to apply: explicit words (enough on their own) and plain wishes (need a service name).
_APPLY_ZH = re.compile(r"(申请|办理|办业务|办个业务|办一下)")
_WISH_ZH = re.compile(r"(我要|我想|想要|帮我|要办)")
_QUESTION_ZH = re.compile(r"(怎么|怎样|如何|吗|什么|哪些|哪里|多久|多少|几天|能否|需要|[？?])")
_APPLY_EN = re.compile(r"\b(apply|application|submit an? application)\b")
_WISH_EN = re.compile(r"\b(i want to|i'd like to|i would like to|i wish to|i need to|i want an?|i'd like an?)\b")
_QUESTION_EN = re.compile(r"^(how|what|which|when|where|can|could|do|does|is|are|why|who)\b|\?")
_SKIP = {"跳过", "稍后", "稍后提供", "skip", "later"}
_BACK = {"上一项", "上一步", "previous", "back"}
_CANCEL = {"取消", "取消申请", "cancel"}
_FIX_WORDS = {"补正", "我要补正", "补充材料", "补正材料", "提交补正", "supply the items", "correction"}


def apply_intent(text: str) -> str | None:
    """"explicit" for "我要申请…" / "I want to apply…", "wish" for "我要开户" / "I'd like to open an account"
    (an application only if a service is named), None for anything else, questions included."""
    low = text.lower().strip()
    if re.search(r"[\u4e00-\u9fff]", low):
        if _QUESTION_ZH.search(low):
            return None
        return "explicit" if _APPLY_ZH.search(low) else "wish" if _WISH_ZH.search(low) else None
    if _QUESTION_EN.search(low):
        return None
    return "explicit" if _APPLY_EN.search(low) else "wish" if _WISH_EN.search(low) else None


def match_service(text: str, services: dict[str, Service]) -> Service | None:
    """The service whose name or keyword appears in the text; the longest match wins."""
    low = text.lower()
    best: tuple[int, Service] | None = None
    for service in services.values():
        words = [n.lower() for n in service.name.values()] + [w for ws in service.keywords.values() for w in ws]
        for word in words:
            if word and word in low and (best is None or len(word) > best[0]):
                best = (len(word), service)
    return best[1] if best else None


def kinds_text(ctx: Context, material: Material) -> str:
    return ctx.t("application.or").join(ctx.t(f"application.kind.{k}") for k in material.accepts if k in FILE_KINDS)


class ApplicationHandler(Handler):
    name = "application"
    priority = 20

    # -- entry points -------------------------------------------------------------------------------

    def on_button(self, ctx: Context, payload: str) -> list[Reply] | None:
        action, _, arg = payload.removeprefix("application:").partition(":")
        if action == "start":
            return self.start(ctx)
        if action == "new":
            return self.choose(ctx)
        if action == "resume":
            draft = apps.open_draft(ctx.session, ctx.customer)
            return self.review(ctx, draft) if draft else self.choose(ctx)
        if action == "svc":
            service = ctx.services.catalogue.get(arg)
            return self.begin(ctx, service) if service else self.choose(ctx, again=True)
        if action in ("skip", "back"):
            return self.step(ctx, action)
        if action == "cancel":
            return self.cancel(ctx)
        if action == "confirm":
            return self.confirm(ctx)
        if action == "edit":
            return self.edit(ctx, arg)
        if action == "fix":
            return self.start_fix(ctx, arg)
        if action == "resubmit":
            return self.resubmit(ctx, arg)
        if action == "withdraw":
            return self.ask_withdraw(ctx, arg)
        if action == "withdraw_yes":
            return self.withdraw(ctx, arg)
        return None

    def on_intent(self, ctx: Context) -> list[Reply] | None:
        if not ctx.text:
            return None
        low = ctx.text.lower().strip()
        if low in _FIX_WORDS:
            waiting = [a for a in apps.customer_applications(ctx.session, ctx.customer)
                       if a.stage == "correction_requested"]
            if waiting:
                return self.start_fix(ctx, str(waiting[0].id))
        intent = apply_intent(ctx.text)
        if intent is None:
            return None
        service = match_service(ctx.text, ctx.services.catalogue.services())
        if service is not None:
            draft = apps.open_draft(ctx.session, ctx.customer)
            if draft is not None and draft.service_id == service.id:
                return self.review(ctx, draft)  # asking for the same service again continues the draft
            return self.begin(ctx, service)
        return self.choose(ctx) if intent == "explicit" else None

    def on_state(self, ctx: Context) -> list[Reply] | None:
        if ctx.state == CHOOSE:
            service = match_service(ctx.text, ctx.services.catalogue.services()) if ctx.text else None
            return self.begin(ctx, service) if service else None
        if ctx.state in (COLLECT, FIX):
            low = ctx.text.lower().strip()
            if not ctx.attachments and low in _SKIP:
                return self.step(ctx, "skip")
            if not ctx.attachments and low in _BACK:
                return self.step(ctx, "back")
            if not ctx.attachments and low in _CANCEL and ctx.state == COLLECT:
                return self.cancel(ctx)
            return self.take(ctx)
        return None  # at the summary, free text is someone else's (a question); the buttons stay valid

    # -- choosing -----------------------------------------------------------------------------------

    def start(self, ctx: Context) -> list[Reply]:
        draft = apps.open_draft(ctx.session, ctx.customer)
        if draft is not None:
            return [Reply(ctx.t("application.draft_found", service=service_label(draft, ctx.lang)),
                          [Button(ctx.t("application.button.resume"), "application:resume"),
                           Button(ctx.t("application.button.new"), "application:new")])]
        return self.choose(ctx)

    def choose(self, ctx: Context, again: bool = False) -> list[Reply]:
        services = ctx.services.catalogue.services()
        if not services:
            ctx.clear_state()
            return [Reply(ctx.t("application.none_available"), menu_buttons(ctx.lang))]
        ctx.set_state(CHOOSE)
        buttons = [Button(s.label(ctx.lang), f"application:svc:{s.id}") for s in services.values()]
        return [Reply(ctx.t("application.choose_again" if again else "application.choose"), buttons)]

    def begin(self, ctx: Context, service: Service) -> list[Reply]:
        """Show the checklist up front, then ask for the first material."""
        app = apps.new_draft(ctx.session, ctx.customer, ctx.conversation.id, service, ctx.lang)
        lines = []
        for n, m in enumerate(service.materials, 1):
            need = ctx.t("application.required" if m.required else "application.optional")
            kinds = "/".join(ctx.t(f"application.kind.{k}") for k in m.accepts)
            lines.append(f"{n}. {m.label(ctx.lang)}（{need}，{kinds}）" if ctx.lang == "zh"
                         else f"{n}. {m.label(ctx.lang)} ({need}; {kinds})")
        checklist = ctx.t("application.checklist", service=service.label(ctx.lang),
                          description=service.text("description", ctx.lang), fee=service.text("fee", ctx.lang),
                          time_limit=service.text("time_limit_text", ctx.lang), materials="\n".join(lines))
        queue = [m.id for m in service.materials]
        ctx.set_state(COLLECT, {"app": app.id, "queue": queue, "pos": 0})
        return [Reply(checklist)] + self.prompt(ctx, app, service)

    # -- collecting ---------------------------------------------------------------------------------

    def _current(self, ctx: Context) -> tuple[Application, Service, Material] | None:
        """The application, service and material the conversation is at, or None if that is gone."""
        data = ctx.state_data
        # a submitted case is shared with staff: hold its row while the customer's item is stored
        app = ctx.session.get(Application, data.get("app"), with_for_update=True if ctx.state == FIX else None)
        if app is None or app.stage != ("correction_requested" if ctx.state == FIX else "draft"):
            return None  # submitted, withdrawn or deleted meanwhile: this step is over
        service = ctx.services.catalogue.get(app.service_id)
        queue, pos = data.get("queue", []), data.get("pos", 0)
        if service is None or not 0 <= pos < len(queue) or service.material(queue[pos]) is None:
            return None
        return app, service, service.material(queue[pos])  # type: ignore[return-value]

    def prompt(self, ctx: Context, app: Application, service: Service, notice: str | None = None) -> list[Reply]:
        data = ctx.state_data
        queue, pos = data["queue"], data["pos"]
        material = service.material(queue[pos])
        assert material is not None
        if material.takes_files and material.takes_text:
            how = ctx.t("application.how.either", kinds=kinds_text(ctx, material))
        elif material.takes_files:
            how = ctx.t("application.how.file", kinds=kinds_text(ctx, material))
        else:
            how = ctx.t("application.how.text")
        text = ctx.t("application.prompt", n=pos + 1, total=len(queue), material=material.label(ctx.lang),
                     required=ctx.t("application.required" if material.required else "application.optional"),
                     hint=material.hint.get(ctx.lang, ""), how=how)
        if notice:
            text = notice + "\n\n" + text
        buttons = []
        if ctx.state == COLLECT:
            skip = "application.button.later" if material.required else "application.button.skip_optional"
            buttons.append(Button(ctx.t(skip), "application:skip"))
        else:
            buttons.append(Button(ctx.t("application.button.later"), "application:skip"))
        if pos > 0:
            buttons.append(Button(ctx.t("application.button.back"), "application:back"))
        if ctx.state == COLLECT:
            buttons.append(Button(ctx.t("application.button.cancel"), "application:cancel"))
        return [Reply(text, buttons)]

    def take(self, ctx: Context) -> list[Reply]:
        """The customer's file or typed value for the current material: check it, store it, go on."""
        current = self._current(ctx)
        if current is None:
            ctx.clear_state()
            return [Reply(ctx.t("application.expired"), menu_buttons(ctx.lang))]
        app, service, material = current
        status = "pending" if ctx.state == FIX else "current"
        if ctx.attachments:
            if not material.takes_files:
                return self.prompt(ctx, app, service, ctx.t("application.error.needs_text",
                                                            material=material.label(ctx.lang)))
            attachment: Attachment = ctx.attachments[0]
            problem = apps.check_file(material, attachment)
            if problem == "bad_type":
                return self.prompt(ctx, app, service, ctx.t("application.error.bad_type",
                                                            material=material.label(ctx.lang),
                                                            kinds=kinds_text(ctx, material)))
            if problem == "too_large":
                return self.prompt(ctx, app, service, ctx.t("application.error.too_large",
                                                            material=material.label(ctx.lang),
                                                            limit=f"{material.max_mb:g}"))
            apps.put_item(ctx.session, app, material, attachment=attachment, status=status)
        elif ctx.text:
            if not material.takes_text:
                return self.prompt(ctx, app, service, ctx.t("application.error.needs_file",
                                                            material=material.label(ctx.lang),
                                                            kinds=kinds_text(ctx, material)))
            value = ctx.text.strip()
            if material.format in ("cn_id",):
                value = value.upper()
            rule = apps.text_problem(material, value)
            if rule is not None:
                self._remember_wrong(ctx, material.id, rule, len(value))
                return self.prompt(ctx, app, service, ctx.t("application.error.bad_format",
                                                            material=material.label(ctx.lang),
                                                            rule=ctx.t("application.rule." + rule, count=len(value))))
            self._remember_wrong(ctx, material.id, None, 0)
            apps.put_item(ctx.session, app, material, value=value, status=status)
        else:
            return self.prompt(ctx, app, service)
        saved = ctx.t("application.saved", material=material.label(ctx.lang))
        return self.advance(ctx, app, service, saved)

    def step(self, ctx: Context, action: str) -> list[Reply]:
        if ctx.state not in (COLLECT, FIX):
            return [Reply(ctx.t("application.expired"), menu_buttons(ctx.lang))]
        current = self._current(ctx)
        if current is None:
            ctx.clear_state()
            return [Reply(ctx.t("application.expired"), menu_buttons(ctx.lang))]
        app, service, _material = current
        if action == "back":
            data = ctx.state_data
            data["pos"] = max(0, data["pos"] - 1)
            ctx.set_state(ctx.state, data)
            return self.prompt(ctx, app, service)
        return self.advance(ctx, app, service, None)

    def advance(self, ctx: Context, app: Application, service: Service, saved: str | None) -> list[Reply]:
        data = ctx.state_data
        data["pos"] += 1
        replies = [Reply(saved)] if saved else []
        if data.get("back_to") == "confirm" or data["pos"] >= len(data["queue"]):
            if ctx.state == FIX:
                return replies + self.review_fix(ctx, app, service)
            return replies + self.review(ctx, app)
        ctx.set_state(ctx.state, data)
        return replies + self.prompt(ctx, app, service)

    # -- checking and submitting --------------------------------------------------------------------

    @staticmethod
    def _remember_wrong(ctx: Context, material_id: str, rule: str | None, length: int) -> None:
        """Keep the rule a refused value broke, so the list of what is missing tells "given but
        wrong" from "not given"; a value that fits forgets it."""
        data = ctx.state_data
        wrong = dict(data.get("wrong", {}))
        if rule is None:
            wrong.pop(material_id, None)
        else:
            wrong[material_id] = [rule, length]
        ctx.set_state(ctx.state, {**data, "wrong": wrong})

    def _problem_lines(self, ctx: Context, found: list[tuple[Material, str]]) -> str:
        wrong = ctx.state_data.get("wrong", {})
        lines = []
        for n, (material, why) in enumerate(found, 1):
            if why == "missing" and material.id in wrong:
                rule, length = wrong[material.id]
                reason = ctx.t("application.reason.given_but_wrong",
                               rule=ctx.t("application.rule." + rule, count=length))
            else:
                reason = ctx.t("application.reason." + why)
            lines.append(f"{n}. {material.label(ctx.lang)} — {reason}")
        return "\n".join(lines)

    def review(self, ctx: Context, app: Application) -> list[Reply]:
        """Everything missing or wrong in ONE message and a walk through those items; else the summary."""
        service = ctx.services.catalogue.get(app.service_id)
        if service is None:
            ctx.clear_state()
            return [Reply(ctx.t("application.service_gone", service=service_label(app, ctx.lang)),
                          menu_buttons(ctx.lang))]
        found = apps.problems(ctx.session, app, service)
        if found:
            text = ctx.t("application.problems", count=len(found), items=self._problem_lines(ctx, found))
            ctx.set_state(COLLECT, {"app": app.id, "queue": [m.id for m, _ in found], "pos": 0,
                                    "wrong": ctx.state_data.get("wrong", {})})
            return [Reply(text)] + self.prompt(ctx, app, service)
        ctx.set_state(CONFIRM, {"app": app.id})
        text = ctx.t("application.summary", service=service.label(ctx.lang),
                     items=self._item_lines(ctx, app, service, service.materials, ("current",)))
        return [Reply(text, [Button(ctx.t("application.button.confirm"), "application:confirm"),
                             Button(ctx.t("application.button.edit"), "application:edit"),
                             Button(ctx.t("application.button.cancel"), "application:cancel")])]

    def _item_lines(self, ctx: Context, app: Application, service: Service, materials,  # type: ignore[no-untyped-def]
                    statuses: tuple[str, ...]) -> str:
        items = apps.items_of(ctx.session, app, statuses)
        lines = []
        for m in materials:
            item = items.get(m.id)
            if item is None:
                shown = ctx.t("application.summary.skipped")
            elif item.kind == "text":
                shown = item.value or ""
            else:
                attachment = ctx.session.get(Attachment, item.attachment_id)
                shown = ctx.t("application.summary.file", name=(attachment.original_name if attachment else None)
                              or (attachment.mime if attachment else "?"))
            lines.append(f"• {m.label(ctx.lang)}：{shown}" if ctx.lang == "zh" else f"• {m.label(ctx.lang)}: {shown}")
        return "\n".join(lines)

    def confirm(self, ctx: Context) -> list[Reply]:
        if ctx.state != CONFIRM:
            return [Reply(ctx.t("application.expired"), menu_buttons(ctx.lang))]
        app = ctx.session.get(Application, ctx.state_data.get("app"))
        if app is None or app.stage != "draft":
            ctx.clear_state()
            return [Reply(ctx.t("application.expired"), menu_buttons(ctx.lang))]
        service = ctx.services.catalogue.get(app.service_id)
        if service is None or apps.problems(ctx.session, app, service):
            return self.review(ctx, app)
        app.language = ctx.lang
        code = apps.submit(ctx.session, ctx.services, app, service)
        ctx.clear_state()
        text = ctx.t("application.submitted", reference=app.reference, code=code,
                     secondary=ctx.t("application.submitted.secondary") if app.needs_secondary_review else "",
                     time_limit=service.text("time_limit_text", ctx.lang), due=due_text(app, ctx.lang))
        return [Reply(text, [Button(ctx.t("application.button.details"), f"progress:show:{app.reference}")]
                      + menu_buttons(ctx.lang)[:1])]

    def edit(self, ctx: Context, material_id: str) -> list[Reply]:
        if ctx.state != CONFIRM:
            return [Reply(ctx.t("application.expired"), menu_buttons(ctx.lang))]
        app = ctx.session.get(Application, ctx.state_data.get("app"))
        service = ctx.services.catalogue.get(app.service_id) if app else None
        if app is None or service is None:
            ctx.clear_state()
            return [Reply(ctx.t("application.expired"), menu_buttons(ctx.lang))]
        if not material_id:
            return [Reply(ctx.t("application.edit_which"),
                          [Button(m.label(ctx.lang), f"application:edit:{m.id}") for m in service.materials])]
        if service.material(material_id) is None:
            return self.review(ctx, app)
        ctx.set_state(COLLECT, {"app": app.id, "queue": [material_id], "pos": 0, "back_to": "confirm"})
        return self.prompt(ctx, app, service)

    def cancel(self, ctx: Context) -> list[Reply]:
        draft = apps.open_draft(ctx.session, ctx.customer)
        if draft is not None:
            apps.discard_draft(ctx.session, draft)
        ctx.clear_state()
        return [Reply(ctx.t("application.cancelled"), menu_buttons(ctx.lang))]

    # -- corrections (补正) -------------------------------------------------------------------------

    def _own(self, ctx: Context, app_id: str) -> Application | None:
        number = row_id(app_id)
        app = ctx.session.get(Application, number) if number is not None else None
        if app is None or app.reference is None:
            return None
        return apps.owned_by(ctx.session, ctx.customer, app.reference, lock=True)

    def _not_correctable(self, ctx: Context, app: Application | None) -> list[Reply] | None:
        """Why the customer cannot correct or resubmit this application now; None when they can."""
        if app is None:
            return [Reply(ctx.t("application.not_found"), menu_buttons(ctx.lang))]
        if app.stage != "correction_requested":
            return [Reply(ctx.t("application.fix.not_needed", reference=app.reference,
                                stage=stage_name(app.stage, ctx.lang)))]
        return None

    def start_fix(self, ctx: Context, app_id: str) -> list[Reply]:
        app = self._own(ctx, app_id)
        refusal = self._not_correctable(ctx, app)
        if refusal:
            return refusal
        service = ctx.services.catalogue.get(app.service_id)
        if service is None:
            return [Reply(ctx.t("application.service_gone", service=service_label(app, ctx.lang)),
                          menu_buttons(ctx.lang))]
        named = [c["material"] for c in app.correction_items if service.material(c["material"])]
        ctx.set_state(FIX, {"app": app.id, "queue": named, "pos": 0})
        lines = []
        for n, entry in enumerate(app.correction_items, 1):
            material = service.material(entry["material"])
            label = material.label(ctx.lang) if material else entry["material"]
            lines.append(f"{n}. {label}" + (f" — {entry['note']}" if entry.get("note") else ""))
        head = Reply(ctx.t("application.fix.start", reference=app.reference, count=len(named), items="\n".join(lines)))
        return [head] + self.prompt(ctx, app, service)

    def review_fix(self, ctx: Context, app: Application, service: Service) -> list[Reply]:
        named = [c["material"] for c in app.correction_items]
        found = apps.problems(ctx.session, app, service, ("pending",), only=named)
        if found:
            ctx.set_state(FIX, {"app": app.id, "queue": [m.id for m, _ in found], "pos": 0})
            text = ctx.t("application.problems", count=len(found), items=self._problem_lines(ctx, found))
            return [Reply(text)] + self.prompt(ctx, app, service)
        ctx.clear_state()
        materials = [m for m in service.materials if m.id in named]
        text = ctx.t("application.fix.summary", items=self._item_lines(ctx, app, service, materials, ("pending",)))
        return [Reply(text, [Button(ctx.t("application.button.resubmit"), f"application:resubmit:{app.id}"),
                             Button(ctx.t("application.button.fix"), f"application:fix:{app.id}")])]

    def resubmit(self, ctx: Context, app_id: str) -> list[Reply]:
        app = self._own(ctx, app_id)
        refusal = self._not_correctable(ctx, app)
        if refusal:
            return refusal
        service = ctx.services.catalogue.get(app.service_id)
        try:
            apps.resubmit(ctx.session, ctx.services, app, service)
        except apps.InvalidRequest:
            return self.start_fix(ctx, app_id)
        return [Reply(ctx.t("application.fix.done", reference=app.reference, due=due_text(app, ctx.lang)),
                      [Button(ctx.t("application.button.details"), f"progress:show:{app.reference}")])]

    # -- withdrawing --------------------------------------------------------------------------------

    def ask_withdraw(self, ctx: Context, app_id: str) -> list[Reply]:
        app = self._own(ctx, app_id)
        if app is None:
            return [Reply(ctx.t("application.not_found"), menu_buttons(ctx.lang))]
        if not apps.customer_may_withdraw(app):
            return [Reply(ctx.t("application.withdraw.not_allowed", reference=app.reference,
                                stage=stage_name(app.stage, ctx.lang)))]
        return [Reply(ctx.t("application.withdraw.confirm", reference=app.reference,
                            service=service_label(app, ctx.lang)),
                      [Button(ctx.t("application.button.withdraw_yes"), f"application:withdraw_yes:{app.id}"),
                       Button(ctx.t("application.button.keep"), f"progress:show:{app.reference}")])]

    def withdraw(self, ctx: Context, app_id: str) -> list[Reply]:
        app = self._own(ctx, app_id)
        if app is None:
            return [Reply(ctx.t("application.not_found"), menu_buttons(ctx.lang))]
        try:
            apps.transition(ctx.session, ctx.services, app, "withdrawn",
                            apps.Actor("customer", f"customer:{ctx.customer.id}"))
        except apps.DomainError:
            return [Reply(ctx.t("application.withdraw.not_allowed", reference=app.reference,
                                stage=stage_name(app.stage, ctx.lang)))]
        if ctx.state in (FIX,) and ctx.state_data.get("app") == app.id:
            ctx.clear_state()
        return [Reply(ctx.t("application.notify.withdrawn", reference=app.reference,
                            service=service_label(app, ctx.lang)), menu_buttons(ctx.lang))]
