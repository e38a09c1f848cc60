"""Per-source health: alarm after K bad polls in a row, one recovery message, backoff on failure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .config import SourceConfig
from .pipeline import PollResult

BACKOFF_MAX = 30 * 60.0  # a failing source is polled at least this often


@dataclass(slots=True)
class _State:
    streak: int = 0  # bad polls in a row: failed, or no items
    failures: int = 0  # failed polls in a row, for backoff
    alarmed: bool = False
    skip_until: float = 0.0


class Health:
    """Watches poll results; says when to alarm the operator and when a source may be polled."""

    def __init__(self, sources: Sequence[SourceConfig]) -> None:
        self.configs = {s.name: s for s in sources}
        self.states = {s.name: _State() for s in sources}

    def due(self, source: str, now: float) -> bool:
        """Whether a source may be polled now (a failing one backs off)."""
        return now >= self.states[source].skip_until

    def observe(self, result: PollResult, now: float) -> str | None:
        """Record a poll; return the message for the admin channel, if one is due."""
        cfg, state = self.configs[result.source], self.states[result.source]
        bad = result.error is not None or (result.found == 0 and not result.unchanged)
        if not bad:
            recovered = state.alarmed
            self.states[result.source] = _State()
            if recovered:
                return f"✅ {cfg.name} recovered: {result.found} items on its ticker again ({cfg.url})"
            return None
        state.streak += 1
        if result.error is not None:
            state.failures += 1
            # Poll again after interval · 2^(failures-1), at most BACKOFF_MAX; one success resets it.
            delay = min(BACKOFF_MAX, cfg.interval * 2 ** (state.failures - 1))
            state.skip_until = now + delay - cfg.interval * 0.5
        if state.streak >= cfg.alarm_after and not state.alarmed:
            state.alarmed = True
            reason = result.error or "the page yields no items"
            return f"⚠️ {cfg.name}: {state.streak} bad polls in a row: {reason} ({cfg.url})"
        return None
