"""Per-source health: alarm after K bad polls in a row, one recovery message, backoff on failure.

The state of each source (SourceHealth) is loaded from the state store and written back with each
poll, so `monitor --once` from cron counts bad runs across processes, and a restart neither sends an
open alarm again nor forgets it, nor forgets a failing source's backoff.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from .config_types import AnySource
from .models import PollResult, SourceHealth

BACKOFF_MAX = 30 * 60.0  # a failing source is polled at least this often
PACE_WINDOW = 600.0  # seconds: a new line counts towards a ticker's pace for about this long


class Health:
    """Watches poll results; says when to alarm the operator and when a source may be polled."""

    def __init__(self, sources: Sequence[AnySource], saved: Mapping[str, SourceHealth] | None = None) -> None:
        """Watch sources, starting from their saved states (a source not in saved starts healthy)."""
        saved = saved or {}
        self.configs = {s.name: s for s in sources}
        self.states = {s.name: saved.get(s.name) or SourceHealth() for s in sources}

    def next_due(self, source: str) -> float:
        """When a source may next be polled (0 when it may be polled at once)."""
        return self.states[source].skip_until

    def alarmed(self, source: str) -> bool:
        """Whether an alarm about the source is open."""
        return self.states[source].alarmed

    def snapshot(self, source: str) -> SourceHealth:
        """A copy of what is known of a source's health, to keep in the store."""
        return replace(self.states[source])

    def failing(self) -> int:
        """How many sources had a bad poll last."""
        return sum(1 for s in self.states.values() if s.streak)

    def due(self, source: str, now: float) -> bool:
        """Whether a source may be polled now (a failing one backs off)."""
        return now >= self.states[source].skip_until

    def observe(self, result: PollResult, now: float, max_age: float | None = None) -> str | None:
        """Record a poll; return the message for the admin channel, if one is due."""
        cfg, state = self.configs[result.source], self.states[result.source]
        empty = result.found == 0 and not result.unchanged and not cfg.empty_ok
        bad = result.error is not None or empty
        if not bad:
            recovered = state.alarmed
            self.states[result.source] = SourceHealth()
            if cfg.interval_max is not None:
                self._adapt(cfg, state, self.states[result.source], result, now, max_age)
            if recovered:
                if result.unchanged:  # a 304: the site answers again, and its page is as it was
                    return f"✅ {cfg.name} recovered: the site answers again ({cfg.url})"
                items = f"{result.found} item{'' if result.found == 1 else 's'}"
                return f"✅ {cfg.name} recovered: {items} on its ticker again ({cfg.url})"
            return None
        state.streak += 1
        if result.error is not None and not result.state_fault:  # the site failed: poll it less often
            state.failures += 1
            # Poll again after interval · 2^(failures-1), at most BACKOFF_MAX; one success resets it.
            delay = min(BACKOFF_MAX, cfg.interval * 2 ** (state.failures - 1))
            state.skip_until = now + delay - cfg.interval * 0.5
        if state.streak >= cfg.alarm_after and not state.alarmed:
            state.alarmed = True
            reason = result.error or "the page yields no items"
            return f"⚠️ {cfg.name}: {state.streak} bad polls in a row: {reason} ({cfg.url})"
        return None

    @staticmethod
    def _adapt(
        cfg: AnySource, old: SourceHealth, new: SourceHealth, result: PollResult, now: float, max_age: float | None
    ) -> None:
        """Adaptive polling: polls go where new lines are likely.

        The pace of a ticker is its new lines per second, decayed over PACE_WINDOW. For a given number
        of requests, the mean delay of a line is least when each wait is proportional to
        1/√pace; the wait is √(interval / pace), within [interval, interval_max]. A quiet ticker
        is polled every interval_max, and never more often than a Cache-Control max-age the site
        gave allows (still at most interval_max). The scheduler runs the job every `interval`;
        skip_until makes it a no-op until the wait is over.
        """
        assert cfg.interval_max is not None
        pace = old.pace * math.exp(-(now - old.paced_at) / PACE_WINDOW) if old.paced_at else 0.0
        if result.new > 0 and not result.baseline:
            pace += result.new / PACE_WINDOW
        delay = math.sqrt(cfg.interval / pace) if pace > 0 else cfg.interval_max
        delay = min(cfg.interval_max, max(cfg.interval, delay))
        if max_age:
            delay = min(cfg.interval_max, max(delay, max_age))
        new.pace, new.paced_at = pace, now
        new.skip_until = now + delay - cfg.interval * 0.5
