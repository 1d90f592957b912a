"""Timing in rounds, so that IREE and the peer runtimes are compared fairly on a shared machine.

A layer's rows -- IREE's chosen lowerings and every peer's native form -- are first built and
verified; then their samples are taken a few at a time, in rounds, method by method: IREE's rows of
a method, then each peer's, then the next method. Load that drifts during the run (another job,
thermal throttling, a noisy neighbour VM) then lands on both sides alike rather than on whichever
ran last. Each side keeps the same warm-up and minimum time per sample as a plain run, and the
same total of repetitions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

ROUNDS = 3          # a sample set split in three: enough to interleave, few enough start-up costs
MAX_TIME_S = 1.0    # a row's timed seconds after which it stops at MIN_SAMPLES (asv's repeat max_time)
MIN_SAMPLES = 5     # what a row that has spent its time still gets: a median and quartiles


def allowance(k: int, have: int, spent_s: float, max_time_s: float | None, floor: int = MIN_SAMPLES) -> int:
    """How many of the ``k`` samples planned next a row takes, having taken ``have`` in ``spent_s``
    seconds: every one while the row stays within ``max_time_s``, and past it only what brings it
    to ``floor`` samples. A row of 1 s calls then takes 5 samples rather than 10, while a row of
    10 ms calls (samples of 50 ms) takes all of its samples; asv's ``repeat = (min, max, max_time)``."""
    if not have or max_time_s is None:
        return k
    per = spent_s / have
    room = int((max_time_s - spent_s) / per) if per > 0 else k
    return max(min(k, room), min(k, floor - have), 0)


def calls_per_sample(call_ms: float | None, min_time_s: float) -> int | None:
    """How many calls of ``call_ms`` fill a sample of ``min_time_s`` (None when the call time is not
    known): a row whose call time is known -- from its first round, or the tuner's race -- tells the
    benchmark so, rather than having it search again for every round."""
    if not call_ms or call_ms <= 0:
        return None
    return max(1, math.ceil(min_time_s * 1e3 / call_ms))


@dataclass
class Side:
    """One row being timed in rounds."""
    method: str
    take: Callable[[int], tuple[list[float], list[int], str]]      # k -> (samples ms, iterations, command)
    iree: bool = True
    samples: list[float] = field(default_factory=list)
    iterations: list[int] = field(default_factory=list)
    command: str = ""
    failed: Exception | None = None

    @property
    def spent_s(self) -> float:
        """Seconds its samples have timed so far (a sample is the mean of its iterations)."""
        return sum(s * n for s, n in zip(self.samples, self.iterations)) / 1e3


def split(repetitions: int, rounds: int = ROUNDS) -> list[int]:
    """10 samples in 3 rounds -> [4, 3, 3]."""
    rounds = max(1, min(rounds, repetitions))
    base, extra = divmod(repetitions, rounds)
    return [base + (1 if i < extra else 0) for i in range(rounds)]


def order(sides: list[Side], methods: list[str]) -> list[Side]:
    """Method by method, IREE's rows first, then the peers'."""
    rank = {m: i for i, m in enumerate(methods)}
    return sorted(sides, key=lambda s: (rank.get(s.method, len(rank)), not s.iree))


def alternate(sides: list[Side], repetitions: int, rounds: int = ROUNDS,
              between: Callable[[int], None] | None = None, max_time_s: float | None = None) -> None:
    """Every side's samples, taken round by round in the given order, each side within its time
    (``allowance``); a side that fails stops there (its ``failed`` says why) and the others go on."""
    for i, k in enumerate(split(repetitions, rounds)):
        if between:
            between(i)
        for s in sides:
            if s.failed is not None:
                continue
            n = allowance(k, len(s.samples), s.spent_s, max_time_s)
            if not n:
                continue
            try:
                samples, iterations, command = s.take(n)
            except Exception as e:                        # noqa: BLE001 - one side failing costs only its row
                s.failed = e
                continue
            s.samples += samples
            s.iterations += iterations
            s.command = command
