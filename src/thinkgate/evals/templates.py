"""Suite items made from templates with a fixed seed: arithmetic chains, unit conversions,
date reasoning and small logic, at three depths.

    easy   one step     "What is 7 + 5?"          "How many minutes are in 3 hours?"
    medium two steps    "What is 4 + 9 - 6?"      "If today is Monday, what day is it in 3 days?"
    hard   three-four   "Start with 6. Add 7, multiply by 2, then subtract 5. What is the result?"

Every answer is exact and one word (a number, a weekday or a name), so one grader serves
every suite and every effort. Each item's template draws from its own `random.Random`
seeded by (suite, index): the items never change between runs, versions or machines, and
adding a template to one suite leaves the other suites' items as they were.
"""

from __future__ import annotations

import random
from collections.abc import Callable

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NAMES = ("Tom", "Anna", "Ben", "Lucy", "Sam", "Maria", "Jack", "Emma", "Leo", "Nina")
THINGS = ("apples", "marbles", "stickers", "coins", "books", "pens")
SEED = 20261206

Template = Callable[[random.Random], tuple[str, str]]


# --- easy: one step ----------------------------------------------------------------------


def _add(r: random.Random) -> tuple[str, str]:
    a, b = r.randint(1, 9), r.randint(1, 9)
    return f"What is {a} + {b}?", str(a + b)


def _sub(r: random.Random) -> tuple[str, str]:
    a = r.randint(5, 19)
    b = r.randint(1, a - 1)
    return f"What is {a} - {b}?", str(a - b)


def _mul(r: random.Random) -> tuple[str, str]:
    a, b = r.randint(2, 9), r.randint(2, 9)
    return f"What is {a} * {b}?", str(a * b)


def _hours(r: random.Random) -> tuple[str, str]:
    h = r.randint(1, 5)
    return f"How many minutes are in {h} hours?", str(60 * h)


def _next_day(r: random.Random) -> tuple[str, str]:
    d = r.randrange(7)
    return f"What day comes after {DAYS[d]}?", DAYS[(d + 1) % 7]


def _larger(r: random.Random) -> tuple[str, str]:
    a, b = r.sample(range(2, 60), 2)
    return f"Which number is larger, {a} or {b}?", str(max(a, b))


# --- medium: two steps -------------------------------------------------------------------


def _add_sub(r: random.Random) -> tuple[str, str]:
    a, b = r.randint(2, 9), r.randint(2, 9)
    c = r.randint(1, a + b - 1)
    return f"What is {a} + {b} - {c}?", str(a + b - c)


def _mul_add(r: random.Random) -> tuple[str, str]:
    a, b, c = r.randint(2, 6), r.randint(2, 6), r.randint(1, 9)
    return f"What is {a} * {b} + {c}?", str(a * b + c)


def _hours_minutes(r: random.Random) -> tuple[str, str]:
    h, m = r.randint(1, 3), r.choice((10, 15, 20, 30, 45))
    return f"How many minutes are in {h} hours and {m} minutes?", str(60 * h + m)


def _days_later(r: random.Random) -> tuple[str, str]:
    d, n = r.randrange(7), r.randint(2, 4)
    return f"If today is {DAYS[d]}, what day will it be in {n} days?", DAYS[(d + n) % 7]


def _buy(r: random.Random) -> tuple[str, str]:
    name, thing = r.choice(NAMES), r.choice(THINGS)
    a, b = r.randint(2, 9), r.randint(2, 9)
    question = f"{name} has {a} {thing} and buys {b} more. How many {thing} does {name} have?"
    return question, str(a + b)


def _taller(r: random.Random) -> tuple[str, str]:
    a, b, c = r.sample(NAMES, 3)
    question = f"{a} is taller than {b}. {b} is taller than {c}. Who is the shortest?"
    return question, c


# --- hard: three or four steps -----------------------------------------------------------


def _chain(r: random.Random) -> tuple[str, str]:
    start, add, times, minus = r.randint(2, 9), r.randint(2, 9), r.randint(2, 3), r.randint(1, 9)
    question = (
        f"Start with {start}. Add {add}, multiply by {times}, then subtract {minus}. "
        "What is the result?"
    )
    return question, str((start + add) * times - minus)


def _shop(r: random.Random) -> tuple[str, str]:
    name, thing = r.choice(NAMES), r.choice(THINGS)
    a, b, c = r.randint(10, 30), r.randint(2, 15), r.randint(2, 9)
    question = (
        f"{name} has {a} {thing}. {name} buys {b} more, then gives away {c}. "
        f"Then {name} doubles the number of {thing}. How many {thing} does {name} have now?"
    )
    return question, str((a + b - c) * 2)


def _hours_sum(r: random.Random) -> tuple[str, str]:
    h1, m1, h2, m2 = r.randint(1, 3), r.choice((10, 20, 30)), r.randint(1, 2), r.choice((15, 25))
    question = (
        f"A trip takes {h1} hours and {m1} minutes, and the next one {h2} hours and {m2} "
        "minutes. How many minutes is that in total?"
    )
    return question, str(60 * (h1 + h2) + m1 + m2)


def _days_far(r: random.Random) -> tuple[str, str]:
    d, n = r.randrange(7), r.randint(9, 30)
    return f"If today is {DAYS[d]}, what day will it be in {n} days?", DAYS[(d + n) % 7]


def _order4(r: random.Random) -> tuple[str, str]:
    a, b, c, d = r.sample(NAMES, 4)
    question = (
        f"{b} is older than {c}. {a} is older than {b}. {c} is older than {d}. Who is the oldest?"
    )
    return question, a


def _split(r: random.Random) -> tuple[str, str]:
    per, people, left = r.randint(2, 6), r.randint(2, 5), r.randint(1, 5)
    thing = r.choice(THINGS)
    question = (
        f"There are {per * people + left} {thing}. {people} children take {per} {thing} each. "
        f"How many {thing} are left?"
    )
    return question, str(left)


TEMPLATES: dict[str, tuple[Template, ...]] = {
    "easy": (_add, _sub, _mul, _hours, _next_day, _larger),
    "medium": (_add_sub, _mul_add, _hours_minutes, _days_later, _buy, _taller),
    "hard": (_chain, _shop, _hours_sum, _days_far, _order4, _split),
}
DESCRIPTIONS = {
    "easy": "One step: single-operation arithmetic, a unit conversion, the next weekday.",
    "medium": "Two steps: short arithmetic chains, hours and minutes, weekdays ahead, order.",
    "hard": "Three or four steps: arithmetic chains, word problems, far weekdays, order of four.",
}


def generate(suite: str, count: int) -> list[tuple[str, str]]:
    """`count` (question, answer) pairs, the templates taken in turn."""
    templates = TEMPLATES[suite]
    pairs = []
    for index in range(count):
        rng = random.Random(f"{SEED}:{suite}:{index}")
        pairs.append(templates[index % len(templates)](rng))
    return pairs
