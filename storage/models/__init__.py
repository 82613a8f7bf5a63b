"""All models; importing this module registers every table on ``Base.metadata``."""
from .applications import Application, ApplicationExtension, ApplicationItem, ApplicationTransition, FileAccess
from .audit import AuditEntry
from .base import Base, JSONType, UTCDateTime, utcnow
from .core import ApiToken, Attachment, Conversation, Customer, InboxItem, Job, KeyValue, Message, OutboxItem, StaffUser
from .feedback import Complaint, ComplaintEvent, Rating
from .handoff import CannedReply, HandoffEvent, HandoffNote, HandoffSession
from .knowledge import KnowledgeQuestion
from .labels import KnowledgeLabel
from .privacy import CustomerDataRequest, ErasureRequest
from .security import LimitCounter
from .staff_room import StaffLink, StaffTopic
from .webhooks import WebhookDelivery, WebhookSubscription

__all__ = [
    "ApiToken",
    "Application",
    "ApplicationExtension",
    "ApplicationItem",
    "ApplicationTransition",
    "Attachment",
    "AuditEntry",
    "Base",
    "CannedReply",
    "Complaint",
    "ComplaintEvent",
    "Conversation",
    "Customer",
    "CustomerDataRequest",
    "ErasureRequest",
    "FileAccess",
    "HandoffEvent",
    "HandoffNote",
    "HandoffSession",
    "InboxItem",
    "JSONType",
    "Job",
    "KeyValue",
    "KnowledgeLabel",
    "KnowledgeQuestion",
    "LimitCounter",
    "Message",
    "OutboxItem",
    "Rating",
    "StaffLink",
    "StaffTopic",
    "StaffUser",
    "UTCDateTime",
    "WebhookDelivery",
    "WebhookSubscription",
    "utcnow",
]
