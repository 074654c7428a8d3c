"""How long a running task may take before its worker is taken for hung.

Theory of operation
-------------------
A deadline exists to catch a hung or dead worker, never to fail a slow healthy encode.
A worker gives no liveness signal while its encoder runs: the save is one synchronous
wasm call (AVIF computes every pixel, then libaom encodes for a long while reporting
nothing), and a busy thread looks exactly like a hung one from outside. So the deadline
is sized from what the task will cost on this machine as it is now:

- **Prior**: `timeout_base_s + timeout_per_mpix_s x work x encoder factor`. The work is
  the estimate's megapixels; the encoder factor says how much slower than WebP the
  output format is at the chosen effort (AVIF at high effort is tens of times slower).
- **Learned**: every finished task tells how many seconds per megapixel of work its
  encoder key (output format, effort) took here, from dispatch to result. That rate
  includes whatever else the machine is doing, so a loaded machine's deadlines grow with
  it. It rises at once on a slower observation and decays slowly (an exponential moving
  average toward faster ones): a burst of load is believed immediately, a quiet spell
  only gradually.
- The deadline is `base + max(prior rate, SAFETY x learned rate) x work`, never below the
  prior, at most `timeout_max_s`, stretched by how much slower than its prior the learned
  rate is (a machine that runs everything 3x slower gets a 3x cap, up to
  `MAX_CAP_STRETCH`). The user's own `timeout_s` wins over all of it.

Pure: the scheduler feeds it observations with the times it was given.
"""

from __future__ import annotations

from imgpool.shared.config import PoolConfig
from imgpool.core.estimate import Estimate
from imgpool.shared.options import Options, OutputFormat

__all__ = ["DeadlineModel", "encoder_factor", "search_factor", "SAFETY", "MAX_CAP_STRETCH",
           "SEARCH_ENCODES", "SCORE_COST"]

#: A healthy task may take this many times the learned rate before it is taken for hung.
SAFETY = 4.0
#: The learned rate moves this far toward a faster observation (a slower one is taken
#: whole).
DECAY = 0.2
#: The cap (`timeout_max_s`) grows with the learned slowdown, at most this many times.
MAX_CAP_STRETCH = 4.0
#: Encoder cost relative to WebP at the default effort, per output format.
_BASE_FACTOR = {
    OutputFormat.WEBP: 1.0, OutputFormat.JPEG: 1.0, OutputFormat.PNG: 1.5,
    OutputFormat.GIF: 2.0, OutputFormat.JXL: 2.0, OutputFormat.AVIF: 2.0,
    OutputFormat.SAME: 2.0,
}
#: Above the default effort (4), each step multiplies the encoder's time by this much
#: (AVIF: libaom's speed presets; measured 8-15 s natively at heifsave effort 4 against
#: 0.7 s at 1 for a 2048 px photo).
_EFFORT_GROWTH = {OutputFormat.AVIF: 2.0, OutputFormat.JXL: 1.6}
_DEFAULT_EFFORT = 4
#: The most encodes a quality search over 1..100 makes
#: (imgpool.worker.qualitysearch.max_encodes(1, 100)).
SEARCH_ENCODES = 9
#: Scoring one result (decode it, SSIM) against one encode: about half measured
#: (docs/design.md, the pipeline in a worker); counted as a whole one for headroom.
SCORE_COST = 1.0


def encoder_factor(options: Options) -> float:
    """How much slower than WebP at default effort this task's encoder is expected to be."""
    # A responsive set encodes every format at every width: counted whole per file (a
    # smaller width costs less), for headroom.
    per_width = sum(_BASE_FACTOR.get(fmt, 2.0) * _EFFORT_GROWTH.get(fmt, 1.15) ** max(
        0, options.effort - _DEFAULT_EFFORT) for fmt in options.formats or (options.format,))
    return per_width * max(1, len(options.widths)) * search_factor(options)


def search_factor(options: Options) -> float:
    """How many encodes' worth of work the options ask for: a quality search makes up
    to SEARCH_ENCODES encodes, and a measured score costs about SCORE_COST more each."""
    encodes = SEARCH_ENCODES if (options.target_size or options.min_ssim) else 1
    if options.min_ssim is not None:
        return encodes * (1 + SCORE_COST)  # every step of the search is scored
    return encodes + (SCORE_COST if options.measures_quality else 0)


def _key(options: Options) -> tuple[str, int, float]:
    # Searches and sets learn their own rate: a plain encode's would make theirs short.
    formats = ",".join(f.value for f in options.formats or (options.format,))
    return formats, options.effort, search_factor(options) * max(1, len(options.widths))


class DeadlineModel:
    """Per-task time limits: a prior per encoder, corrected by observed rates."""

    def __init__(self, config: PoolConfig) -> None:
        self.config = config
        self._rates: dict[tuple[str, int], float] = {}  # seconds per megapixel of work

    def prior_rate(self, options: Options) -> float:
        return self.config.timeout_per_mpix_s * encoder_factor(options)

    def learned_rate(self, options: Options) -> float | None:
        return self._rates.get(_key(options))

    def timeout_s(self, est: Estimate, options: Options) -> float:
        """Seconds the task may run, counted from dispatch."""
        if options.timeout_s is not None:
            return float(options.timeout_s)
        cfg, prior = self.config, self.prior_rate(options)
        learned = self.learned_rate(options)
        rate, stretch = prior, 1.0
        if learned is not None:
            rate = max(prior, SAFETY * learned)
            stretch = min(MAX_CAP_STRETCH, max(1.0, rate / prior))
        return min(cfg.timeout_max_s * stretch, cfg.timeout_base_s + rate * est.work_mpix)

    def observe(self, est: Estimate, options: Options, elapsed_s: float) -> None:
        """A task finished `elapsed_s` after dispatch. Ignores nonsense values."""
        if est.work_mpix <= 0 or not elapsed_s > 0:
            return
        rate = elapsed_s / est.work_mpix
        key = _key(options)
        old = self._rates.get(key)
        self._rates[key] = rate if old is None or rate >= old else old + DECAY * (rate - old)

    def to_dict(self) -> dict[str, float]:
        return {f"{fmt}/effort {e}": round(r, 3) for (fmt, e), r in sorted(self._rates.items())}
