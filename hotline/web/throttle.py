"""A brake on password guessing. Rule: after `limit` failures within `window` for one name
or one address, sign-in for it is refused until the oldest failure leaves the window, and
every failure costs `delay` seconds."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class LoginThrottle:
    limit: int = 5
    window: timedelta = timedelta(minutes=10)
    delay: float = 0.5
    _failures: dict[str, deque[datetime]] = field(default_factory=dict)

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        seen = self._failures.setdefault(key, deque())
        while seen and now - seen[0] >= self.window:
            seen.popleft()
        if not seen:
            del self._failures[key]
            return deque()
        return seen

    def wait_for(self, keys: tuple[str, ...], now: datetime) -> timedelta | None:
        """How long sign-in stays refused for any of `keys`, or None when it is allowed."""
        waits = [
            self.window - (now - seen[0])
            for key in keys
            if len(seen := self._recent(key, now)) >= self.limit
        ]
        return max(waits) if waits else None

    def failed(self, keys: tuple[str, ...], now: datetime) -> None:
        for key in keys:
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, name_key: str) -> None:
        self._failures.pop(name_key, None)
