"""Dates and times on the Gregorian calendar."""

from __future__ import annotations

import calendar
import datetime
from random import Random

from .base import NAMES, Family, Params, Solution, ints

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _year_knobs(rng: Random) -> Params:
    lo = rng.choice([1900, 1950, 2000])
    return {"YLO": lo, "YHI": lo + rng.choice([50, 100])}


def _rand_date(rng: Random, lo: int, hi: int) -> datetime.date:
    start, end = datetime.date(lo, 1, 1).toordinal(), datetime.date(hi, 12, 31).toordinal()
    return datetime.date.fromordinal(rng.randint(start, end))


DAYS_IN_MONTH = Family(
    name="days_in_month",
    topic="dates",
    title="Days in a Month",
    statement=(
        "How many days does month M of year Y have in the Gregorian calendar?\n"
        "Recall that February has 29 days in a leap year and 28 otherwise; a year is a leap year when it is a multiple"
        " of 4, except multiples of 100 that are not multiples of 400."
    ),
    input_format="Y M",
    output="Print the number of days in month M of year Y.",
    constraints=("$YLO <= Y <= $YHI", "1 <= M <= 12", "All input values are integers."),
    steps=(
        "Read Y and M.",
        "Months 4, 6, 9 and 11 have 30 days; the other months except February have 31.",
        "February has 29 days when Y is a leap year (Y % 4 == 0 and (Y % 100 != 0 or Y % 400 == 0)), else 28.",
        "Print the number of days.",
    ),
    solutions=(
        Solution(
            "calendar",
            "calendar.monthrange returns the number of days as its second value.",
            "import calendar\n\ny, m = map(int, input().split())\nprint(calendar.monthrange(y, m)[1])\n",
        ),
        Solution(
            "table",
            "A table of month lengths plus the leap-year rule for February.",
            "y, m = map(int, input().split())\ndays = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]\n"
            "if m == 2 and (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):\n    print(29)\nelse:\n    print(days[m - 1])\n",
        ),
        Solution(
            "date-diff",
            "Subtract the first day of this month from the first day of the next.",
            "from datetime import date\n\ny, m = map(int, input().split())\nnxt = date(y + 1, 1, 1) if m == 12 else date(y, m + 1, 1)\n"
            "print((nxt - date(y, m, 1)).days)\n",
        ),
    ),
    knobs=_year_knobs,
    gen=lambda rng, p: f"{rng.randint(p['YLO'], p['YHI'])} {rng.choice([2, 2, rng.randint(1, 12)])}\n",
    ref=lambda inp, p: str(calendar.monthrange(*ints(inp))[1]),
    edges=lambda p: [f"{p['YLO']} 2\n", "2000 2\n" if p["YLO"] <= 2000 <= p["YHI"] else f"{p['YHI']} 12\n"],
    level=2,
)


def _between_gen(rng: Random, p: Params) -> str:
    a, b = sorted([_rand_date(rng, p["YLO"], p["YHI"]), _rand_date(rng, p["YLO"], p["YHI"])])
    if rng.random() < 0.3:  # some pairs close together, where off-by-one mistakes show
        b = a + datetime.timedelta(days=rng.randint(0, 40))
        b = min(b, datetime.date(p["YHI"], 12, 31))
    return f"{a.year} {a.month} {a.day}\n{b.year} {b.month} {b.day}\n"


def _between_ref(inp: str, p: Params) -> str:
    y1, m1, d1, y2, m2, d2 = ints(inp)
    return str((datetime.date(y2, m2, d2) - datetime.date(y1, m1, d1)).days)


DAYS_BETWEEN = Family(
    name="days_between",
    topic="dates",
    title="$NAME's Countdown",
    statement=(
        "Today is year Y_1, month M_1, day D_1, and $NAME's trip starts on year Y_2, month M_2, day D_2"
        " (Gregorian calendar).\nHow many days are there from today until the trip? The answer is 0 if the two dates"
        " are the same."
    ),
    input_format="Y_1 M_1 D_1\nY_2 M_2 D_2",
    output="Print the number of days.",
    constraints=(
        "$YLO <= Y_1, Y_2 <= $YHI",
        "Both dates exist.",
        "The first date is not later than the second date.",
        "All input values are integers.",
    ),
    steps=(
        "Read the two dates.",
        "Turn each date into a day number counted from a fixed origin, for example with date.toordinal().",
        "The answer is the difference of the two day numbers.",
        "Print it.",
    ),
    solutions=(
        Solution(
            "datetime",
            "Subtract two datetime.date objects.",
            "from datetime import date\n\ny1, m1, d1 = map(int, input().split())\ny2, m2, d2 = map(int, input().split())\n"
            "print((date(y2, m2, d2) - date(y1, m1, d1)).days)\n",
        ),
        Solution(
            "ordinal",
            "Compare proleptic ordinals.",
            "import datetime\n\na = datetime.date(*map(int, input().split())).toordinal()\n"
            "b = datetime.date(*map(int, input().split())).toordinal()\nprint(b - a)\n",
        ),
        Solution(
            "count-days",
            "Count days since year 1 by hand: whole years, whole months, then days.",
            "def leap(y):\n    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)\n\n\n"
            "def day_number(y, m, d):\n    p = y - 1\n    total = 365 * p + p // 4 - p // 100 + p // 400\n"
            "    months = [31, 29 if leap(y) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]\n"
            "    return total + sum(months[: m - 1]) + d\n\n\n"
            "a = day_number(*map(int, input().split()))\nb = day_number(*map(int, input().split()))\nprint(b - a)\n",
        ),
    ),
    knobs=lambda rng: {**_year_knobs(rng), "NAME": rng.choice(NAMES)},
    gen=_between_gen,
    ref=_between_ref,
    edges=lambda p: [f"{p['YLO']} 2 28\n{p['YLO']} 3 1\n", f"{p['YLO']} 1 1\n{p['YLO']} 1 1\n"],
    level=3,
)

# ---- held-out families: benchmark only ----

WEEKDAY = Family(
    name="weekday",
    topic="dates",
    title="Day of the Week",
    statement="Which day of the week is year Y, month M, day D of the Gregorian calendar?",
    input_format="Y M D",
    output="Print the English name of the day of the week, such as Monday.",
    constraints=("2000 <= Y <= 2100", "The date exists.", "All input values are integers."),
    steps=(
        "Read Y, M and D.",
        "date(Y, M, D).weekday() gives 0 for Monday up to 6 for Sunday.",
        "Print the name.",
    ),
    solutions=(
        Solution(
            "datetime",
            "Index a list of names with date.weekday().",
            "from datetime import date\n\ny, m, d = map(int, input().split())\n"
            "names = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']\n"
            "print(names[date(y, m, d).weekday()])\n",
        ),
        Solution(
            "calendar",
            "Use calendar.day_name with calendar.weekday.",
            "import calendar\n\ny, m, d = map(int, input().split())\nprint(calendar.day_name[calendar.weekday(y, m, d)])\n",
        ),
    ),
    knobs=lambda rng: {},
    gen=lambda rng, p: (lambda d: f"{d.year} {d.month} {d.day}\n")(_rand_date(rng, 2000, 2100)),
    ref=lambda inp, p: DAYS[datetime.date(*ints(inp)).weekday()],
    edges=lambda p: ["2000 1 1\n"],
    level=2,
    held_out=True,
)


def _hms(s: int) -> str:
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


SECONDS_TO_HMS = Family(
    name="seconds_to_hms",
    topic="time",
    title="Stopwatch",
    statement="A stopwatch shows S seconds.\nWrite this time as hours, minutes and seconds.",
    input_format="S",
    output="Print the time in the format HH:MM:SS, each part with exactly two digits.",
    constraints=("0 <= S < 86400", "S is an integer."),
    steps=(
        "Read S.",
        "Hours are S // 3600, minutes (S % 3600) // 60 and seconds S % 60.",
        "Print them with two digits each, separated by colons.",
    ),
    solutions=(
        Solution(
            "divmod",
            "Split with divmod twice.",
            "s = int(input())\nh, rest = divmod(s, 3600)\nm, sec = divmod(rest, 60)\nprint(f'{h:02d}:{m:02d}:{sec:02d}')\n",
        ),
        Solution(
            "arithmetic",
            "Integer division and remainders with zfill.",
            "s = int(input())\nparts = [s // 3600, s % 3600 // 60, s % 60]\nprint(':'.join(str(x).zfill(2) for x in parts))\n",
        ),
    ),
    knobs=lambda rng: {},
    gen=lambda rng, p: f"{rng.randint(0, 86399)}\n",
    ref=lambda inp, p: _hms(int(inp)),
    edges=lambda p: ["0\n", "86399\n"],
    level=2,
    held_out=True,
)

FAMILIES = (DAYS_IN_MONTH, DAYS_BETWEEN, WEEKDAY, SECONDS_TO_HMS)
