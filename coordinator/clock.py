"""The one clock: :func:`now` is the current instant (UTC, aware) for every decision that depends
on time (is a reminder due, has a lease expired, is a session in the past).

By default it is the real clock. The demo and tests make it settable, shared between processes:
when ``COORDINATOR_CLOCK_FILE`` names a file, that file holds an instant and the real time at
which it was set, and :func:`now` is that instant plus the real time elapsed since (the clock
keeps running from where it was set; nothing sleeps). Without the variable, or while the file
does not exist, the clock is the real one; production never sets it.

    clock.set_now(datetime(2023, 9, 14, 9, 0, tzinfo=UTC))   # jump (forwards or backwards)
    clock.now()                                                # 2023-09-14 09:00:00.01+00:00
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ENV = "COORDINATOR_CLOCK_FILE"

_cache: tuple[tuple, tuple[datetime, float]] | None = None


def clock_file() -> Path | None:
    value = os.environ.get(ENV)
    return Path(value) if value else None


def _read(path: Path) -> tuple[datetime, float] | None:
    global _cache
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    # set_now() replaces the file, so a new inode or mtime means a new setting.
    key = (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
    if _cache is not None and _cache[0] == key:
        return _cache[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        value = (datetime.fromisoformat(data["now"]).astimezone(UTC), float(data["set_at"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(f"{ENV}: {path} is not a clock file: {exc}") from None
    _cache = (key, value)
    return value


def now() -> datetime:
    """The current instant, timezone-aware in UTC (the settable clock when one is set)."""
    path = clock_file()
    if path is not None:
        stored = _read(path)
        if stored is not None:
            instant, set_at = stored
            return instant + timedelta(seconds=max(0.0, time.time() - set_at))
    return datetime.now(UTC)


def is_settable() -> bool:
    return clock_file() is not None


def set_now(instant: datetime) -> None:
    """Set the shared clock to ``instant`` (it runs on from there); needs the variable."""
    path = clock_file()
    if path is None:
        raise RuntimeError(f"the clock is the real one: set {ENV} to make it settable")
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: give a UTC instant")
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"now": instant.astimezone(UTC).isoformat(), "set_at": time.time()}
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temporary, path)  # atomic: readers see the old or the new clock, never half


def advance(delta: timedelta) -> datetime:
    """Move the shared clock forward by ``delta``; returns the new instant."""
    target = now() + delta
    set_now(target)
    return target


def reset() -> None:
    """Back to the real clock (removes the clock file, if any)."""
    path = clock_file()
    if path is not None:
        path.unlink(missing_ok=True)
