"""Pure scheduling: the comfort model and the slot finder (no database, no I/O, no Celery)."""

from coordinator.scheduling.comfort import DEFAULT_MODEL, Band, ComfortModel, LocalComfort
from coordinator.scheduling.slots import (
    Candidate,
    CityTime,
    Participant,
    SlotSearch,
    find_slots,
    rank_naive,
)

__all__ = [
    "DEFAULT_MODEL",
    "Band",
    "Candidate",
    "CityTime",
    "ComfortModel",
    "LocalComfort",
    "Participant",
    "SlotSearch",
    "find_slots",
    "rank_naive",
]
