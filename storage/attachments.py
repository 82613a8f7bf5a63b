"""Customer files, stored once by content hash under BOT_DATA_DIR, checked by content, not name."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import filetype
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from storage.models import Attachment, Conversation

#: MIME types a customer may send, as detected from the bytes.
ALLOWED_MIME = {
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/bmp", "image/tiff",
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/msword", "application/vnd.ms-excel",
    "audio/amr", "audio/mpeg", "audio/ogg", "audio/x-wav", "video/mp4",
    "video/webm",  # a browser's voice recording (MediaRecorder: WebM/Opus)
    "text/plain",
}


class AttachmentRejected(Exception):
    """A file that was not stored; ``reason`` is ``too_large``, ``bad_type`` or ``empty``."""

    def __init__(self, reason: str, name: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.reason = reason
        self.name = name


def sniff_mime(data: bytes) -> str | None:
    """The type the bytes say they are; plain UTF-8 text counts as text/plain."""
    kind = filetype.guess(data[:8192])
    if kind is not None:
        return kind.mime
    try:
        data[:65536].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text/plain" if b"\x00" not in data[:65536] else None


class AttachmentStore:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def save(
        self, session: Session, data: bytes, name: str | None, conversation: Conversation | None = None
    ) -> Attachment:
        """Check and store the bytes, and record them; raises ``AttachmentRejected``."""
        shown = name or "file"
        if not data:
            raise AttachmentRejected("empty", shown)
        if len(data) > self.max_bytes:
            raise AttachmentRejected("too_large", shown)
        mime = sniff_mime(data)
        if mime not in ALLOWED_MIME:
            raise AttachmentRejected("bad_type", shown)
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.path_for(sha256)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        record = Attachment(
            sha256=sha256,
            size=len(data),
            mime=mime,
            original_name=(name or "")[:255] or None,
            customer_id=conversation.customer_id if conversation else None,
            conversation_id=conversation.id if conversation else None,
        )
        session.add(record)
        session.flush()
        return record

    def read(self, attachment: Attachment) -> bytes:
        return self.path_for(attachment.sha256).read_bytes()

    def remove(self, session: Session, attachments: list[Attachment]) -> int:
        """Delete these records; once the transaction commits, their bytes go too, unless another
        record still holds the same content. Returns how many files will be deleted."""
        hashes = {a.sha256 for a in attachments}
        for attachment in attachments:
            session.delete(attachment)
        session.flush()
        still_held = set(session.scalars(select(Attachment.sha256).where(Attachment.sha256.in_(hashes))))
        doomed = [self.path_for(sha256) for sha256 in sorted(hashes - still_held)]

        def unlink(_: Session) -> None:
            for path in doomed:
                path.unlink(missing_ok=True)

        if doomed:
            event.listen(session, "after_commit", unlink, once=True)
        return len(doomed)
