"""The staff room: agents answer from a group of their own (a Telegram staff group with forum
topics) as well as from the console, on the same conversations at the same time.

Each customer handed to staff has a thread there (``domain.handoff.topics``), reused when they
come back. This module writes what the room shows (the header of a handoff, the customer's
messages, the other side's replies, who took or closed it) as outbox rows of the room's channel,
never calling a platform, and handles what a linked staff member writes in a thread:

- text or files: take the conversation (the console's atomic claim; one winner) and send them;
- ``/close``: hand back to the bot, which asks for the rating; ``/transfer NAME``; ``/note TEXT``
  (internal, never sent); ``/canned KEY`` (the console's canned reply with that title);
- ``/link CODE`` (in the room or a private chat): link the sender to the console's account.

Anyone else writing in the room is ignored with one log line. Rows for a thread are addressed
``topic:<StaffTopic id>`` (the channel creates, reopens or closes the platform's thread as the
row's ``topic.op`` says); an answer to one staff member goes to ``StaffIncoming.reply_to``.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import applications, complaints, handoff
from domain.customers import known_name
from domain.staff import find_staff, has_role, linked_staff, redeem_link_code
from handlers.i18n import t
from handlers.messages import StaffIncoming
from handlers.services import Services, StaffRoom
from storage.attachments import AttachmentRejected
from storage.models import Attachment, Conversation, HandoffSession, Message, StaffTopic, StaffUser
from storage.outbox import SENDER, enqueue_to

log = logging.getLogger(__name__)

#: Transcript lines the header of a handoff shows.
LAST_TURNS = 6
#: Characters of one transcript line in the header.
TURN_CHARS = 200


def topic_address(topic: StaffTopic) -> str:
    return f"topic:{topic.id}"


def _lang(services: Services) -> str:
    return services.settings.default_language


def post(session: Session, room: StaffRoom, topic: StaffTopic, text: str = "",
         files: Sequence[Attachment] = (), sender: str = "bot") -> None:
    """Queue one post for the customer's thread (the channel creates the thread before its first)."""
    message = handoff.StaffMessage(text, tuple(files)).to_dict()  # words and stored files, in the outbox's form
    payload = {**message, SENDER: sender, "topic": {"op": "post"}}
    enqueue_to(session, room.channel, topic_address(topic), payload, topic.conversation_id)


def change(session: Session, room: StaffRoom, topic: StaffTopic, op: str, name: str | None = None) -> None:
    """Queue a change of the thread itself, in order with its posts: ``op`` "open" (reopen, and
    rename to ``name`` if given) or "close"."""
    payload = {"text": "", "buttons": [], "files": [], SENDER: "bot", "topic": {"op": op, "name": name}}
    enqueue_to(session, room.channel, topic_address(topic), payload, topic.conversation_id)


def answer(session: Session, room: StaffRoom, address: str, text: str) -> None:
    """Tell one staff member something where they wrote (a thread, or their private chat)."""
    enqueue_to(session, room.channel, address, {"text": text, "buttons": [], "files": [], SENDER: "bot"})


# -- what the room shows -------------------------------------------------------------------------

def topic_title(session: Session, conversation: Conversation, lang: str) -> str:
    """The customer's name, channel and reference (their newest open application, else their number)."""
    customer = conversation.customer
    open_refs = [a.reference for a in applications.customer_applications(session, customer)
                 if a.stage in applications.OPEN_STAGES and a.reference]
    reference = open_refs[0] if open_refs else f"#{customer.id}"
    name = known_name(session, customer) or t("staff_room.no_name", lang)
    return t("staff_room.title", lang, name=name, channel=conversation.channel, reference=reference)[:128]


def _turns(session: Session, conversation_id: int, lang: str) -> list[str]:
    rows = session.scalars(select(Message).where(Message.conversation_id == conversation_id)
                           .order_by(Message.id.desc()).limit(LAST_TURNS))
    lines = []
    for m in reversed(list(rows)):
        text = (m.text or m.button or t("staff_room.file", lang)).replace("\n", " ")
        lines.append(t(f"staff_room.turn.{m.sender}", lang, text=text[:TURN_CHARS]))
    return lines


def header(session: Session, conversation: Conversation, handoff_row: HandoffSession, lang: str) -> str:
    """What staff read first in the thread: why, the question, the last turns, the open cases."""
    customer = conversation.customer
    parts = [t("staff_room.header", lang, reason=t("console.handoff.reason." + handoff_row.reason, lang),
               question=handoff_row.question or "-")]
    parts += [t("staff_room.header_turns", lang)] + _turns(session, conversation.id, lang)
    apps = [a for a in applications.customer_applications(session, customer) if a.stage in applications.OPEN_STAGES]
    parts += [t("staff_room.header_application", lang, reference=a.reference,
                service=a.service_name.get(lang) or a.service_id, stage=t("application.stage." + a.stage, lang))
              for a in apps[:10]]
    parts += [t("staff_room.header_complaint", lang, ticket=c.ticket,
                category=t("complaint.category." + c.category, lang),
                status=t("complaint.console.status." + c.status, lang))
              for c in complaints.customer_complaints(session, customer) if c.status in complaints.OPEN_STATUSES]
    parts.append(t("staff_room.header_help", lang))
    return "\n".join(parts)


def open_topic(session: Session, services: Services, room: StaffRoom, conversation: Conversation,
               handoff_row: HandoffSession) -> StaffTopic:
    """The customer's thread for this handoff: created, or reopened (and renamed if the name
    changed), with the header posted at its top."""
    lang = _lang(services)
    title = topic_title(session, conversation, lang)
    topic, new = handoff.topic_for(session, room.room, conversation, title)
    if not new:
        renamed, topic.title = topic.title != title, title
        change(session, room, topic, "open", title if renamed else None)
    topic.closed = False
    post(session, room, topic, header(session, conversation, handoff_row, lang))
    return topic


def topic_of_conversation(session: Session, services: Services, conversation: Conversation) -> StaffTopic | None:
    """The conversation's thread while a handoff is open (made now if the room came after the handoff)."""
    room = services.staff_room
    if room is None:
        return None
    current = handoff.open_handoff(session, conversation.id)
    if current is None:
        return None
    topic = handoff.topic_of(session, room.room, conversation.customer_id)
    if topic is None or topic.closed or topic.conversation_id != conversation.id:
        topic = open_topic(session, services, room, conversation, current)
    return topic


def relay_customer(session: Session, services: Services, conversation: Conversation, text: str,
                   files: Sequence[Attachment]) -> None:
    """A message of the customer in human mode appears in their thread as it comes."""
    topic = topic_of_conversation(session, services, conversation)
    if topic is not None and services.staff_room is not None and (text or files):
        post(session, services.staff_room, topic, t("staff_room.customer_says", _lang(services), text=text)
             if text else "", files, sender="customer")


# -- what staff write in the room ----------------------------------------------------------------

def staff_wrote(session: Session, services: Services, incoming: StaffIncoming) -> None:
    """A message in the staff room or a ``/link`` in a private chat (the engine's transaction)."""
    room = services.staff_room
    if room is None:
        return
    command, _, rest = incoming.text.strip().partition(" ")
    command = command.split("@", 1)[0].lower()
    if command == "/link":
        _link(session, services, room, incoming, rest.strip())
        return
    staff = linked_staff(session, room.platform, incoming.user_id)
    if staff is None:
        log.info("staff room: %s user %s is not linked to a staff account; message ignored",
                 room.platform, incoming.user_id)
        return
    topic = handoff.topic_by_thread(session, room.room, incoming.thread) if incoming.thread else None
    if incoming.room is None or topic is None:
        return  # the room's general thread, or a private chat: nothing to act on
    lang = _lang(services)
    if not has_role(staff.role, "agent"):
        answer(session, room, incoming.reply_to, t("console.handoff.error.not_agent", lang))
        return
    try:
        _act(session, services, topic, staff, incoming, command, rest.strip())
    except handoff.HandoffError as exc:
        answer(session, room, incoming.reply_to, t(f"console.handoff.error.{exc.code}", lang))


def _link(session: Session, services: Services, room: StaffRoom, incoming: StaffIncoming, code: str) -> None:
    staff = redeem_link_code(session, code, room.platform, incoming.user_id) if code else None
    lang = _lang(services)
    if staff is None:
        log.info("staff room: %s user %s sent a wrong or used link code", room.platform, incoming.user_id)
        answer(session, room, incoming.reply_to, t("staff_room.link_bad", lang))
        return
    log.info("staff room: %s user %s linked to staff=%s", room.platform, incoming.user_id, staff.id)
    answer(session, room, incoming.reply_to, t("staff_room.linked", lang, name=staff.display_name))


def _act(session: Session, services: Services, topic: StaffTopic, staff: StaffUser, incoming: StaffIncoming,
         command: str, rest: str) -> None:
    current = handoff.open_handoff(session, topic.conversation_id)
    if current is None:
        raise handoff.HandoffError("closed")
    commands: dict[str, Callable[[], object]] = {
        "/note": lambda: handoff.add_note(session, topic.conversation_id, staff, rest),
        "/close": lambda: handoff.hand_back(session, services, _taken(session, services, current, staff), staff),
        "/transfer": lambda: _transfer(session, services, current, staff, rest),
        "/canned": lambda: _send(session, services, current, staff, _canned(session, topic, rest), ()),
    }
    if command in commands:
        commands[command]()
        return
    conversation = session.get(Conversation, topic.conversation_id)
    assert conversation is not None
    files = _store_files(session, services, conversation, incoming)
    if incoming.text.strip() or files:
        _send(session, services, current, staff, incoming.text, files)


def _taken(session: Session, services: Services, current: HandoffSession, staff: StaffUser) -> int:
    """Writing in the thread takes a waiting conversation (the console's claim: one winner)."""
    if current.status == "waiting":
        handoff.claim(session, services, current.id, staff)
    return current.id


def _send(session: Session, services: Services, current: HandoffSession, staff: StaffUser, text: str,
          files: Sequence[Attachment]) -> None:
    room = services.staff_room
    assert room is not None
    handoff.reply(session, services, _taken(session, services, current, staff), staff, text, tuple(files),
                  via=room.channel)


def _transfer(session: Session, services: Services, current: HandoffSession, staff: StaffUser, name: str) -> None:
    target = find_staff(session, name)
    if target is None:
        raise handoff.HandoffError("bad_target")
    handoff.transfer(session, services, _taken(session, services, current, staff), staff, target.id)


def _canned(session: Session, topic: StaffTopic, key: str) -> str:
    """The canned reply titled ``key`` (any case) in the customer's language."""
    conversation = session.get(Conversation, topic.conversation_id)
    wanted = key.strip().casefold()
    for row in handoff.canned_replies(session, conversation.language if conversation else None):
        if row.title.casefold() == wanted:
            return row.text
    raise handoff.HandoffError("no_canned")


def _store_files(session: Session, services: Services, conversation: Conversation,
                 incoming: StaffIncoming) -> list[Attachment]:
    """The staff member's files, kept in the attachments store like the customer's; a refused
    one is named in the thread and the rest go on."""
    stored = []
    for file in incoming.files:
        try:
            if file.declared_size is not None and file.declared_size > services.attachments.max_bytes:
                raise AttachmentRejected("too_large", file.name or "file")
            stored.append(services.attachments.save(session, file.data, file.name, conversation))
        except AttachmentRejected as exc:
            if services.staff_room is not None:
                answer(session, services.staff_room, incoming.reply_to,
                       t("staff_room.file_refused", _lang(services), name=exc.name))
    return stored
