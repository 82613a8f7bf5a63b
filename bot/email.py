"""Sending a queued email notice over SMTP (job kind ``notify.email``, retried by the job runner)."""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from sqlalchemy.orm import Session

from handlers.services import Services
from storage.models import Job

log = logging.getLogger(__name__)


def send_email_job(session: Session, job: Job, services: Services) -> None:
    """Job function: send one queued email (retried by the job runner on failure)."""
    settings = services.settings
    if not settings.smtp_host:
        raise RuntimeError("BOT_SMTP_HOST is not set")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = job.payload["to"]
    message["Subject"] = job.payload["subject"]
    message.set_content(job.payload["body"])
    session.commit()  # hold no database lock while talking to the mail server
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls and smtp.has_extn("starttls"):
            smtp.starttls()
        if settings.smtp_username and settings.smtp_password:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)
    log.info("email notification sent (job %s)", job.id)
