"""News: a Poisson process of headlines from a published table (SPEC section 6).

How it works: events arrive as a Poisson process, exponential gaps of mean
`mean_interval_seconds` (2.5 hours of game time; the SPEC allows 1-4). Each event draws
a headline, then its kind from that headline's own row of the published table:
a regime shifter with the row's `regime_shift` probability, a price jump with its `jump`
probability, no effect otherwise.

Coherence with the SPEC's kind shares (40% regime, 30% jump, 30% none): headlines are
not drawn uniformly but with weights chosen so that the shares the table implies,
sum_h w_h p_shift(h) and sum_h w_h p_jump(h), are exactly the configured ones. Of all
such weights we take the maximum-entropy ones (closest to uniform: w_h proportional to
exp(a p_shift(h) + b p_jump(h)), solved by Newton's method on the convex dual), so every
headline keeps appearing and the table's per-headline probabilities hold exactly, as the
players read them. A table that cannot reach the configured shares is a config error.

Effects (hidden: everyone sees the headline, nobody the outcome): each row has a `tone`,
the probability that the news is good for the market. A regime shifter moves the regime
one step down (calmer) with probability `tone`, else one step up; a jump is 0.5-2% in
size (uniform), upwards with probability `tone`.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec
import numpy as np
from numpy.typing import NDArray

from exchange.domain.market.gbm import draw_jump
from exchange.domain.types import NS_PER_SECOND


class NewsKind(StrEnum):
    REGIME_SHIFT = "regime_shift"
    PRICE_JUMP = "price_jump"
    NONE = "none"


class Headline(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    text: str
    regime_shift: float
    """Probability that this headline shifts the regime (published)."""
    jump: float
    """Probability that it moves SPX by 0.5-2% (published)."""
    tone: float = 0.5
    """Probability that its effect is good news: calmer regime, price up (hidden)."""


HEADLINES: tuple[Headline, ...] = (
    Headline("Fed hints at tightening", 0.60, 0.20, tone=0.25),
    Headline("Geopolitical tensions rise", 0.70, 0.30, tone=0.10),
    Headline("Strong jobs report", 0.40, 0.10, tone=0.75),
    Headline("No major news today", 0.00, 0.00),
    Headline("Inflation comes in hotter than expected", 0.50, 0.40, tone=0.20),
    Headline("Tech earnings beat estimates", 0.20, 0.60, tone=0.80),
    Headline("Oil prices spike on supply cut", 0.45, 0.35, tone=0.20),
    Headline("Central bank holds rates steady", 0.30, 0.05, tone=0.70),
    Headline("Consumer confidence slips", 0.25, 0.25, tone=0.35),
    Headline("Major bank reports trading loss", 0.55, 0.40, tone=0.10),
    Headline("Markets quiet ahead of holiday", 0.05, 0.00, tone=0.60),
    Headline("Trade deal talks make progress", 0.35, 0.45, tone=0.75),
)


class NewsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    enabled: bool = True
    mean_interval_seconds: float = 2.5 * 3600
    regime_share: float = 0.40
    jump_share: float = 0.30
    jump_range: tuple[float, float] = (0.005, 0.02)
    headlines: tuple[Headline, ...] = HEADLINES

    def __post_init__(self) -> None:
        if self.mean_interval_seconds <= 0:
            raise ValueError("mean_interval_seconds must be positive")
        for h in self.headlines:
            if min(h.regime_shift, h.jump, h.tone) < 0 or h.regime_shift + h.jump > 1:
                raise ValueError(f"headline {h.text!r}: probabilities out of range")


class NewsHeadline(msgspec.Struct, frozen=True):
    """What everyone sees."""

    ts_ns: int
    headline: str


class NewsEvent(msgspec.Struct, frozen=True):
    ts_ns: int
    headline: str
    kind: NewsKind
    regime_direction: int = 0
    """+1 more volatile, -1 calmer, 0 when the kind is not a regime shift."""
    jump: float = 0.0
    """Relative SPX jump (+0.01 is 1% up), 0 when the kind is not a price jump."""

    def public(self) -> NewsHeadline:
        return NewsHeadline(self.ts_ns, self.headline)


def headline_weights(
    headlines: tuple[Headline, ...], regime_share: float, jump_share: float
) -> NDArray[np.float64]:
    """Maximum-entropy headline weights whose implied kind shares are the given ones.

    Raises ValueError when the table cannot reach them.
    """
    x = np.array([[h.regime_shift, h.jump] for h in headlines], dtype=np.float64)
    target = np.array([regime_share, jump_share])
    lam = np.zeros(2)
    for _ in range(100):
        w = _softmax(x @ lam)
        mean = w @ x
        gap = mean - target
        if np.abs(gap).max() < 1e-12:
            return w
        centred = x - mean
        hessian = centred.T @ (centred * w[:, None])
        lam = _damped(x, target, lam, np.linalg.lstsq(hessian, gap, rcond=None)[0])
    raise ValueError(f"headline table cannot give kind shares {regime_share}/{jump_share}")


def _softmax(a: NDArray[np.float64]) -> NDArray[np.float64]:
    e = np.exp(a - a.max())
    return np.asarray(e / e.sum())


def _dual(x: NDArray[np.float64], target: NDArray[np.float64], lam: NDArray[np.float64]) -> float:
    a = x @ lam
    return float(a.max() + np.log(np.exp(a - a.max()).sum()) - lam @ target)


def _damped(
    x: NDArray[np.float64],
    target: NDArray[np.float64],
    lam: NDArray[np.float64],
    newton: NDArray[np.float64],
) -> NDArray[np.float64]:
    """A Newton step on the dual, halved until it does not go uphill."""
    here = _dual(x, target, lam)
    step = 1.0
    while step > 1e-6 and _dual(x, target, lam - step * newton) > here:
        step /= 2
    return np.asarray(lam - step * newton)


class NewsProcess:
    """Draws news events as game time passes; the next arrival is model state."""

    def __init__(self, config: NewsConfig) -> None:
        self.config = config
        self.weights = headline_weights(config.headlines, config.regime_share, config.jump_share)
        self.next_ns: int | None = None

    def due(self, start_ns: int, end_ns: int, rng: np.random.Generator) -> list[NewsEvent]:
        """The events in (start_ns, end_ns], oldest first.

        After a gap (the market closed, nothing advanced) the process restarts at
        `start_ns`: exponential gaps are memoryless, so that is the same process.
        """
        if not self.config.enabled:
            return []
        if self.next_ns is None or self.next_ns <= start_ns:
            self.next_ns = start_ns + self._gap(rng)
        events: list[NewsEvent] = []
        while self.next_ns <= end_ns:
            events.append(self.draw(rng, self.next_ns))
            self.next_ns += self._gap(rng)
        return events

    def _gap(self, rng: np.random.Generator) -> int:
        return max(1, round(rng.exponential(self.config.mean_interval_seconds) * NS_PER_SECOND))

    def draw(self, rng: np.random.Generator, ts_ns: int, headline: str | None = None) -> NewsEvent:
        """One event at `ts_ns`: of a random headline, or the given one (the organiser's).

        A headline not in the table has no effect.
        """
        table = self.config.headlines
        if headline is None:
            row: Headline | None = table[int(rng.choice(len(table), p=self.weights))]
        else:
            row = next((h for h in table if h.text == headline), None)
        if row is None:
            return NewsEvent(ts_ns, headline or "", NewsKind.NONE)
        u = rng.random()
        if u < row.regime_shift:
            direction = -1 if rng.random() < row.tone else 1
            return NewsEvent(ts_ns, row.text, NewsKind.REGIME_SHIFT, regime_direction=direction)
        if u < row.regime_shift + row.jump:
            low, high = self.config.jump_range
            jump = draw_jump(rng, low, high, p_up=row.tone)
            return NewsEvent(ts_ns, row.text, NewsKind.PRICE_JUMP, jump=jump)
        return NewsEvent(ts_ns, row.text, NewsKind.NONE)
