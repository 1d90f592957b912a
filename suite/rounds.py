"""Timing in rounds, so that IREE and the peer runtimes are compared fairly on a shared machine.

A layer's rows -- IREE's chosen lowerings and every peer's native form -- are first built and
verified; then their samples are taken a few at a time, in rounds, method by method: IREE's rows of
a method, then each peer's, then the next method. Load that drifts during the run (another job,
thermal throttling, a noisy neighbour VM) then lands on both sides alike rather than on whichever
ran last. Each side keeps the same warm-up and minimum time per sample as a plain run, and the
same total of repetitions.

A run without peers is timed in rounds too, so that a row's samples are spread over the layer's
timing rather than taken in half a second. This VM goes through phases of 3-20 s in which
memory-bound calls run 2-6x slower (sweep-r4's D-SP STDD: 14.3 ms against 2.4 ms, the same
process and files), with nothing else running and no steal time counted; freeing 2 GB set off one
of 17 s (measured with a loop of iree-benchmark-module, 2026-12-05). A row timed inside one was
slow in all ten samples. In rounds, a phase mostly reaches one of a row's rounds; a row whose
rounds disagree takes one more (``RETAKES``), and its row keeps how many samples each round took.

A retake can land in a phase too (sweep-r2 on 2026-12-05: 10 of its 11 retakes 2.3x slow), and the
median of a row with half its rounds slow is then a slow sample. So a row's statistics are taken
from the rounds within ``SPLIT_RATIO`` of its fastest (suite.stats.settle): the slower rounds stay in
the record (``rounds_left_out``) and out of its median, the verdict's interval and ``suite check``.
On four default runs of that day, this took the rows whose medians differ by over 1.2x from one
run to the next from 37-59 of 273 (pairs of runs) to 20-42; by over 1.5x, from 12-35 to 5-19.

Two rounds, not three: each round is a process, and each process warms up (then with one whole sample), so a
third round cost a warm run (`suite run --peers none`, 133 rows) 420-430 processes rather than
280-290: 129-143 s against 120-137 s, three runs each, alternated (2026-12-05). The rows whose
medians moved by over 1.2x between two runs of the same kind were 12-16 of 133 with three rounds
and 13-22 with two (the 22 against a run in a noisy stretch); the layers' lowest Kendall tau 0.78-0.82
and 0.80-0.81. What two rounds need is that every row takes both: a row whose call time is known
(the tuning database, or the tuner's race) has its samples per round planned from it before its
first round (``planned``), and any other row takes at least one sample in its second round.
Without that (a first trial, four runs), a phase that slowed sweep-r2's D-NN rows 4x in their
first round spent their one second there, and they kept that round alone (medians 1.97 ms
against 0.50; Kendall tau 0.61 on that layer).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from suite.stats import rounds_apart

ROUNDS = 2          # a row's samples split over two processes, as asv's default `processes = 2` (see above)
# a row whose rounds' medians differ by more than this takes one more round at the end (RETAKES), even
# past its max time (one round of RETAKE_SAMPLES: bounded). This VM has phases of seconds in which
# memory-bound calls run 2-6x slower (see above), and a phase that spans one round should not decide
# the row's median.
SPLIT_RATIO = 1.3
RETAKES = 1
RETAKE_SAMPLES = 3
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


def planned(call_ms: float | None, min_time_s: float, repetitions: int, max_time_s: float | None,
            rounds: int = ROUNDS, floor: int = MIN_SAMPLES) -> list[int] | None:
    """A row's samples per round, from its known call time (None when it is not known): as many
    samples as ``max_time_s`` allows, between ``floor`` and ``repetitions``, split over the rounds.
    10 ms calls: [5, 5]; 144 ms calls: 6 samples, [3, 3]; 900 ms calls: [3, 2]."""
    if not call_ms or call_ms <= 0:
        return None
    n = repetitions
    if max_time_s is not None:
        sample_s = calls_per_sample(call_ms, min_time_s) * call_ms / 1e3
        n = max(min(repetitions, int(max_time_s / sample_s)), min(floor, repetitions))
    return split(n, rounds)


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
    rounds: list[int] = field(default_factory=list)      # samples taken in each round
    command: str = ""
    failed: Exception | None = None
    plan: list[int] | None = None     # samples per planned round, where its call time was known (``planned``)

    @property
    def disagrees(self) -> bool:
        """Whether its rounds disagree: the slowest round's median over the fastest's > SPLIT_RATIO."""
        apart = rounds_apart(self.samples, self.rounds)
        return apart is not None and apart > SPLIT_RATIO

    @property
    def spent_s(self) -> float:
        """Seconds its samples have timed so far (a sample is the mean of its iterations)."""
        return sum(s * n for s, n in zip(self.samples, self.iterations)) / 1e3


def split(repetitions: int, rounds: int = ROUNDS) -> list[int]:
    """10 samples in 2 rounds -> [5, 5]; 10 in 3 -> [4, 3, 3]."""
    rounds = max(1, min(rounds, repetitions))
    base, extra = divmod(repetitions, rounds)
    return [base + (1 if i < extra else 0) for i in range(rounds)]


def order(sides: list[Side], methods: list[str]) -> list[Side]:
    """Method by method, IREE's rows first, then the peers'."""
    rank = {m: i for i, m in enumerate(methods)}
    return sorted(sides, key=lambda s: (rank.get(s.method, len(rank)), not s.iree))


def alternate(sides: list[Side], repetitions: int, rounds: int = ROUNDS,
              between: Callable[[int], None] | None = None, max_time_s: float | None = None,
              retakes: int = RETAKES) -> None:
    """Every side's samples, taken round by round in the given order: a side with a ``plan`` takes
    what it plans for each round, any other what its time allows (``allowance``) and at least one
    sample in each round after its first. A side that fails stops there (its ``failed`` says why)
    and the others go on. Then up to ``retakes`` more rounds of RETAKE_SAMPLES, each for the sides
    whose rounds disagree (``Side.disagrees``) whatever time they have spent: a slow phase of the
    machine that hit one round is then one round of three, and a phase can make a fast row look
    slow (sweep-r4's D-NN STDD, 1.1 ms calls at 7 ms in a phase, spent its second in round 1 and
    stopped at 5 samples, median 4.4 ms)."""
    plan = split(repetitions, rounds)
    for i, k in enumerate(plan):
        _round(i, sides, between, lambda s, i=i, k=k: _planned_take(s, i, k, max_time_s))
    for j in range(retakes):
        again = [s for s in sides if s.failed is None and s.disagrees]
        if not again:
            break
        _round(len(plan) + j, again, between, lambda s: min(min(plan), RETAKE_SAMPLES))


def _planned_take(s: Side, i: int, k: int, max_time_s: float | None) -> int:
    """The samples ``s`` takes in planned round ``i``, of the ``k`` the run plans for a side without its own."""
    if s.plan is not None:
        return s.plan[i] if i < len(s.plan) else 0
    n = allowance(k, len(s.samples), s.spent_s, max_time_s)
    return max(n, min(k, 1)) if s.samples else n


def _round(i: int, sides: list[Side], between, how_many: Callable[[Side], int]) -> None:
    if between:
        between(i)
    for s in sides:
        if s.failed is not None:
            continue
        n = how_many(s)
        if not n:
            continue
        try:
            samples, iterations, command = s.take(n)
        except Exception as e:                        # noqa: BLE001 - one side failing costs only its row
            s.failed = e
            continue
        s.samples += samples
        s.iterations += iterations
        s.rounds.append(len(samples))
        s.command = command
