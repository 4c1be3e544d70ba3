"""SQLAlchemy models, one module per aggregate. Import them all here so that the metadata
is complete for Alembic and for tests."""

from coordinator.models.access import ApiKey, FeedToken
from coordinator.models.attendance import Attendance
from coordinator.models.materials import SessionPack, Submission, UploadToken
from coordinator.models.network import City, Delegate, GroupMembership, Network, WorkingGroup
from coordinator.models.outbox import OutboxMessage
from coordinator.models.session import Presentation, Session

__all__ = [
    "ApiKey",
    "Attendance",
    "City",
    "Delegate",
    "FeedToken",
    "GroupMembership",
    "Network",
    "OutboxMessage",
    "Presentation",
    "Session",
    "SessionPack",
    "Submission",
    "UploadToken",
    "WorkingGroup",
]
