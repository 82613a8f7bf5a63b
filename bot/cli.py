"""Command line: ``python -m bot serve|chat|db upgrade|config|staff add|staff link-telegram|api-token create|revoke|telegram set-webhook|application ...|webhook ...``."""
from __future__ import annotations

import argparse
import getpass
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.config import DATA_DIR_DEFAULT, Settings, SettingsError, load_settings
from bot.logs import setup_logging


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from storage.db import Database

    host, port = args.host or settings.host, args.port or settings.port
    workers = args.workers or os.cpu_count() or 1
    Database(settings.effective_database_url).upgrade()  # once, before any worker starts
    if workers > 1:
        # Every worker's counters in one folder, so any worker's /metrics shows them all.
        metrics_dir = settings.data_dir / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    print(f"Service desk bot: web chat at http://{host}:{port}/  (console: /console), {workers} worker(s)",
          flush=True)
    # JSON logs: uvicorn's own loggers go through the root handler instead of its text config.
    log_config = None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG
    uvicorn.run("bot.web.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
                log_level=settings.log_level.lower(), access_log=False, log_config=log_config,
                timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) or None, **proxy_options(settings))
    return 0


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn takes the client's address from X-Forwarded-For only when a trusted proxy sent it."""
    return {"proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips}


def _chat(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import Runtime
    from bot.channels.terminal import TerminalChannel, TerminalChat

    runtime = Runtime.build(settings, kinds=["terminal"])
    assert runtime.outbox is not None
    channel = runtime.channels["terminal"]
    assert isinstance(channel, TerminalChannel)
    TerminalChat(channel, runtime.engine.handle, runtime.outbox.drain_once, chat_id=args.chat_id).run()
    return 0


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from storage.db import Database

    Database(settings.effective_database_url).upgrade()
    print("database is up to date")
    return 0


def _config(settings: Settings, args: argparse.Namespace) -> int:
    if args.table:
        print(settings_table())
        return 0
    for name, value in settings.masked().items():
        print(f"{name}={value}")
    return 0


def settings_table() -> str:
    """The README's settings table, made from the settings' own descriptions."""
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.default
        if name == "data_dir":
            default = DATA_DIR_DEFAULT
        if name == "knowledge_dir":
            default = "`BOT_DATA_DIR/knowledge` (seeded from the shipped sample)"
        rows.append(f"| `BOT_{name.upper()}` | {'' if default is None else default} | {field.description} |")
    return "\n".join(rows)


def _cli_actor() -> str:
    """Who ran a command, for the audit log."""
    return f"cli:{getpass.getuser()}"


def _staff_add(settings: Settings, args: argparse.Namespace) -> int:
    from domain import audit
    from domain.staff import add_staff

    password = (sys.stdin.readline().rstrip("\n") if args.password_stdin else args.password
                or os.environ.get("BOT_STAFF_PASSWORD") or getpass.getpass("password: "))

    def add(session: Any) -> str:
        user = add_staff(session, args.username, password, args.role, args.name)
        audit.record(session, actor=_cli_actor(), action="staff.created", subject=f"staff:{user.username}",
                     detail={"role": user.role})
        return f"staff account {user.username!r} ({user.role}) created, id {user.id}"

    done = _staff_change(settings, add)
    if done is None:
        return 2
    print(done)
    return 0


def _staff_link_telegram(settings: Settings, args: argparse.Namespace) -> int:
    """What this Telegram user writes in the staff group acts as the staff account NAME."""
    from bot.app import build_services
    from bot.channels.telegram.api import CHANNEL
    from domain.staff import StaffError, find_staff, link_platform

    services = build_services(settings, answers=False)
    try:
        with services.db.session() as session:
            user = find_staff(session, args.name)
            if user is None:
                raise StaffError(f"no staff account named {args.name!r}")
            link_platform(session, user, CHANNEL, args.telegram_user_id)
            print(f"telegram user {args.telegram_user_id} linked to staff account {user.username!r} ({user.role})")
    except StaffError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _api_token_create(settings: Settings, args: argparse.Namespace) -> int:
    from domain import audit
    from domain.staff import create_api_token

    def create(session: Any) -> str:
        token = create_api_token(session, args.name, args.role)
        audit.record(session, actor=_cli_actor(), action="api_token.created", subject=f"api_token:{args.name}",
                     detail={"role": args.role})
        return token

    token = _staff_change(settings, create)
    if token is None:
        return 2
    print(token)
    print("(shown once: store it now)", file=sys.stderr)
    return 0


def _api_token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from domain import audit
    from domain.staff import revoke_api_tokens

    def revoke(session: Any) -> list[int]:
        ids = revoke_api_tokens(session, args.name)
        audit.record(session, actor=_cli_actor(), action="api_token.revoked", subject=f"api_token:{args.name}",
                     detail={"ids": ids})
        return ids

    ids = _staff_change(settings, revoke)
    if ids is None:
        return 2
    print(f"revoked {len(ids)} token(s) named {args.name!r}")
    return 0


def _staff_change(settings: Settings, change: Callable[[Any], Any]) -> Any:
    """Apply one change to accounts or tokens (no model loads); None, and why on stderr, if refused."""
    from bot.app import build_services
    from domain.staff import StaffError

    services = build_services(settings, answers=False)
    try:
        with services.db.session() as session:
            return change(session)
    except StaffError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _telegram_set_webhook(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from telegram.error import TelegramError

    from bot.channels.telegram import set_webhook

    try:
        asyncio.run(set_webhook(settings, args.url))
    except (ValueError, TelegramError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Telegram will deliver updates to {args.url}")
    return 0


def _application_list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_services
    from bot.web.api_applications import search, summary
    from domain import applications as apps

    services = build_services(settings, answers=False)
    with services.db.session() as session:
        total, rows = search(session, args.stage, args.service, True if args.overdue else None, args.limit, 0)
        for app in rows:
            row = summary(session, services, app, reveal=False)
            late = " OVERDUE" if row["overdue"] else ""
            print(f"{app.reference}  {app.service_id:<26} {app.stage:<20} due {app.due_date or '-'}{late}")
        print(f"({len(rows)} of {total}; stages: {', '.join(apps.STAGES[1:])})", file=sys.stderr)
    return 0


def _application_show(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from bot.app import build_services
    from bot.web.api_applications import detail
    from domain import applications as apps

    services = build_services(settings, answers=False)
    with services.db.session() as session:
        app = apps.by_reference(session, args.reference)
        if app is None or app.stage == "draft":
            print(f"error: no application {args.reference}", file=sys.stderr)
            return 1
        print(json.dumps(detail(session, services, app, reveal=args.reveal), ensure_ascii=False, indent=2,
                         default=str))
    return 0


def _application_transition(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_services
    from domain import applications as apps

    services = build_services(settings, answers=False)
    actor = apps.Actor("staff", f"cli:{args.by or getpass.getuser()}")
    items = []
    for spec in args.item or []:
        material, _, note = spec.partition(":")
        items.append({"material": material, "note": note})
    try:
        with services.db.session() as session:
            app = apps.by_reference(session, args.reference, lock=True)
            if app is None or app.stage == "draft":
                print(f"error: no application {args.reference}", file=sys.stderr)
                return 1
            apps.transition(session, services, app, args.stage, actor, comment=args.comment, reason=args.reason,
                            remedy=args.remedy, follow_up=args.follow_up, items=items or None)
            print(f"{app.reference}: now {app.stage}; the customer is notified")
    except apps.DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3 if isinstance(exc, apps.IllegalTransition) else 2
    return 0


def _add_application_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    from domain.applications import STAGES

    group = sub.add_parser("application", help="applications: list, show, move to the next stage")
    cmds = group.add_subparsers(dest="application_command", required=True)
    listing = cmds.add_parser("list", help="submitted applications, nearest deadline first (ID/phone masked)")
    listing.add_argument("--stage", action="append", choices=STAGES[1:], help="repeat for several")
    listing.add_argument("--service", help="service id")
    listing.add_argument("--overdue", action="store_true", help="only overdue ones")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(func=_application_list)
    show = cmds.add_parser("show", help="one application with materials and history, as JSON")
    show.add_argument("reference")
    show.add_argument("--reveal", action="store_true", help="show ID and phone numbers unmasked")
    show.set_defaults(func=_application_show)
    move = cmds.add_parser("transition", help="move to a stage; the customer is told at once")
    move.add_argument("reference")
    move.add_argument("stage", choices=STAGES[1:])
    move.add_argument("--comment", help="shown to the customer")
    move.add_argument("--reason", help="why (required for rejected)")
    move.add_argument("--remedy", help="what the customer can do (required for rejected)")
    move.add_argument("--follow-up", help="instructions on completion (default: the service's text)")
    move.add_argument("--item", action="append", metavar="MATERIAL[:NOTE]",
                      help="for correction_requested: an item to supply or correct; repeat")
    move.add_argument("--by", help="your name for the record (default: the login name)")
    move.set_defaults(func=_application_transition)


def _webhook_add(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_services
    from domain import audit, webhooks

    services = build_services(settings, answers=False)
    events = args.events.split(",") if args.events else None
    try:
        with services.db.session() as session:
            subscription = webhooks.add_subscription(session, args.url, args.secret, events)
            audit.record(session, actor=_cli_actor(), action="webhook.subscribed", subject=f"webhook:{subscription.id}",
                         detail=webhooks.subscription_json(subscription))
            print(f"webhook {subscription.id}: {subscription.url} ({', '.join(subscription.events) or 'all events'})")
    except webhooks.WebhookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _webhook_list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_services
    from domain import webhooks

    services = build_services(settings, answers=False)
    with services.db.session() as session:
        for subscription in webhooks.subscriptions(session):
            print(f"{subscription.id}  {subscription.url}  {','.join(subscription.events) or '*'}")
        failed = webhooks.deliveries(session, "failed", limit=args.failed)
        for delivery in failed if args.failed else ():
            print(f"failed delivery {delivery.id} (webhook {delivery.subscription_id}, {delivery.event_type}, "
                  f"{delivery.subject}): {delivery.last_error}")
    return 0


def _webhook_change(settings: Settings, change: Callable[[Any], None], done: str) -> int:
    """Apply one change to the webhook tables (no model loads); a refused change says why."""
    from bot.app import build_services
    from domain import webhooks

    services = build_services(settings, answers=False)
    try:
        with services.db.session() as session:
            change(session)
    except webhooks.WebhookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(done)
    return 0


def _webhook_remove(settings: Settings, args: argparse.Namespace) -> int:
    from domain import audit, webhooks

    def remove(session: Any) -> None:
        webhooks.remove_subscription(session, args.id)
        audit.record(session, actor=_cli_actor(), action="webhook.removed", subject=f"webhook:{args.id}")

    return _webhook_change(settings, remove, f"webhook {args.id} removed")


def _webhook_replay(settings: Settings, args: argparse.Namespace) -> int:
    from domain import webhooks

    return _webhook_change(settings, lambda session: webhooks.replay(session, args.delivery_id),
                           f"delivery {args.delivery_id} queued again (sent by the running server's webhook sender)")


def _add_webhook_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("webhook", help="outgoing webhooks: signed event deliveries to other systems")
    cmds = group.add_subparsers(dest="webhook_command", required=True)
    add = cmds.add_parser("add", help="subscribe a URL to events (default: all)")
    add.add_argument("url")
    add.add_argument("--secret", required=True, help="shared secret the receiver checks X-Desk-Signature with")
    add.add_argument("--events", help="comma-separated event types, e.g. application.stage_changed,complaint.resolved")
    add.set_defaults(func=_webhook_add)
    listing = cmds.add_parser("list", help="the subscriptions (and, with --failed N, the newest failed deliveries)")
    listing.add_argument("--failed", type=int, default=0, metavar="N")
    listing.set_defaults(func=_webhook_list)
    remove = cmds.add_parser("remove", help="delete a subscription and its undelivered events")
    remove.add_argument("id", type=int)
    remove.set_defaults(func=_webhook_remove)
    replay = cmds.add_parser("replay", help="send a (failed) delivery again")
    replay.add_argument("delivery_id", type=int)
    replay.set_defaults(func=_webhook_replay)


def _customer_export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_services
    from bot.web.api_customers import archive_name
    from domain import privacy

    services = build_services(settings, answers=False)
    try:
        with services.db.session() as session:
            content = privacy.export_identity(session, services, services.attachments, args.identity,
                                              f"cli:{getpass.getuser()}", args.reason)
    except privacy.UnknownCustomer as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.to.mkdir(parents=True, exist_ok=True)
    target = args.to / archive_name(args.identity)
    target.write_bytes(content)
    print(f"wrote {target}")
    return 0


def kept_summary(kept: list[dict[str, Any]]) -> list[str]:
    """The cases an erasure kept, one line each, for the operator."""
    return [f"kept {case['kind']} {case['reference']} ({case['stage']}) "
            f"{'until ' + case['kept_until'] if case['kept_until'] else 'for good'}: its records must be kept "
            f"(BOT_RETENTION_KEEP_STAGES, BOT_RETENTION_KEEP_DAYS)" for case in kept]


def _customer_erase(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_services
    from domain import erasure, privacy

    services = build_services(settings, answers=False)
    try:
        with services.db.session() as session:
            done = erasure.erase_identity(session, services, services.attachments, args.identity,
                                          f"cli:{getpass.getuser()}", args.reason).to_json()
    except (privacy.UnknownCustomer, erasure.ErasureError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"erased {args.identity} (erasure {done['erasure_id']}): {len(done['identities'])} identities, "
          f"{done['files_deleted']} files deleted; now written {', '.join(done['identities'])}")
    for line in kept_summary(done["kept"]) or ["nothing kept"]:
        print(line)
    print("the customer is told in their last chat" if done["customer_told"] else "no chat to tell the customer in")
    return 0


def _add_customer_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("customer", help="a person's data: export and erasure (PIPL / GDPR)")
    cmds = group.add_subparsers(dest="customer_command", required=True)
    export = cmds.add_parser("export", help="one ZIP (data.json and files) of everything held about the person")
    export.add_argument("identity", help="CHANNEL:EXTERNAL_ID, e.g. web:SESSION_ID or telegram:USER_ID")
    export.add_argument("--to", type=Path, required=True, help="folder for the archive")
    export.add_argument("--reason", help="why (recorded with the export)")
    export.set_defaults(func=_customer_export)
    erase = cmds.add_parser("erase", help="delete or anonymise everything held about the person but the cases "
                                          "whose records must be kept; the customer is told")
    erase.add_argument("identity", help="CHANNEL:EXTERNAL_ID, e.g. web:SESSION_ID or telegram:USER_ID")
    erase.add_argument("--reason", required=True, help="why (recorded with the erasure)")
    erase.set_defaults(func=_customer_erase)


def build_parser() -> argparse.ArgumentParser:
    from domain.staff import ROLES

    parser = argparse.ArgumentParser(prog="python -m bot", description="Service desk chatbot.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server, channels and background workers")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="worker processes (default: one per core), on SQLite too")
    serve.set_defaults(func=_serve)

    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--chat-id", help="continue the conversation with this id")
    chat.set_defaults(func=_chat)

    db = sub.add_parser("db", help="database tasks").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply all migrations").set_defaults(func=_db_upgrade)

    config = sub.add_parser("config", help="print the effective settings, secrets masked")
    config.add_argument("--table", action="store_true", help="print every setting as the README's Markdown table")
    config.set_defaults(func=_config)

    staff = sub.add_parser("staff", help="staff accounts").add_subparsers(dest="staff_command", required=True)
    add = staff.add_parser("add", help="create a staff account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--name", help="display name")
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--password", help="default: BOT_STAFF_PASSWORD or a prompt")
    secret.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.set_defaults(func=_staff_add)
    link = staff.add_parser("link-telegram", help="let a Telegram user act as a staff account in the staff group")
    link.add_argument("name", help="the account's username (or display name)")
    link.add_argument("telegram_user_id", help="the numeric Telegram user id")
    link.set_defaults(func=_staff_link_telegram)

    tokens = sub.add_parser("api-token", help="REST API tokens").add_subparsers(dest="token_command", required=True)
    create = tokens.add_parser("create", help="create a token and print it once")
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=ROLES)
    create.set_defaults(func=_api_token_create)
    revoke = tokens.add_parser("revoke", help="revoke every live token of that name (it answers 401 at once)")
    revoke.add_argument("name")
    revoke.set_defaults(func=_api_token_revoke)

    telegram = sub.add_parser("telegram", help="Telegram tasks").add_subparsers(dest="telegram_command", required=True)
    hook = telegram.add_parser("set-webhook", help="register URL (ending in /telegram/webhook) with Telegram")
    hook.add_argument("url")
    hook.set_defaults(func=_telegram_set_webhook)
    _add_application_commands(sub)
    _add_webhook_commands(sub)
    _add_customer_commands(sub)

    from knowledge.cli import register as register_kb

    register_kb(sub, extra_checks=[_check_services], read_labels=_desk_labels)
    return parser


def _desk_labels(settings: Settings) -> list:
    """``kb learn``'s labels: what the desk's traffic said about the answers (domain/labels.py)."""
    from domain.labels import desk_labels
    from storage.db import Database

    db = Database(settings.effective_database_url)
    db.upgrade()
    try:
        with db.session() as session:
            return desk_labels(session)
    finally:
        db.dispose()


def _check_services(kb: Path, settings: Settings) -> list:
    """``kb check`` also validates the service files in ``<kb>/services``."""
    from domain.catalogue import validate_services

    services_dir = kb / "services"
    if not services_dir.is_dir():
        return []
    return validate_services(services_dir, settings.max_upload_bytes / (1024 * 1024))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.log_format)
    return int(args.func(settings, args) or 0)
