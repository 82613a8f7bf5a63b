"""All models; importing this module registers every table on ``Base.metadata``."""
from .applications import Application, ApplicationExtension, ApplicationItem, ApplicationTransition, FileAccess
from .audit import AuditEntry
from .base import Base, JSONType, UTCDateTime, utcnow
from .core import ApiToken, Attachment, Conversation, Customer, InboxItem, Job, KeyValue, Message, OutboxItem, StaffUser
from .feedback import Complaint, ComplaintEvent, Rating
from .handoff import CannedReply, HandoffEvent, HandoffNote, HandoffSession
from .knowledge import KnowledgeQuestion
from .privacy import CustomerDataRequest
from .security import LimitCounter
from .webhooks import WebhookDelivery, WebhookSubscription

__all__ = [
    "Application", "ApplicationExtension", "AuditEntry", "ApplicationItem", "ApplicationTransition", "FileAccess",
    "ApiToken", "Attachment", "Base", "Conversation", "Customer", "InboxItem", "JSONType", "Job",
    "KeyValue", "KnowledgeQuestion", "Message", "OutboxItem", "StaffUser", "UTCDateTime", "utcnow",
    "Complaint", "ComplaintEvent", "Rating",
    "CannedReply", "HandoffEvent", "HandoffNote", "HandoffSession",
    "LimitCounter", "WebhookDelivery", "WebhookSubscription", "CustomerDataRequest",
]
