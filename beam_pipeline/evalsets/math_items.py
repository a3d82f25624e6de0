"""Arithmetic and word problems whose answers are computed here, each with plausible wrong solutions.

Every family returns a :class:`MathItem`: the prompt, the exact answer (``Decimal``), an
expression that recomputes it, a correct solution in three lengths and wrong ones
(off-by-one, wrong operator, dropped term, unit slip...) in the same three lengths. Dev and
held-out draw from different prompt templates (``pool`` 0 and 1) and different seeds.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

D = Decimal
CENT = D("0.01")
NAMES = (
    ("Maya", "Omar", "Lena", "Tomas", "Priya", "Jonas", "Aisha", "Felix"),
    ("Rosa", "Kenji", "Nadia", "Victor", "Ines", "Samuel", "Hana", "Diego"),
)


@dataclass
class Solution:
    long: str
    short: str
    bare: str

    def wordings(self) -> list[str]:
        return [self.long, self.short, self.bare]


@dataclass
class MathItem:
    prompt: str
    answer: Decimal
    expr: str
    correct: Solution
    wrongs: list[tuple[str, Solution, Decimal]] = field(default_factory=list)  # (kind, solution, its answer)
    template: int = 0


def num(x: Decimal | int | float) -> str:
    """A plain number: no exponent, no trailing zeros, ASCII minus."""
    x = D(str(x)) if not isinstance(x, Decimal) else x
    if x == x.to_integral_value():
        return str(int(x))
    return format(x.normalize(), "f")


def money(x: Decimal) -> str:
    return "$" + str(x.quantize(CENT, rounding=ROUND_HALF_UP))


def cents(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def exact_cents(x: Decimal) -> bool:
    return x == x.quantize(CENT)


def sol(steps: list[str], short: str, final: str) -> Solution:
    """Long: the worked steps then the final sentence; short: one line; bare: the final sentence."""
    return Solution(" ".join([*steps, final]), short, final)


class Retry(Exception):
    """These random numbers make a degenerate problem; draw again."""


def _hours(t: Decimal) -> str:
    return f"{num(t)} hour" if t == 1 else f"{num(t)} hours"


def _pick(rng: random.Random, pool: int, templates: tuple[tuple[str, ...], tuple[str, ...]]) -> tuple[int, str]:
    i = rng.randrange(len(templates[pool]))
    return i, templates[pool][i]


# -- word problems ------------------------------------------------------------------------------


def discount_tax(rng: random.Random, pool: int) -> MathItem:
    templates = (
        (
            "A {item} costs ${price} and is on sale for {off}% off. Sales tax of {tax}% is then added to the "
            "sale price. What is the final price?",
            "{name} buys a {item} marked ${price}. The shop takes {off}% off, and then {tax}% sales tax is "
            "charged on the reduced price. How much does {name} pay?",
        ),
        (
            "The list price of a {item} is ${price}. After a {off}% discount, a {tax}% tax is applied to the "
            "discounted amount. What does the {item} cost in the end?",
            "What do you pay for a ${price} {item} that is reduced by {off}% if {tax}% tax is added after the "
            "reduction?",
        ),
    )
    items = (("jacket", "lamp", "backpack", "kettle"), ("blender", "rug", "helmet", "desk chair"))[pool]
    price = D(rng.randrange(20, 201, 5))
    off = rng.choice((10, 15, 20, 25, 30, 40, 50))
    tax = rng.choice((5, 6, 8, 10))
    sale = price * (100 - off) / 100
    final = sale * (100 + tax) / 100
    if not exact_cents(final) or off <= tax:
        raise Retry
    ti, t = _pick(rng, pool, templates)
    prompt = t.format(item=rng.choice(items), price=num(price), off=off, tax=tax, name=rng.choice(NAMES[pool]))
    s1 = f"The discount leaves {100 - off}% of the price: {num(price)} × {100 - off}/100 = {money(sale)}."
    correct = sol(
        [s1, f"Tax adds {tax}%: {num(sale)} × {100 + tax}/100 = {money(final)}."],
        f"{num(price)} × {100 - off}/100 × {100 + tax}/100 = {num(final)}, so the final price is {money(final)}.",
        f"The final price is {money(final)}.",
    )
    no_tax = sale
    minus_tax = cents(sale * (100 - tax) / 100)
    combined = cents(price * (100 - off + tax) / 100)
    wrongs = [
        (
            "dropped term",
            sol(
                [s1],
                f"{num(price)} × {100 - off}/100 = {num(sale)}, so the final price is {money(sale)}.",
                f"The final price is {money(sale)}.",
            ),
            no_tax,
        ),
        (
            "wrong operator",
            sol(
                [s1, f"Then the {tax}% tax: {num(sale)} × {100 - tax}/100 = {money(minus_tax)}."],
                f"{num(price)} × {100 - off}/100 × {100 - tax}/100 = {num(minus_tax)}, so the final price is "
                f"{money(minus_tax)}.",
                f"The final price is {money(minus_tax)}.",
            ),
            minus_tax,
        ),
        (
            "wrong operator",
            sol(
                [
                    f"The discount and the tax combine to {off}% − {tax}% = {off - tax}% off.",
                    f"{num(price)} × {100 - off + tax}/100 = {money(combined)}.",
                ],
                f"{off}% off and {tax}% tax is {off - tax}% off overall: {num(price)} × {100 - off + tax}/100 = "
                f"{money(combined)}.",
                f"The final price is {money(combined)}.",
            ),
            combined,
        ),
    ]
    return MathItem(prompt, final, f"{num(price)}*(100-{off})/100*(100+{tax})/100", correct, wrongs, ti)


def two_legs(rng: random.Random, pool: int) -> MathItem:
    templates = (
        (
            "{name} drives at {v1} km/h for {t1h} and then at {v2} km/h for {t2h}. How many kilometres "
            "does {name} drive in total?",
            "A bus travels for {t1h} at {v1} km/h, then for another {t2h} at {v2} km/h. What total "
            "distance does it cover, in km?",
        ),
        (
            "A train runs at {v1} km/h for {t1h}, then changes to {v2} km/h for the next {t2h}. How far "
            "does it go altogether, in kilometres?",
            "How many km does a boat cover if it sails {t1h} at {v1} km/h and then {t2h} at {v2} km/h?",
        ),
    )
    v1, v2 = rng.sample(range(30, 115, 5), 2)
    t1, t2 = (D(x) for x in rng.sample(("1", "1.5", "2", "2.5", "3", "4"), 2))
    d1, d2 = v1 * t1, v2 * t2
    ans = d1 + d2
    ti, t = _pick(rng, pool, templates)
    prompt = t.format(name=rng.choice(NAMES[pool]), v1=v1, v2=v2, t1h=_hours(t1), t2h=_hours(t2))
    legs = [f"First part: {v1} × {num(t1)} = {num(d1)} km.", f"Second part: {v2} × {num(t2)} = {num(d2)} km."]
    correct = sol(
        [*legs, f"Together: {num(d1)} + {num(d2)} = {num(ans)} km."],
        f"{v1} × {num(t1)} + {v2} × {num(t2)} = {num(d1)} + {num(d2)}, which is {num(ans)} km.",
        f"The total distance is {num(ans)} km.",
    )
    avg = D(v1 + v2) / 2
    tt = t1 + t2
    w_avg = avg * tt
    w_swap = v1 * t2 + v2 * t1
    wrongs = [
        (
            "dropped term",
            sol(legs[:1], f"{v1} × {num(t1)} = {num(d1)} km.", f"The total distance is {num(d1)} km."),
            d1,
        ),
        (
            "wrong formula",
            sol(
                [
                    f"The average speed is ({v1} + {v2}) / 2 = {num(avg)} km/h.",
                    f"The total time is {num(t1)} + {num(t2)} = {num(tt)} hours, so {num(avg)} × {num(tt)} = "
                    f"{num(w_avg)} km.",
                ],
                f"Average speed {num(avg)} km/h × {num(tt)} h = {num(w_avg)} km.",
                f"The total distance is {num(w_avg)} km.",
            ),
            w_avg,
        ),
        (
            "mixed-up terms",
            sol(
                [
                    f"First part: {v1} × {num(t2)} = {num(v1 * t2)} km.",
                    f"Second part: {v2} × {num(t1)} = {num(v2 * t1)} km.",
                    f"Together: {num(v1 * t2)} + {num(v2 * t1)} = {num(w_swap)} km.",
                ],
                f"{v1} × {num(t2)} + {v2} × {num(t1)} = {num(w_swap)} km.",
                f"The total distance is {num(w_swap)} km.",
            ),
            w_swap,
        ),
    ]
    return MathItem(prompt, ans, f"{v1}*{num(t1)}+{v2}*{num(t2)}", correct, wrongs, ti)


def laps(rng: random.Random, pool: int) -> MathItem:
    templates = (
        (
            "{name} runs {n} laps of a {m}-metre track. How many kilometres is that?",
            "{name} swims {n} lengths of a {m} m pool. How many kilometres has {name} swum?",
        ),
        (
            "A walking loop in the park is {m} m long. If {name} walks it {n} times, how many km has {name} walked?",
            "How many kilometres does a robot cover if it goes round a {m} m circuit {n} times?",
        ),
    )
    ti, t = _pick(rng, pool, templates)
    m = rng.choice((25, 50) if "pool" in t else (200, 250, 400, 500, 800))
    n = rng.randrange(4, 41)
    total = n * m
    ans = D(total) / 1000
    prompt = t.format(name=rng.choice(NAMES[pool]), n=n, m=m)
    correct = sol(
        [f"{n} × {m} m = {total} m.", f"A kilometre is 1000 m, so {total} ÷ 1000 = {num(ans)} km."],
        f"{n} × {m} = {total} m, which is {num(ans)} km.",
        f"That is {num(ans)} km.",
    )
    slip = D(total) / 100
    gaps = D((n - 1) * m) / 1000
    wrongs = [
        (
            "unit slip",
            sol(
                [f"{n} × {m} m = {total} m.", f"A kilometre is 100 m, so {total} ÷ 100 = {num(slip)} km."],
                f"{n} × {m} = {total} m, which is {num(slip)} km.",
                f"That is {num(slip)} km.",
            ),
            slip,
        ),
        (
            "off-by-one",
            sol(
                [
                    f"Between the start and the last lap there are {n - 1} stretches: {n - 1} × {m} = {(n - 1) * m} m.",
                    f"A kilometre is 1000 m, so that is {num(gaps)} km.",
                ],
                f"{n - 1} × {m} = {(n - 1) * m} m, which is {num(gaps)} km.",
                f"That is {num(gaps)} km.",
            ),
            gaps,
        ),
    ]
    return MathItem(prompt, ans, f"{n}*{m}/1000", correct, wrongs, ti)


def change(rng: random.Random, pool: int) -> MathItem:
    templates = (
        (
            "{name} buys {a} {things} at ${p} each and pays with a ${bill} note. How much change should {name} get?",
            "At the market, {a} {things} cost ${p} apiece. What is the change from ${bill}?",
        ),
        (
            "You pay for {a} {things} priced at ${p} each using a ${bill} bill. How much change do you receive?",
            "How much is left from ${bill} after buying {a} {things} at ${p} per item?",
        ),
    )
    things = (("notebooks", "mangoes", "coffees", "pens"), ("candles", "sandwiches", "tickets", "plants"))[pool]
    a = rng.randrange(2, 10)
    p = D(rng.randrange(100, 1000, 25)) / 100
    cost = a * p
    bill = next(b for b in (20, 50, 100) if b > cost + 1)
    ans = bill - cost
    ti, t = _pick(rng, pool, templates)
    prompt = t.format(name=rng.choice(NAMES[pool]), a=a, things=rng.choice(things), p=money(p)[1:], bill=bill)
    correct = sol(
        [f"The items cost {a} × {money(p)} = {money(cost)}.", f"The change is {bill} − {num(cost)} = {money(ans)}."],
        f"{bill} − {a} × {num(p)} = {bill} − {num(cost)} = {money(ans)} in change.",
        f"The change is {money(ans)}.",
    )
    plus = a + p
    w_plus = bill - plus
    w_one = bill - p
    wrongs = [
        (
            "dropped term",
            sol(
                [f"The change is {bill} − {num(p)} = {money(w_one)}."],
                f"{bill} − {num(p)} = {money(w_one)} in change.",
                f"The change is {money(w_one)}.",
            ),
            w_one,
        ),
        (
            "wrong operator",
            sol(
                [
                    f"The items cost {a} + {money(p)} = {money(plus)}.",
                    f"The change is {bill} − {num(plus)} = {money(w_plus)}.",
                ],
                f"{bill} − ({a} + {num(p)}) = {money(w_plus)} in change.",
                f"The change is {money(w_plus)}.",
            ),
            w_plus,
        ),
    ]
    return MathItem(prompt, ans, f"{bill}-{a}*{num(p)}", correct, wrongs, ti)


def posts(rng: random.Random, pool: int) -> MathItem:
    templates = (
        (
            "A straight fence is {L} m long, with a post every {d} m, including one at each end. How many posts "
            "are there?",
            "Trees are planted along one side of a {L} m path, {d} m apart, with a tree at both ends. How many "
            "trees are there?",
        ),
        (
            "Lamp posts stand every {d} m along a straight {L} m street, with one at the start and one at the end. "
            "How many lamp posts are there?",
            "A {L} cm shelf has a bracket every {d} cm, starting at one end and finishing at the other. How many "
            "brackets does it have?",
        ),
    )
    ti, t = _pick(rng, pool, templates)
    d = D(rng.choice(("20", "25", "30", "40") if "cm" in t else ("2", "2.5", "3", "4", "5", "6", "8", "10")))
    k = rng.randrange(5, 31)
    L = d * k
    prompt = t.format(L=num(L), d=num(d))
    correct = sol(
        [
            f"{num(L)} ÷ {num(d)} = {k} gaps.",
            f"With one at each end there is one more than the gaps: {k} + 1 = {k + 1}.",
        ],
        f"{num(L)} ÷ {num(d)} = {k} gaps, and gaps + 1 = {k + 1}.",
        f"There are {k + 1}.",
    )
    wrongs = [
        ("off-by-one", sol([f"{num(L)} ÷ {num(d)} = {k}."], f"{num(L)} ÷ {num(d)} = {k}.", f"There are {k}."), D(k)),
        (
            "off-by-one",
            sol(
                [f"{num(L)} ÷ {num(d)} = {k}.", f"Adding one for each end gives {k} + 2 = {k + 2}."],
                f"{num(L)} ÷ {num(d)} + 2 = {k + 2}.",
                f"There are {k + 2}.",
            ),
            D(k + 2),
        ),
    ]
    return MathItem(prompt, D(k + 1), f"{num(L)}/{num(d)}+1", correct, wrongs, ti)


def inclusive(rng: random.Random, pool: int) -> MathItem:
    templates = (
        (
            ("{name} reads a book from page {p} to page {q}, inclusive. How many pages is that?", "pages"),
            ("A festival runs from June {p} to June {q}, both days included. How many days does it last?", "days"),
        ),
        (
            ("Tickets numbered {p} to {q} were all sold. How many tickets were sold?", "tickets"),
            ("How many whole numbers are there from {p} to {q}, counting both ends?", "numbers"),
        ),
    )
    ti = rng.randrange(len(templates[pool]))
    t, unit = templates[pool][ti]
    hi = 30 if "June" in t else 400
    p = rng.randrange(2, hi - 5)
    q = rng.randrange(p + 3, hi + 1)
    ans = q - p + 1
    prompt = t.format(name=rng.choice(NAMES[pool]), p=p, q=q)
    correct = sol(
        [f"{q} − {p} = {q - p} counts the steps between them.", f"Including both ends adds one: {q - p} + 1 = {ans}."],
        f"{q} − {p} + 1 = {ans} {unit}.",
        f"That is {ans} {unit}.",
    )
    wrongs = [
        (
            "off-by-one",
            sol([f"{q} − {p} = {q - p}."], f"{q} − {p} = {q - p} {unit}.", f"That is {q - p} {unit}."),
            D(q - p),
        ),
        (
            "off-by-one",
            sol(
                [f"{q} − {p} = {q - p}.", f"Both ends count, so add two: {q - p} + 2 = {q - p + 2}."],
                f"{q} − {p} + 2 = {q - p + 2} {unit}.",
                f"That is {q - p + 2} {unit}.",
            ),
            D(q - p + 2),
        ),
    ]
    return MathItem(prompt, D(ans), f"{q}-{p}+1", correct, wrongs, ti)


def average_needed(rng: random.Random, pool: int) -> MathItem:
    templates = (
        (
            "{name} scored {a}, {b}, {c} and {d} on four tests. What must {name} score on the fifth test to average "
            "exactly {m} over all five?",
        ),
        (
            "After four quizzes with marks {a}, {b}, {c} and {d}, what mark on a fifth quiz would make the mean of all "
            "five exactly {m}?",
        ),
    )
    scores = [rng.randrange(60, 96) for _ in range(4)]
    s = sum(scores)
    m = rng.randrange(70, 91)
    ans = 5 * m - s
    w4 = 4 * m - s
    if not 0 < ans <= 100 or ans == m or w4 <= 0 or s % 4:
        raise Retry
    ti, t = _pick(rng, pool, templates)
    a, b, c, d = scores
    prompt = t.format(name=rng.choice(NAMES[pool]), a=a, b=b, c=c, d=d, m=m)
    plus = f"{a} + {b} + {c} + {d}"
    correct = sol(
        [
            f"An average of {m} over five needs a total of 5 × {m} = {5 * m}.",
            f"The first four add up to {plus} = {s}.",
            f"So the fifth must be {5 * m} − {s} = {ans}.",
        ],
        f"5 × {m} − ({plus}) = {5 * m} − {s} = {ans}.",
        f"The fifth score must be {ans}.",
    )
    avg4 = s // 4
    wrongs = [
        (
            "off-by-one",
            sol(
                [
                    f"An average of {m} needs a total of 4 × {m} = {4 * m}.",
                    f"The four scores add up to {plus} = {s}.",
                    f"So the fifth must be {4 * m} − {s} = {w4}.",
                ],
                f"4 × {m} − ({plus}) = {4 * m} − {s} = {w4}.",
                f"The fifth score must be {w4}.",
            ),
            D(w4),
        ),
        (
            "wrong method",
            sol(
                [
                    f"The four scores average ({plus}) ÷ 4 = {avg4}.",
                    f"Matching that keeps the average, so the fifth should be {avg4}.",
                ],
                f"({plus}) ÷ 4 = {avg4}.",
                f"The fifth score must be {avg4}.",
            ),
            D(avg4),
        ),
    ]
    return MathItem(prompt, D(ans), f"5*{m}-({a}+{b}+{c}+{d})", correct, wrongs, ti)


def rate_minutes(rng: random.Random, pool: int) -> MathItem:
    templates = (
        (
            (
                "A machine makes {r} parts per hour. How many parts does it make in {h} hours and {mins} minutes?",
                "parts",
            ),
            ("A printer prints {r} pages an hour. How many pages does it print in {h} hours {mins} minutes?", "pages"),
        ),
        (
            (
                "A bakery oven turns out {r} rolls per hour. How many rolls does it bake in {h} hours {mins} minutes?",
                "rolls",
            ),
            (
                "If a filling line fills {r} bottles an hour, how many bottles does it fill in {h} hours and {mins} "
                "minutes?",
                "bottles",
            ),
        ),
    )
    r = rng.choice((12, 24, 30, 36, 48, 60, 90, 120))
    h = rng.randrange(1, 9)
    mins = rng.choice((15, 20, 30, 40, 45))
    if (r * mins) % 60:
        raise Retry
    a1, a2 = r * h, r * mins // 60
    ans = a1 + a2
    ti = rng.randrange(len(templates[pool]))
    t, unit = templates[pool][ti]
    prompt = t.format(r=r, h=h, mins=mins)
    correct = sol(
        [
            f"In {h} hours: {r} × {h} = {a1}.",
            f"In {mins} minutes: {r} × {mins}/60 = {a2}.",
            f"Total: {a1} + {a2} = {ans}.",
        ],
        f"{r} × {h} + {r} × {mins}/60 = {a1} + {a2} = {ans} {unit}.",
        f"It makes {ans} {unit}.",
    )
    slip = r * (h + D(mins) / 100)
    wrongs = [
        (
            "unit slip",
            sol(
                [f"{h} hours {mins} minutes is {h}.{mins} hours.", f"{r} × {h}.{mins} = {num(slip)}."],
                f"{r} × {h}.{mins} = {num(slip)} {unit}.",
                f"It makes {num(slip)} {unit}.",
            ),
            slip,
        ),
        (
            "dropped term",
            sol([f"In {h} hours: {r} × {h} = {a1}."], f"{r} × {h} = {a1} {unit}.", f"It makes {a1} {unit}."),
            D(a1),
        ),
    ]
    return MathItem(prompt, D(ans), f"{r}*{h}+{r}*{mins}/60", correct, wrongs, ti)


def growth(rng: random.Random, pool: int) -> MathItem:
    templates = (
        (
            (
                "A town has {P} people and its population grows by {r}% each year. What will the population be after "
                "2 years?",
                False,
            ),
            (
                "A savings account holds ${P} and earns {r}% interest per year, compounded yearly. How much is in it "
                "after 2 years?",
                True,
            ),
        ),
        (
            ("A colony of {P} bacteria grows by {r}% every hour. How many bacteria are there after 2 hours?", False),
            (
                "An investment of ${P} grows {r}% a year, with each year's growth added to it. What is it worth after "
                "two years?",
                True,
            ),
        ),
    )
    ti = rng.randrange(len(templates[pool]))
    t, is_money = templates[pool][ti]
    P = D(rng.randrange(4, 101) * 400)
    r = rng.choice((5, 10, 20, 25, 50))
    g = 1 + D(r) / 100
    y1 = P * g
    ans = y1 * g
    if not exact_cents(ans) or (not is_money and ans != ans.to_integral_value()):
        raise Retry
    fmt = money if is_money else num
    prompt = t.format(P=num(P), r=r)
    correct = sol(
        [
            f"After the first period: {num(P)} × {num(g)} = {fmt(y1)}.",
            f"After the second: {num(y1)} × {num(g)} = {fmt(ans)}.",
        ],
        f"{num(P)} × {num(g)} × {num(g)} = {fmt(ans)}.",
        f"After two periods it is {fmt(ans)}.",
    )
    simple = P * (1 + D(2 * r) / 100)
    wrongs = [
        (
            "dropped term",
            sol(
                [f"{r}% twice is {2 * r}% in total.", f"{num(P)} × {num(1 + D(2 * r) / 100)} = {fmt(simple)}."],
                f"{num(P)} × {num(1 + D(2 * r) / 100)} = {fmt(simple)}.",
                f"After two periods it is {fmt(simple)}.",
            ),
            simple,
        ),
        (
            "off-by-one",
            sol(
                [f"The growth is {r}%, so {num(P)} × {num(g)} = {fmt(y1)}."],
                f"{num(P)} × {num(g)} = {fmt(y1)}.",
                f"After two periods it is {fmt(y1)}.",
            ),
            y1,
        ),
    ]
    return MathItem(prompt, ans, f"{num(P)}*{num(g)}*{num(g)}", correct, wrongs, ti)


def split_bill(rng: random.Random, pool: int) -> MathItem:
    templates = (
        (
            "A dinner bill is ${B}. You add a {t}% tip and split the total evenly between you and {n} friends. How "
            "much does each person pay?",
        ),
        ("{name} and {n} friends share a taxi fare of ${B} plus a {t}% tip equally. What is each person's share?",),
    )
    B = D(rng.randrange(24, 241, 2))
    t = rng.choice((10, 15, 20, 25))
    n = rng.randrange(2, 6)
    tot = B * (100 + t) / 100
    ans = tot / (n + 1)
    if not exact_cents(tot) or not exact_cents(ans):
        raise Retry
    ti, tp = _pick(rng, pool, templates)
    prompt = tp.format(B=num(B), t=t, n=n, name=rng.choice(NAMES[pool]))
    correct = sol(
        [
            f"With the tip the total is {num(B)} × {100 + t}/100 = {money(tot)}.",
            f"There are {n} + 1 = {n + 1} people, so each pays {num(tot)} ÷ {n + 1} = {money(ans)}.",
        ],
        f"{num(B)} × {100 + t}/100 ÷ {n + 1} = {money(ans)} each.",
        f"Each person pays {money(ans)}.",
    )
    by_n = cents(tot / n)
    no_tip = cents(B / (n + 1))
    wrongs = [
        (
            "off-by-one",
            sol(
                [
                    f"With the tip the total is {num(B)} × {100 + t}/100 = {money(tot)}.",
                    f"Split {n} ways: {num(tot)} ÷ {n} = {money(by_n)}.",
                ],
                f"{num(B)} × {100 + t}/100 ÷ {n} = {money(by_n)} each.",
                f"Each person pays {money(by_n)}.",
            ),
            by_n,
        ),
        (
            "dropped term",
            sol(
                [f"There are {n + 1} people, so each pays {num(B)} ÷ {n + 1} = {money(no_tip)}."],
                f"{num(B)} ÷ {n + 1} = {money(no_tip)} each.",
                f"Each person pays {money(no_tip)}.",
            ),
            no_tip,
        ),
    ]
    return MathItem(prompt, ans, f"{num(B)}*(100+{t})/100/({n}+1)", correct, wrongs, ti)


def fuel(rng: random.Random, pool: int) -> MathItem:
    templates = (
        (
            "A car uses {c} litres of fuel per 100 km, and fuel costs ${p} per litre. How much does the fuel for a "
            "{dist} km trip cost?",
        ),
        ("Your van burns {c} L per 100 km and fuel is ${p} a litre. What will a {dist} km drive cost in fuel?",),
    )
    c = D(rng.choice(("5", "6", "6.5", "7", "8", "9", "10")))
    dist = rng.choice((120, 150, 200, 240, 300, 350, 400, 420, 500, 600))
    p = D(rng.choice(("1.5", "1.6", "1.8", "2", "2.2")))
    litres = D(dist) / 100 * c
    ans = litres * p
    if not exact_cents(ans):
        raise Retry
    ti, t = _pick(rng, pool, templates)
    prompt = t.format(c=num(c), dist=dist, p=money(p)[1:])
    correct = sol(
        [
            f"{dist} km is {num(D(dist) / 100)} hundreds of km, so the trip uses {num(D(dist) / 100)} × {num(c)} = "
            f"{num(litres)} litres.",
            f"At {money(p)} a litre: {num(litres)} × {num(p)} = {money(ans)}.",
        ],
        f"{dist}/100 × {num(c)} × {num(p)} = {money(ans)}.",
        f"The fuel costs {money(ans)}.",
    )
    l10 = D(dist) / 10 * c
    slip = cents(l10 * p)
    wrongs = [
        (
            "unit slip",
            sol(
                [
                    f"{dist} km is {num(D(dist) / 10)} lots of the rate, so {num(D(dist) / 10)} × {num(c)} = "
                    f"{num(l10)} litres.",
                    f"{num(l10)} × {num(p)} = {money(slip)}.",
                ],
                f"{dist}/10 × {num(c)} × {num(p)} = {money(slip)}.",
                f"The fuel costs {money(slip)}.",
            ),
            slip,
        ),
        (
            "dropped term",
            sol(
                [f"The trip uses {num(D(dist) / 100)} × {num(c)} = {num(litres)} litres, so it costs {money(litres)}."],
                f"{dist}/100 × {num(c)} = {money(litres)}.",
                f"The fuel costs {money(litres)}.",
            ),
            cents(litres),
        ),
    ]
    return MathItem(prompt, ans, f"{dist}/100*{num(c)}*{num(p)}", correct, wrongs, ti)


def paint(rng: random.Random, pool: int) -> MathItem:
    templates = (
        (
            "A wall is {W} m wide and {H} m high, with a window {a} m by {b} m in it. One litre of paint covers {c} "
            "square metres. How many litres does one coat of the wall need, leaving out the window?",
        ),
        (
            "How many litres of paint does one coat need for a {W} m by {H} m wall with a {a} m by {b} m doorway in "
            "it, if a litre covers {c} square metres and the doorway is not painted?",
        ),
    )
    W = D(rng.randrange(3, 9))
    H = D(rng.choice(("2.4", "2.5", "3")))
    ti, t = _pick(rng, pool, templates)
    openings = (("0.8", "2"), ("0.9", "2"), ("1", "2")) if "doorway" in t else (("1", "1"), ("1.5", "1"), ("2", "1.2"))
    a, b = (D(x) for x in rng.choice(openings))
    c = D(rng.choice((4, 5, 8, 10)))
    area, hole = W * H, a * b
    net = area - hole
    ans = net / c
    if not exact_cents(ans):
        raise Retry
    prompt = t.format(W=num(W), H=num(H), a=num(a), b=num(b), c=num(c))
    correct = sol(
        [
            f"Wall: {num(W)} × {num(H)} = {num(area)} square metres.",
            f"Opening: {num(a)} × {num(b)} = {num(hole)}.",
            f"To paint: {num(area)} − {num(hole)} = {num(net)}.",
            f"Paint: {num(net)} ÷ {num(c)} = {num(ans)} litres.",
        ],
        f"({num(W)} × {num(H)} − {num(a)} × {num(b)}) ÷ {num(c)} = {num(ans)} litres.",
        f"It needs {num(ans)} litres.",
    )
    w_drop = cents(area / c)
    w_add = cents((area + hole) / c)
    wrongs = [
        (
            "dropped term",
            sol(
                [
                    f"Wall: {num(W)} × {num(H)} = {num(area)} square metres.",
                    f"Paint: {num(area)} ÷ {num(c)} = {num(w_drop)} litres.",
                ],
                f"{num(W)} × {num(H)} ÷ {num(c)} = {num(w_drop)} litres.",
                f"It needs {num(w_drop)} litres.",
            ),
            w_drop,
        ),
        (
            "wrong operator",
            sol(
                [
                    f"Wall: {num(W)} × {num(H)} = {num(area)} square metres.",
                    f"Opening: {num(a)} × {num(b)} = {num(hole)}.",
                    f"Total: {num(area)} + {num(hole)} = {num(area + hole)}.",
                    f"Paint: {num(area + hole)} ÷ {num(c)} = {num(w_add)} litres.",
                ],
                f"({num(W)} × {num(H)} + {num(a)} × {num(b)}) ÷ {num(c)} = {num(w_add)} litres.",
                f"It needs {num(w_add)} litres.",
            ),
            w_add,
        ),
    ]
    return MathItem(prompt, ans, f"({num(W)}*{num(H)}-{num(a)}*{num(b)})/{num(c)}", correct, wrongs, ti)


def stairs(rng: random.Random, pool: int) -> MathItem:
    templates = (
        (
            "Each flight of stairs between two floors has {s} steps. How many steps does {name} climb going from "
            "floor {a} to floor {b}?",
        ),
        (
            "A building has {s} steps between each pair of neighbouring floors. How many steps are there from floor "
            "{a} up to floor {b}?",
        ),
    )
    s = rng.randrange(12, 23)
    a = rng.randrange(1, 6)
    b = rng.randrange(a + 2, 13)
    f = b - a
    ti, t = _pick(rng, pool, templates)
    prompt = t.format(s=s, a=a, b=b, name=rng.choice(NAMES[pool]))
    correct = sol(
        [f"Floor {a} to floor {b} is {b} − {a} = {f} flights.", f"{f} × {s} = {f * s} steps."],
        f"({b} − {a}) × {s} = {f * s} steps.",
        f"That is {f * s} steps.",
    )
    wrongs = [
        (
            "off-by-one",
            sol(
                [f"Floors {a} to {b} are {b} − {a} + 1 = {f + 1} floors.", f"{f + 1} × {s} = {(f + 1) * s} steps."],
                f"({b} − {a} + 1) × {s} = {(f + 1) * s} steps.",
                f"That is {(f + 1) * s} steps.",
            ),
            D((f + 1) * s),
        ),
        (
            "dropped term",
            sol(
                [f"Floor {b} is {b} flights up.", f"{b} × {s} = {b * s} steps."],
                f"{b} × {s} = {b * s} steps.",
                f"That is {b * s} steps.",
            ),
            D(b * s),
        ),
    ]
    return MathItem(prompt, D(f * s), f"({b}-{a})*{s}", correct, wrongs, ti)


def boxes(rng: random.Random, pool: int) -> MathItem:
    templates = (
        (
            (
                "{N} books are packed into boxes that hold {k} books each. How many boxes are needed for all of them?",
                "boxes",
            ),
        ),
        (
            (
                "A school needs to seat {N} students at tables of {k}. How many tables are needed so everyone has a "
                "seat?",
                "tables",
            ),
        ),
    )
    k = rng.randrange(4, 13)
    N = rng.randrange(3 * k, 20 * k)
    q, r = divmod(N, k)
    if r == 0:
        raise Retry
    ti = rng.randrange(len(templates[pool]))
    t, unit = templates[pool][ti]
    prompt = t.format(N=N, k=k)
    correct = sol(
        [f"{N} ÷ {k} = {q} remainder {r}.", f"The {r} left over still need one more, so {q} + 1 = {q + 1} {unit}."],
        f"{N} ÷ {k} = {q} r {r}, rounded up to {q + 1} {unit}.",
        f"You need {q + 1} {unit}.",
    )
    wrongs = [
        (
            "missing case",
            sol(
                [f"{N} ÷ {k} = {q} remainder {r}.", f"So {q} {unit} are needed."],
                f"{N} ÷ {k} = {q} {unit}.",
                f"You need {q} {unit}.",
            ),
            D(q),
        ),
        (
            "off-by-one",
            sol(
                [
                    f"{N} ÷ {k} = {q} remainder {r}.",
                    f"Add one for the remainder and one spare: {q} + 2 = {q + 2} {unit}.",
                ],
                f"{N} ÷ {k} + 2 = {q + 2} {unit}.",
                f"You need {q + 2} {unit}.",
            ),
            D(q + 2),
        ),
    ]
    return MathItem(prompt, D(q + 1), f"ceil({N}/{k})", correct, wrongs, ti)


def duration(rng: random.Random, pool: int) -> MathItem:
    templates = (
        ("A film starts at {h1}:{m1} pm and ends at {h2}:{m2} pm the same evening. How many minutes long is it?",),
        (
            "A train leaves at {h1}:{m1} and arrives at {h2}:{m2} later the same day. How many minutes does the "
            "journey take?",
        ),
    )
    h1 = rng.randrange(1, 8) + (12 if pool else 0)
    m1 = rng.randrange(5, 56, 5)
    length = rng.randrange(65, 180)
    end = h1 * 60 + m1 + length
    h2, m2 = divmod(end, 60)
    if m2 >= m1 or h2 >= (22 if pool else 11):
        raise Retry  # a borrow makes the unit slip visible
    ti, t = _pick(rng, pool, templates)
    hm = lambda h, m: f"{h}:{m:02d}"  # noqa: E731
    prompt = t.format(h1=h1, m1=f"{m1:02d}", h2=h2, m2=f"{m2:02d}")
    mid = (h2 - h1 - 1) * 60 + m2
    correct = sol(
        [
            f"From {hm(h1, m1)} to {h1 + 1}:00 is {60 - m1} minutes.",
            f"From {h1 + 1}:00 to {hm(h2, m2)} is {mid} minutes.",
            f"Total: {60 - m1} + {mid} = {length} minutes.",
        ],
        f"{60 - m1} + {mid} = {length} minutes.",
        f"It lasts {length} minutes.",
    )
    slip = (h2 * 100 + m2) - (h1 * 100 + m1)
    hours_only = (h2 - h1) * 60
    wrongs = [
        (
            "unit slip",
            sol(
                [f"Subtracting the times: {h2}{m2:02d} − {h1}{m1:02d} = {slip}."],
                f"{h2}{m2:02d} − {h1}{m1:02d} = {slip} minutes.",
                f"It lasts {slip} minutes.",
            ),
            D(slip),
        ),
        (
            "dropped term",
            sol(
                [
                    f"It runs from {h1} o'clock to {h2} o'clock, which is {h2 - h1} hours.",
                    f"{h2 - h1} × 60 = {hours_only} minutes.",
                ],
                f"({h2} − {h1}) × 60 = {hours_only} minutes.",
                f"It lasts {hours_only} minutes.",
            ),
            D(hours_only),
        ),
    ]
    return MathItem(prompt, D(length), f"({h2}*60+{m2})-({h1}*60+{m1})", correct, wrongs, ti)


def scale_recipe(rng: random.Random, pool: int) -> MathItem:
    templates = (
        (("A recipe for {s} people uses {g} g of flour. How much flour is needed for {t} people?", "g"),),
        (("A soup that serves {s} needs {g} ml of stock. How much stock is needed to serve {t}?", "ml"),),
    )
    s = rng.randrange(2, 9)
    t = rng.randrange(2, 13)
    per = rng.randrange(15, 121, 5)
    g = per * s
    ans = per * t
    w_inv = D(g * s) / t
    if t == s or not exact_cents(w_inv):
        raise Retry
    ti = rng.randrange(len(templates[pool]))
    tp, unit = templates[pool][ti]
    prompt = tp.format(s=s, g=g, t=t)
    correct = sol(
        [f"Per person: {g} ÷ {s} = {per} {unit}.", f"For {t}: {per} × {t} = {ans} {unit}."],
        f"{g} ÷ {s} × {t} = {ans} {unit}.",
        f"You need {ans} {unit}.",
    )
    wrongs = [
        (
            "wrong operator",
            sol(
                [f"Scale by the ratio of servings: {g} × {s} ÷ {t} = {num(w_inv)} {unit}."],
                f"{g} × {s} ÷ {t} = {num(w_inv)} {unit}.",
                f"You need {num(w_inv)} {unit}.",
            ),
            w_inv,
        ),
        (
            "dropped term",
            sol(
                [f"Multiply by the number of people: {g} × {t} = {g * t} {unit}."],
                f"{g} × {t} = {g * t} {unit}.",
                f"You need {g * t} {unit}.",
            ),
            D(g * t),
        ),
    ]
    return MathItem(prompt, D(ans), f"{g}/{s}*{t}", correct, wrongs, ti)


# -- plain arithmetic ---------------------------------------------------------------------------

ARITH_TEMPLATES = (("What is {e}?", "Compute {e}."), ("Calculate {e}.", "Work out {e} and give the result."))


def _arith(rng: random.Random, pool: int, e: str) -> tuple[int, str]:
    ti, t = _pick(rng, pool, ARITH_TEMPLATES)
    return ti, t.format(e=e)


def add_mul(rng: random.Random, pool: int) -> MathItem:
    a, b, c = rng.randrange(11, 99), rng.randrange(3, 19), rng.randrange(3, 19)
    ans = a + b * c
    ti, prompt = _arith(rng, pool, f"{a} + {b} × {c}")
    correct = sol(
        [f"Multiplication comes first: {b} × {c} = {b * c}.", f"Then {a} + {b * c} = {ans}."],
        f"{b} × {c} = {b * c}, and {a} + {b * c} = {ans}.",
        f"The answer is {ans}.",
    )
    slip = b * c + rng.choice((10, -10))
    wrongs = [
        (
            "wrong order",
            sol(
                [f"Left to right: {a} + {b} = {a + b}.", f"Then {a + b} × {c} = {(a + b) * c}."],
                f"({a} + {b}) × {c} = {(a + b) * c}.",
                f"The answer is {(a + b) * c}.",
            ),
            D((a + b) * c),
        ),
        (
            "arithmetic slip",
            sol(
                [f"Multiplication comes first: {b} × {c} = {slip}.", f"Then {a} + {slip} = {a + slip}."],
                f"{b} × {c} = {slip}, and {a} + {slip} = {a + slip}.",
                f"The answer is {a + slip}.",
            ),
            D(a + slip),
        ),
    ]
    return MathItem(prompt, D(ans), f"{a}+{b}*{c}", correct, wrongs, ti)


def mul_sub(rng: random.Random, pool: int) -> MathItem:
    a, b = rng.randrange(12, 60), rng.randrange(12, 60)
    c = rng.randrange(5, 90)
    ans = a * b - c
    ti, prompt = _arith(rng, pool, f"{a} × {b} − {c}")
    correct = sol(
        [f"First {a} × {b} = {a * b}.", f"Then {a * b} − {c} = {ans}."],
        f"{a * b} − {c} = {ans}.",
        f"The answer is {ans}.",
    )
    slip = a * b + rng.choice((10, -10, 100))
    wrongs = [
        (
            "wrong order",
            sol(
                [f"First {b} − {c} = {b - c}.", f"Then {a} × {b - c} = {a * (b - c)}."],
                f"{a} × ({b} − {c}) = {a * (b - c)}.",
                f"The answer is {a * (b - c)}.",
            ),
            D(a * (b - c)),
        ),
        (
            "arithmetic slip",
            sol(
                [f"First {a} × {b} = {slip}.", f"Then {slip} − {c} = {slip - c}."],
                f"{slip} − {c} = {slip - c}.",
                f"The answer is {slip - c}.",
            ),
            D(slip - c),
        ),
    ]
    if b - c <= 0:
        wrongs = wrongs[1:]  # a negative bracket would look contrived
    return MathItem(prompt, D(ans), f"{a}*{b}-{c}", correct, wrongs, ti)


def bracket(rng: random.Random, pool: int) -> MathItem:
    a = rng.randrange(20, 99)
    b = rng.randrange(2, a - 5)
    c, d = rng.randrange(2, 13), rng.randrange(3, 50)
    ans = (a - b) * c + d
    ti, prompt = _arith(rng, pool, f"({a} − {b}) × {c} + {d}")
    correct = sol(
        [
            f"Bracket first: {a} − {b} = {a - b}.",
            f"Then {a - b} × {c} = {(a - b) * c}.",
            f"Finally {(a - b) * c} + {d} = {ans}.",
        ],
        f"{a - b} × {c} + {d} = {ans}.",
        f"The answer is {ans}.",
    )
    wrongs = [
        (
            "dropped term",
            sol(
                [f"Bracket first: {a} − {b} = {a - b}.", f"Then {a - b} × {c} = {(a - b) * c}."],
                f"{a - b} × {c} = {(a - b) * c}.",
                f"The answer is {(a - b) * c}.",
            ),
            D((a - b) * c),
        ),
        (
            "wrong order",
            sol(
                [f"{b} × {c} = {b * c}.", f"{a} − {b * c} + {d} = {a - b * c + d}."],
                f"{a} − {b * c} + {d} = {a - b * c + d}.",
                f"The answer is {a - b * c + d}.",
            ),
            D(a - b * c + d),
        ),
    ]
    return MathItem(prompt, D(ans), f"({a}-{b})*{c}+{d}", correct, wrongs, ti)


def percent_of(rng: random.Random, pool: int) -> MathItem:
    p = rng.choice((5, 12, 15, 20, 25, 30, 35, 40, 45, 60, 75))
    n = rng.randrange(4, 100) * 20
    ans = D(n * p) / 100
    ti, prompt = _arith(rng, pool, f"{p}% of {n}")
    correct = sol(
        [f"{p}% means {p}/100.", f"{n} × {p}/100 = {num(ans)}."],
        f"{n} × {p} ÷ 100 = {num(ans)}.",
        f"The answer is {num(ans)}.",
    )
    slip = D(n * p) / 10
    wrongs = [
        (
            "unit slip",
            sol(
                [f"{p}% means {p}/10.", f"{n} × {p}/10 = {num(slip)}."],
                f"{n} × {p} ÷ 10 = {num(slip)}.",
                f"The answer is {num(slip)}.",
            ),
            slip,
        ),
    ]
    return MathItem(prompt, ans, f"{n}*{p}/100", correct, wrongs, ti)


def range_sum(rng: random.Random, pool: int) -> MathItem:
    a = rng.randrange(1, 40)
    b = rng.randrange(a + 5, a + 60)
    n = b - a + 1
    ans = (a + b) * n // 2
    ti, t = _pick(
        rng,
        pool,
        (
            ("What is the sum of all whole numbers from {a} to {b}, inclusive?",),
            ("Add up every integer from {a} through {b} (both included). What is the total?",),
        ),
    )
    prompt = t.format(a=a, b=b)
    correct = sol(
        [
            f"There are {b} − {a} + 1 = {n} numbers.",
            f"Their average is ({a} + {b}) / 2 = {num(D(a + b) / 2)}.",
            f"Sum: {n} × {num(D(a + b) / 2)} = {ans}.",
        ],
        f"({a} + {b}) × {n} ÷ 2 = {ans}.",
        f"The sum is {ans}.",
    )
    w = (a + b) * (n - 1) / D(2)
    wrongs = [
        (
            "off-by-one",
            sol(
                [
                    f"There are {b} − {a} = {n - 1} numbers.",
                    f"Their average is ({a} + {b}) / 2 = {num(D(a + b) / 2)}.",
                    f"Sum: {n - 1} × {num(D(a + b) / 2)} = {num(w)}.",
                ],
                f"({a} + {b}) × {n - 1} ÷ 2 = {num(w)}.",
                f"The sum is {num(w)}.",
            ),
            w,
        ),
    ]
    return MathItem(prompt, D(ans), f"({a}+{b})*({b}-{a}+1)/2", correct, wrongs, ti)


def multiples(rng: random.Random, pool: int) -> MathItem:
    k = rng.randrange(3, 14)
    n = rng.randrange(40, 400)
    if n % k == 0:
        raise Retry
    ans = n // k
    ti, t = _pick(
        rng,
        pool,
        (
            ("How many multiples of {k} are there from 1 to {n}, inclusive?",),
            ("Counting from 1 up to and including {n}, how many numbers are divisible by {k}?",),
        ),
    )
    prompt = t.format(k=k, n=n)
    correct = sol(
        [f"{n} ÷ {k} = {ans} remainder {n % k}.", f"Only whole multiples count, so the remainder is dropped: {ans}."],
        f"floor({n} / {k}) = {ans}.",
        f"There are {ans}.",
    )
    wrongs = [
        (
            "off-by-one",
            sol(
                [f"{n} ÷ {k} = {ans} r {n % k}.", f"The leftover part needs one more: {ans + 1}."],
                f"{n} ÷ {k} rounded up = {ans + 1}.",
                f"There are {ans + 1}.",
            ),
            D(ans + 1),
        ),
    ]
    return MathItem(prompt, D(ans), f"floor({n}/{k})", correct, wrongs, ti)


def squares(rng: random.Random, pool: int) -> MathItem:
    a = rng.randrange(8, 40)
    b = rng.randrange(3, a - 2)
    ans = a * a - b * b
    ti, prompt = _arith(rng, pool, f"{a} squared minus {b} squared")
    correct = sol(
        [f"{a} squared is {a * a} and {b} squared is {b * b}.", f"{a * a} − {b * b} = {ans}."],
        f"{a * a} − {b * b} = {ans}.",
        f"The answer is {ans}.",
    )
    wrongs = [
        (
            "wrong method",
            sol(
                [f"That is ({a} − {b}) squared.", f"{a - b} squared is {(a - b) ** 2}."],
                f"({a} − {b}) squared = {(a - b) ** 2}.",
                f"The answer is {(a - b) ** 2}.",
            ),
            D((a - b) ** 2),
        ),
        (
            "wrong operator",
            sol(
                [f"{a} squared is {a * 2} and {b} squared is {b * 2}.", f"{a * 2} − {b * 2} = {2 * (a - b)}."],
                f"{a * 2} − {b * 2} = {2 * (a - b)}.",
                f"The answer is {2 * (a - b)}.",
            ),
            D(2 * (a - b)),
        ),
    ]
    return MathItem(prompt, D(ans), f"{a}**2-{b}**2", correct, wrongs, ti)


def div_add(rng: random.Random, pool: int) -> MathItem:
    b = rng.randrange(3, 13)
    a = b * rng.randrange(4, 30)
    c, d = rng.randrange(2, 12), rng.randrange(2, 12)
    ans = a // b + c * d
    ti, prompt = _arith(rng, pool, f"{a} ÷ {b} + {c} × {d}")
    correct = sol(
        [
            f"Division and multiplication first: {a} ÷ {b} = {a // b} and {c} × {d} = {c * d}.",
            f"Then {a // b} + {c * d} = {ans}.",
        ],
        f"{a // b} + {c * d} = {ans}.",
        f"The answer is {ans}.",
    )
    lr = (a // b + c) * d
    wrongs = [
        (
            "wrong order",
            sol(
                [
                    f"Left to right: {a} ÷ {b} = {a // b}, then {a // b} + {c} = {a // b + c}.",
                    f"Then {a // b + c} × {d} = {lr}.",
                ],
                f"({a // b} + {c}) × {d} = {lr}.",
                f"The answer is {lr}.",
            ),
            D(lr),
        ),
        (
            "wrong operator",
            sol(
                [f"{a} ÷ {b} = {a // b} and {c} × {d} = {c * d}.", f"Then {a // b} × {c * d} = {a // b * c * d}."],
                f"{a // b} × {c * d} = {a // b * c * d}.",
                f"The answer is {a // b * c * d}.",
            ),
            D(a // b * c * d),
        ),
    ]
    return MathItem(prompt, D(ans), f"{a}/{b}+{c}*{d}", correct, wrongs, ti)


WORD_FAMILIES: dict[str, Callable[[random.Random, int], MathItem]] = {
    "discount_tax": discount_tax,
    "two_legs": two_legs,
    "laps": laps,
    "change": change,
    "posts": posts,
    "inclusive_count": inclusive,
    "average_needed": average_needed,
    "rate_minutes": rate_minutes,
    "growth": growth,
    "split_bill": split_bill,
    "fuel": fuel,
    "paint": paint,
    "stairs": stairs,
    "boxes": boxes,
    "duration": duration,
    "scale_recipe": scale_recipe,
}
ARITH_FAMILIES: dict[str, Callable[[random.Random, int], MathItem]] = {
    "add_mul": add_mul,
    "mul_sub": mul_sub,
    "bracket": bracket,
    "percent_of": percent_of,
    "range_sum": range_sum,
    "multiples": multiples,
    "squares": squares,
    "div_add": div_add,
}


def draw(family: Callable[[random.Random, int], MathItem], rng: random.Random, pool: int) -> MathItem:
    """One well-formed item: redraw while the numbers make a degenerate problem or a wrong answer equals the right one."""
    for _ in range(500):
        try:
            item = family(rng, pool)
        except Retry:
            continue
        item.wrongs = [w for w in item.wrongs if w[2] != item.answer]
        if item.wrongs:
            return item
    raise RuntimeError(f"{family.__name__}: no valid draw in 500 tries")
