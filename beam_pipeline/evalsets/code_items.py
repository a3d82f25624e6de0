"""Small Python tasks with a correct solution (two styles) and bugs of different kinds, plus test inputs.

Expected outputs come from a separate reference function (``ref``), never from the
solutions themselves; the builder keeps a pair only if the chosen code passes every test
and the rejected code fails at least one. ``{fn}`` and the task's parameters are filled into
the templates with :func:`beam_pipeline.evalsets.common.fill`, so other braces in the code stay.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Args = tuple[Any, ...]


@dataclass(frozen=True)
class CodeFamily:
    key: str
    names: tuple[tuple[str, ...], tuple[str, ...]]  # function names: dev pool, held-out pool
    params: tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]
    prompts: tuple[tuple[str, ...], tuple[str, ...]]
    correct: tuple[str, ...]
    bugs: tuple[tuple[str, str], ...]  # (kind, code)
    explain: str  # what the code is meant to do (true of the chosen code only)
    ref: Callable[[dict[str, Any]], Callable[..., Any]]
    cases: Callable[[dict[str, Any], random.Random], list[Args]]


def _ints(rng: random.Random, n: int, lo: int = -20, hi: int = 30) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(n)]


def _words(rng: random.Random) -> str:
    vocab = ("apple", "Tree", "sky", "ocean", "BLUE", "quiet", "Idea", "run", "you", "rhythm", "eerie", "cat")
    return " ".join(rng.choice(vocab) for _ in range(rng.randint(2, 6)))


def _runs(s: str) -> list[tuple[str, int]]:
    """Runs of equal characters, written independently of the solutions (for the reference output)."""
    runs: list[tuple[str, int]] = []
    for ch in s:
        if runs and runs[-1][0] == ch:
            runs[-1] = (ch, runs[-1][1] + 1)
        else:
            runs.append((ch, 1))
    return runs


NO_PARAMS: tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]] = (({},), ({},))

FAMILIES: tuple[CodeFamily, ...] = (
    CodeFamily(
        key="sum_multiples",
        names=(("sum_multiples", "sum_divisible"), ("total_multiples", "add_multiples")),
        params=(({"k": 2}, {"k": 3}, {"k": 5}), ({"k": 4}, {"k": 6}, {"k": 7})),
        prompts=(
            (
                "Write a Python function {fn}(nums) that returns the sum of the numbers in the list nums that are "
                "divisible by {k}.",
                "Implement {fn}(nums) in Python: add up every element of nums that is a multiple of {k} and return "
                "the total (0 for an empty list).",
            ),
            (
                "In Python, write {fn}(nums), which returns the total of all values in nums that {k} divides evenly.",
                "I need a Python function {fn}(nums) returning the sum of the multiples of {k} in the list nums.",
            ),
        ),
        correct=(
            "def {fn}(nums):\n    return sum(x for x in nums if x % {k} == 0)",
            "def {fn}(nums):\n    total = 0\n    for x in nums:\n        if x % {k} == 0:\n            total += x\n"
            "    return total",
        ),
        bugs=(
            (
                "off-by-one",
                "def {fn}(nums):\n    total = 0\n    for i in range(1, len(nums)):\n        if nums[i] % {k} == 0:\n"
                "            total += nums[i]\n    return total",
            ),
            ("wrong operator", "def {fn}(nums):\n    return sum(x for x in nums if x % {k} != 0)"),
            ("wrong operator", "def {fn}(nums):\n    return sum(x for x in nums if x // {k} == 0)"),
        ),
        explain="It adds up only the elements that are exact multiples of {k}.",
        ref=lambda p: lambda nums: sum(x for x in nums if x % p["k"] == 0),
        cases=lambda p, rng: [
            ([],),
            ([p["k"], 1, 2 * p["k"]],),
            ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10],),
            ([-p["k"], 3 * p["k"], 1],),
            (_ints(rng, 8),),
        ],
    ),
    CodeFamily(
        key="reverse_words",
        names=(("reverse_words", "flip_words"), ("words_backwards", "reverse_word_order")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(s) that returns the words of the string s in reverse order, joined "
                "by single spaces. Extra spaces in s should be ignored.",
                "Implement {fn}(s): given a sentence s, return a string with its words in the opposite order, "
                "separated by one space each (ignore leading, trailing and repeated spaces).",
            ),
            (
                "In Python, write {fn}(s) that reverses the order of the words in s (words are separated by any "
                "amount of whitespace) and joins them with single spaces.",
                "Create a Python function {fn}(s) that returns s with its words reversed in order, normalising the "
                "spacing to one space between words.",
            ),
        ),
        correct=(
            "def {fn}(s):\n    return ' '.join(reversed(s.split()))",
            "def {fn}(s):\n    words = s.split()\n    words.reverse()\n    return ' '.join(words)",
        ),
        bugs=(
            ("wrong operation", "def {fn}(s):\n    return s[::-1]"),
            ("missing case", "def {fn}(s):\n    return ' '.join(s.split(' ')[::-1])"),
            ("off-by-one", "def {fn}(s):\n    words = s.split()\n    return ' '.join(words[len(words) - 1:0:-1])"),
        ),
        explain="It splits on whitespace, reverses the list of words and joins them with single spaces.",
        ref=lambda p: lambda s: " ".join(s.split()[::-1]),
        cases=lambda p, rng: [
            ("",),
            ("one",),
            ("hello world",),
            ("  a  b c ",),
            ("The quick brown fox",),
            (_words(rng),),
        ],
    ),
    CodeFamily(
        key="count_vowels",
        names=(("count_vowels", "vowel_count"), ("num_vowels", "vowels_in")),
        params=(
            ({"chars": "aeiou", "short": "aeio", "what": "vowels (a, e, i, o, u)"},),
            ({"chars": "aeiouy", "short": "aeiou", "what": "vowels, counting y as a vowel (a, e, i, o, u, y)"},),
        ),
        prompts=(
            (
                "Write a Python function {fn}(s) that returns how many {what} the string s contains, ignoring case.",
                "Implement {fn}(s) in Python to count the {what} in s; upper- and lower-case letters both count.",
            ),
            (
                "Write {fn}(s) in Python: return the number of {what} in s, case-insensitively.",
                "I need a Python function {fn}(s) that counts the {what} in a string s, treating capitals the same "
                "as small letters.",
            ),
        ),
        correct=(
            "def {fn}(s):\n    return sum(1 for c in s.lower() if c in '{chars}')",
            "def {fn}(s):\n    count = 0\n    for ch in s:\n        if ch.lower() in '{chars}':\n            count += 1\n"
            "    return count",
        ),
        bugs=(
            ("missing case", "def {fn}(s):\n    return sum(1 for c in s if c in '{chars}')"),
            ("missing case", "def {fn}(s):\n    return sum(1 for c in s.lower() if c in '{short}')"),
            (
                "off-by-one",
                "def {fn}(s):\n    count = 0\n    for i in range(len(s) - 1):\n        if s[i].lower() in '{chars}':\n"
                "            count += 1\n    return count",
            ),
        ),
        explain="It lower-cases each character and counts the ones in '{chars}'.",
        ref=lambda p: lambda s: sum(1 for c in s.lower() if c in p["chars"]),
        cases=lambda p, rng: [
            ("",),
            ("AEIOU",),
            ("Hello World",),
            ("rhythm",),
            ("queue",),
            ("Yummy",),
            ("banana",),
            (_words(rng),),
        ],
    ),
    CodeFamily(
        key="clamp",
        names=(("clamp", "clip_value"), ("bound", "limit_to_range")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(x, lo, hi) that returns x limited to the range [lo, hi]: lo if x is "
                "below lo, hi if x is above hi, else x. Assume lo <= hi.",
                "Implement {fn}(x, lo, hi) in Python so that it clamps x into the closed interval from lo to hi "
                "(lo <= hi).",
            ),
            (
                "In Python, write {fn}(x, lo, hi) returning the value in [lo, hi] closest to x (you may assume "
                "lo <= hi).",
                "Create a Python function {fn}(x, lo, hi): if x < lo return lo, if x > hi return hi, otherwise return x.",
            ),
        ),
        correct=(
            "def {fn}(x, lo, hi):\n    return max(lo, min(x, hi))",
            "def {fn}(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x",
        ),
        bugs=(
            ("wrong operator", "def {fn}(x, lo, hi):\n    return min(lo, max(x, hi))"),
            ("missing case", "def {fn}(x, lo, hi):\n    if x < lo:\n        return lo\n    return x"),
            (
                "wrong value",
                "def {fn}(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return lo\n"
                "    return x",
            ),
        ),
        explain="It returns lo for values below the range, hi for values above it, and x otherwise.",
        ref=lambda p: lambda x, lo, hi: max(lo, min(x, hi)),
        cases=lambda p, rng: [
            (5, 0, 10),
            (-3, 0, 10),
            (12, 0, 10),
            (0, 0, 10),
            (10, 0, 10),
            (-5, -10, -1),
            (rng.randint(-50, 50), -20, 20),
        ],
    ),
    CodeFamily(
        key="fizzbuzz",
        names=(("fizzbuzz", "word_game"), ("fizz_list", "number_words")),
        params=(
            ({"a": 3, "b": 5, "w1": "Fizz", "w2": "Buzz"}, {"a": 2, "b": 7, "w1": "Foo", "w2": "Bar"}),
            ({"a": 3, "b": 7, "w1": "Ping", "w2": "Pong"}, {"a": 4, "b": 5, "w1": "Tic", "w2": "Tac"}),
        ),
        prompts=(
            (
                "Write a Python function {fn}(n) that returns a list of strings for the numbers 1 to n: '{w1}' for "
                "multiples of {a}, '{w2}' for multiples of {b}, '{w1}{w2}' for multiples of both, and the number "
                "itself (as a string) otherwise.",
                "Implement {fn}(n) in Python: for each i from 1 to n inclusive, produce '{w1}{w2}' if i is "
                "divisible by both {a} and {b}, '{w1}' if only by {a}, '{w2}' if only by {b}, else str(i). Return "
                "the list.",
            ),
            (
                "In Python, write {fn}(n) returning ['1', '2', ...] up to n, except that multiples of {a} become "
                "'{w1}', multiples of {b} become '{w2}', and multiples of both become '{w1}{w2}'.",
                "Create a Python function {fn}(n) for a counting game: go from 1 to n inclusive and replace "
                "multiples of {a} by '{w1}', multiples of {b} by '{w2}' and common multiples by '{w1}{w2}'; return "
                "the list of strings.",
            ),
        ),
        correct=(
            "def {fn}(n):\n    out = []\n    for i in range(1, n + 1):\n        if i % {a} == 0 and i % {b} == 0:\n"
            "            out.append('{w1}{w2}')\n        elif i % {a} == 0:\n            out.append('{w1}')\n"
            "        elif i % {b} == 0:\n            out.append('{w2}')\n        else:\n            out.append(str(i))\n"
            "    return out",
            "def {fn}(n):\n    result = []\n    for i in range(1, n + 1):\n        word = ''\n        if i % {a} == 0:\n"
            "            word += '{w1}'\n        if i % {b} == 0:\n            word += '{w2}'\n"
            "        result.append(word or str(i))\n    return result",
        ),
        bugs=(
            (
                "off-by-one",
                "def {fn}(n):\n    out = []\n    for i in range(1, n):\n        if i % {a} == 0 and i % {b} == 0:\n"
                "            out.append('{w1}{w2}')\n        elif i % {a} == 0:\n            out.append('{w1}')\n"
                "        elif i % {b} == 0:\n            out.append('{w2}')\n        else:\n"
                "            out.append(str(i))\n    return out",
            ),
            (
                "missing case",
                "def {fn}(n):\n    out = []\n    for i in range(1, n + 1):\n        if i % {a} == 0:\n"
                "            out.append('{w1}')\n        elif i % {b} == 0:\n            out.append('{w2}')\n"
                "        elif i % {a} == 0 and i % {b} == 0:\n            out.append('{w1}{w2}')\n        else:\n"
                "            out.append(str(i))\n    return out",
            ),
            (
                "off-by-one",
                "def {fn}(n):\n    result = []\n    for i in range(n):\n        word = ''\n        if i % {a} == 0:\n"
                "            word += '{w1}'\n        if i % {b} == 0:\n            word += '{w2}'\n"
                "        result.append(word or str(i))\n    return result",
            ),
        ),
        explain="It checks each number from 1 to n against {a} and {b} and builds the list of words.",
        ref=lambda p: (
            lambda n: [
                (p["w1"] if i % p["a"] == 0 else "") + (p["w2"] if i % p["b"] == 0 else "") or str(i)
                for i in range(1, n + 1)
            ]
        ),
        cases=lambda p, rng: [(0,), (1,), (p["a"],), (p["a"] * p["b"],), (p["a"] * p["b"] + 1,), (rng.randint(8, 25),)],
    ),
    CodeFamily(
        key="running_max",
        names=(("running_max", "prefix_max"), ("cumulative_max", "max_so_far")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(nums) that returns a list whose i-th element is the largest of "
                "nums[0..i] (the running maximum). An empty list gives an empty list.",
                "Implement {fn}(nums) in Python: return the running maximum of the list, i.e. for each position the "
                "maximum of all elements up to and including it.",
            ),
            (
                "In Python, write {fn}(nums) that maps a list of numbers (possibly negative) to the list of maxima "
                "seen so far, position by position.",
                "Create a Python function {fn}(nums): result[i] must equal max(nums[:i + 1]) for every i; return [] for [].",
            ),
        ),
        correct=(
            "def {fn}(nums):\n    out = []\n    best = None\n    for x in nums:\n        if best is None or x > best:\n"
            "            best = x\n        out.append(best)\n    return out",
            "from itertools import accumulate\n\n\ndef {fn}(nums):\n    return list(accumulate(nums, max))",
        ),
        bugs=(
            (
                "missing case",
                "def {fn}(nums):\n    out = []\n    best = 0\n    for x in nums:\n        best = max(best, x)\n"
                "        out.append(best)\n    return out",
            ),
            (
                "wrong operator",
                "from itertools import accumulate\n\n\ndef {fn}(nums):\n    return list(accumulate(nums, min))",
            ),
            (
                "off-by-one",
                "def {fn}(nums):\n    out = []\n    for i in range(len(nums)):\n"
                "        out.append(max(nums[:i]) if i else nums[0])\n    return out",
            ),
        ),
        explain="It keeps the best value seen so far and appends it at every position.",
        ref=lambda p: lambda nums: [max(nums[: i + 1]) for i in range(len(nums))],
        cases=lambda p, rng: [([],), ([3],), ([1, 3, 2, 5, 4],), ([-5, -2, -8, -1],), ([2, 2, 2],), (_ints(rng, 7),)],
    ),
    CodeFamily(
        key="dedupe",
        names=(("dedupe", "unique_in_order"), ("remove_duplicates", "first_occurrences")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(items) that removes duplicates from a list while keeping the first "
                "occurrence of each value and the original order.",
                "Implement {fn}(items) in Python: return a new list with repeated values dropped, keeping each "
                "value where it first appears.",
            ),
            (
                "In Python, write {fn}(items) returning the distinct values of items in the order in which they "
                "first occur.",
                "Create a Python function {fn}(items): remove repeats from the list but preserve the order of first appearance.",
            ),
        ),
        correct=(
            "def {fn}(items):\n    seen = set()\n    out = []\n    for x in items:\n        if x not in seen:\n"
            "            seen.add(x)\n            out.append(x)\n    return out",
            "def {fn}(items):\n    return list(dict.fromkeys(items))",
        ),
        bugs=(
            ("missing case", "def {fn}(items):\n    return list(set(items))"),
            ("wrong operation", "def {fn}(items):\n    return sorted(set(items))"),
            (
                "wrong occurrence",
                "def {fn}(items):\n    out = []\n    for x in items:\n        if x in out:\n"
                "            out.remove(x)\n        out.append(x)\n    return out",
            ),
        ),
        explain="It remembers the values it has already seen and keeps only their first appearance.",
        ref=lambda p: lambda items: list(dict.fromkeys(items)),
        cases=lambda p, rng: [
            ([],),
            ([1],),
            ([3, 1, 3, 2],),
            ([5, 5, 5],),
            ([1, 2, 1, 3, 2, 4],),
            ([9, 7, 9, 8, 7],),
            (_ints(rng, 8, 0, 6),),
        ],
    ),
    CodeFamily(
        key="second_largest",
        names=(("second_largest", "runner_up"), ("second_max", "next_biggest")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(nums) that returns the second largest distinct value in the list, or "
                "None if there are fewer than two distinct values.",
                "Implement {fn}(nums) in Python: return the largest value that is strictly smaller than the "
                "maximum, or None when no such value exists.",
            ),
            (
                "In Python, write {fn}(nums) giving the second-highest distinct number in nums (duplicates of the "
                "maximum do not count); return None if it does not exist.",
                "Create a Python function {fn}(nums) that finds the second biggest different value in a list, returning None for "
                "lists with fewer than two different values.",
            ),
        ),
        correct=(
            "def {fn}(nums):\n    distinct = sorted(set(nums))\n    return distinct[-2] if len(distinct) >= 2 else None",
            "def {fn}(nums):\n    first = second = None\n    for x in nums:\n        if first is None or x > first:\n"
            "            first, second = x, first\n        elif x != first and (second is None or x > second):\n"
            "            second = x\n    return second",
        ),
        bugs=(
            ("missing case", "def {fn}(nums):\n    s = sorted(nums)\n    return s[-2] if len(s) >= 2 else None"),
            (
                "off-by-one",
                "def {fn}(nums):\n    distinct = sorted(set(nums))\n"
                "    return distinct[1] if len(distinct) >= 2 else None",
            ),
            ("missing case", "def {fn}(nums):\n    distinct = sorted(set(nums))\n    return distinct[-2]"),
        ),
        explain="It looks at the distinct values and returns the one just below the maximum.",
        ref=lambda p: lambda nums: sorted(set(nums))[-2] if len(set(nums)) >= 2 else None,
        cases=lambda p, rng: [
            ([],),
            ([5],),
            ([5, 5],),
            ([1, 2, 3],),
            ([4, 4, 3],),
            ([10, 9, 10, 8],),
            ([-1, -2],),
            (_ints(rng, 6),),
        ],
    ),
    CodeFamily(
        key="palindrome",
        names=(("is_palindrome", "reads_same_backwards"), ("palindrome_check", "is_mirror_text")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(s) that returns True if s is a palindrome when you ignore case and "
                "every character that is not a letter or digit, and False otherwise.",
                "Implement {fn}(s) in Python: check whether s reads the same forwards and backwards, considering "
                "only letters and digits and ignoring case.",
            ),
            (
                "In Python, write {fn}(s) returning whether the alphanumeric characters of s, lower-cased, form a "
                "palindrome (so 'A man, a plan, a canal: Panama' counts).",
                "Create a Python function {fn}(s) that tells if a phrase is a palindrome, disregarding spaces, punctuation and "
                "capital letters.",
            ),
        ),
        correct=(
            "def {fn}(s):\n    cleaned = [c.lower() for c in s if c.isalnum()]\n    return cleaned == cleaned[::-1]",
            "def {fn}(s):\n    chars = ''.join(c.lower() for c in s if c.isalnum())\n    i, j = 0, len(chars) - 1\n"
            "    while i < j:\n        if chars[i] != chars[j]:\n            return False\n        i += 1\n"
            "        j -= 1\n    return True",
        ),
        bugs=(
            (
                "missing case",
                "def {fn}(s):\n    cleaned = [c for c in s if c.isalnum()]\n    return cleaned == cleaned[::-1]",
            ),
            ("missing case", "def {fn}(s):\n    cleaned = s.lower()\n    return cleaned == cleaned[::-1]"),
            (
                "off-by-one",
                "def {fn}(s):\n    chars = ''.join(c.lower() for c in s if c.isalnum())\n"
                "    for i in range(len(chars) // 2):\n        if chars[i] != chars[-i]:\n            return False\n"
                "    return True",
            ),
        ),
        explain="It keeps only letters and digits, lower-cases them and compares the sequence with its reverse.",
        ref=lambda p: lambda s: [c.lower() for c in s if c.isalnum()] == [c.lower() for c in s if c.isalnum()][::-1],
        cases=lambda p, rng: [
            ("",),
            ("a",),
            ("Racecar",),
            ("A man, a plan, a canal: Panama",),
            ("hello",),
            ("No lemon, no melon",),
            ("ab",),
            ("abca",),
        ],
    ),
    CodeFamily(
        key="factorial",
        names=(("factorial", "fact"), ("factorial_of", "product_up_to")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(n) that returns n! for a non-negative integer n (with 0! = 1), "
                "without using recursion.",
                "Implement {fn}(n) in Python: the product 1 × 2 × ... × n for n >= 0, where the empty product "
                "(n = 0) is 1.",
            ),
            (
                "In Python, write {fn}(n) computing the factorial of a non-negative integer n iteratively; "
                "{fn}(0) must be 1.",
                "Create a Python function {fn}(n) that multiplies all integers from 1 to n together and returns the result (1 when "
                "n is 0).",
            ),
        ),
        correct=(
            "def {fn}(n):\n    result = 1\n    for i in range(2, n + 1):\n        result *= i\n    return result",
            "import math\n\n\ndef {fn}(n):\n    return math.prod(range(1, n + 1))",
        ),
        bugs=(
            (
                "off-by-one",
                "def {fn}(n):\n    result = 1\n    for i in range(1, n):\n        result *= i\n    return result",
            ),
            (
                "wrong value",
                "def {fn}(n):\n    result = 0\n    for i in range(1, n + 1):\n        result *= i\n    return result",
            ),
            (
                "wrong operator",
                "def {fn}(n):\n    result = 1\n    for i in range(2, n + 1):\n        result += i\n    return result",
            ),
        ),
        explain="It multiplies the numbers from 1 to n, so 0 and 1 both give 1.",
        ref=lambda p: lambda n: __import__("math").factorial(n),
        cases=lambda p, rng: [(0,), (1,), (2,), (5,), (7,), (rng.randint(3, 12),)],
    ),
    CodeFamily(
        key="chunk",
        names=(("chunk", "batches"), ("split_into_chunks", "group_by_size")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(items, size) that splits a list into consecutive chunks of length "
                "size; the last chunk may be shorter. Assume size >= 1.",
                "Implement {fn}(items, size) in Python: return a list of lists, each holding the next size "
                "elements of items (the final one holds whatever is left).",
            ),
            (
                "In Python, write {fn}(items, size) that cuts items into pieces of size elements, keeping a "
                "shorter final piece if the length is not a multiple of size.",
                "Create a Python function {fn}(items, size) returning [items[0:size], items[size:2*size], ...] covering every "
                "element; size is a positive integer.",
            ),
        ),
        correct=(
            "def {fn}(items, size):\n    return [items[i:i + size] for i in range(0, len(items), size)]",
            "def {fn}(items, size):\n    chunks = []\n    for start in range(0, len(items), size):\n"
            "        chunks.append(items[start:start + size])\n    return chunks",
        ),
        bugs=(
            (
                "missing case",
                "def {fn}(items, size):\n    return [items[i:i + size] for i in range(0, len(items) - size + 1, size)]",
            ),
            (
                "off-by-one",
                "def {fn}(items, size):\n    return [items[i:i + size - 1] for i in range(0, len(items), size)]",
            ),
            ("wrong step", "def {fn}(items, size):\n    return [items[i:i + size] for i in range(0, len(items))]"),
        ),
        explain="It steps through the list size elements at a time and slices out each piece.",
        ref=lambda p: lambda items, size: [items[i : i + size] for i in range(0, len(items), size)],
        cases=lambda p, rng: [
            ([], 3),
            ([1, 2, 3, 4, 5], 2),
            ([1, 2, 3, 4], 2),
            ([1, 2, 3], 5),
            ([1, 2, 3, 4, 5, 6, 7], 3),
            (_ints(rng, 9), rng.randint(2, 4)),
        ],
    ),
    CodeFamily(
        key="count_in_range",
        names=(("count_in_range", "count_between"), ("how_many_within", "range_count")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(nums, lo, hi) that counts how many numbers in nums satisfy "
                "lo <= x <= hi (both ends included).",
                "Implement {fn}(nums, lo, hi) in Python: return the number of elements of nums in the closed range "
                "from lo to hi.",
            ),
            (
                "In Python, write {fn}(nums, lo, hi) returning how many values of nums lie between lo and hi, "
                "inclusive at both ends.",
                "Create a Python function {fn}(nums, lo, hi): count the items x of nums with x >= lo and x <= hi.",
            ),
        ),
        correct=(
            "def {fn}(nums, lo, hi):\n    return sum(1 for x in nums if lo <= x <= hi)",
            "def {fn}(nums, lo, hi):\n    count = 0\n    for x in nums:\n        if x >= lo and x <= hi:\n"
            "            count += 1\n    return count",
        ),
        bugs=(
            ("off-by-one", "def {fn}(nums, lo, hi):\n    return sum(1 for x in nums if lo < x < hi)"),
            ("off-by-one", "def {fn}(nums, lo, hi):\n    return sum(1 for x in nums if lo <= x < hi)"),
            ("wrong operator", "def {fn}(nums, lo, hi):\n    return sum(1 for x in nums if x >= lo or x <= hi)"),
        ),
        explain="It counts the elements that are at least lo and at most hi.",
        ref=lambda p: lambda nums, lo, hi: sum(1 for x in nums if lo <= x <= hi),
        cases=lambda p, rng: [
            ([], 1, 5),
            ([1, 2, 3, 4, 5], 2, 4),
            ([0, 10, 5], 0, 10),
            ([7, 8], 1, 5),
            ([3, 3, 9], 3, 3),
            (_ints(rng, 8), -5, 5),
        ],
    ),
    CodeFamily(
        key="leap_year",
        names=(("is_leap", "leap_year"), ("is_leap_year", "has_feb_29")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(year) that returns True if year is a leap year in the Gregorian "
                "calendar: divisible by 4, except centuries, which must be divisible by 400.",
                "Implement {fn}(year) in Python using the Gregorian rules (every 4th year, but not years "
                "divisible by 100 unless they are divisible by 400).",
            ),
            (
                "In Python, write {fn}(year) telling whether a Gregorian year has 366 days (so 2000 is a leap "
                "year but 1900 is not).",
                "Create a Python function {fn}(year) that applies the full Gregorian leap-year rule, including the 100 and 400 "
                "exceptions.",
            ),
        ),
        correct=(
            "def {fn}(year):\n    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)",
            "def {fn}(year):\n    if year % 400 == 0:\n        return True\n    if year % 100 == 0:\n        return False\n"
            "    return year % 4 == 0",
        ),
        bugs=(
            ("missing case", "def {fn}(year):\n    return year % 4 == 0 and year % 100 != 0"),
            ("missing case", "def {fn}(year):\n    return year % 4 == 0"),
            ("wrong operator", "def {fn}(year):\n    return year % 4 == 0 or (year % 100 != 0 and year % 400 == 0)"),
        ),
        explain="It applies the divisible-by-4 rule with the century exceptions.",
        ref=lambda p: lambda y: y % 4 == 0 and (y % 100 != 0 or y % 400 == 0),
        cases=lambda p, rng: [(1900,), (2000,), (2023,), (2024,), (2100,), (1600,), (1996,), (rng.randint(1, 3000),)],
    ),
    CodeFamily(
        key="run_length",
        names=(("rle_encode", "compress_runs"), ("run_length", "encode_runs")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(s) that run-length encodes a string: each run of a repeated "
                "character becomes the character followed by the run length, so 'aaabcc' becomes 'a3b1c2' and '' "
                "becomes ''.",
                "Implement {fn}(s) in Python: replace every maximal run of the same character by that character "
                "and the count of the run ('zzzy' -> 'z3y1').",
            ),
            (
                "In Python, write {fn}(s) returning the run-length encoding of s as character-count pairs, for "
                "example 'aabbaa' -> 'a2b2a2'; the empty string maps to itself.",
                "Create a Python function {fn}(s) that compresses consecutive repeats: 'xxxyz' gives 'x3y1z1'.",
            ),
        ),
        correct=(
            "def {fn}(s):\n    if not s:\n        return ''\n    out = []\n    current, count = s[0], 1\n"
            "    for ch in s[1:]:\n        if ch == current:\n            count += 1\n        else:\n"
            "            out.append(f'{current}{count}')\n            current, count = ch, 1\n"
            "    out.append(f'{current}{count}')\n    return ''.join(out)",
            "from itertools import groupby\n\n\ndef {fn}(s):\n"
            "    return ''.join(f'{ch}{len(list(group))}' for ch, group in groupby(s))",
        ),
        bugs=(
            (
                "missing case",
                "def {fn}(s):\n    if not s:\n        return ''\n    out = []\n    current, count = s[0], 1\n"
                "    for ch in s[1:]:\n        if ch == current:\n            count += 1\n        else:\n"
                "            out.append(f'{current}{count}')\n            current, count = ch, 1\n    return ''.join(out)",
            ),
            (
                "missing case",
                "def {fn}(s):\n    out = []\n    current, count = s[0], 1\n    for ch in s[1:]:\n"
                "        if ch == current:\n            count += 1\n        else:\n"
                "            out.append(f'{current}{count}')\n            current, count = ch, 1\n"
                "    out.append(f'{current}{count}')\n    return ''.join(out)",
            ),
            (
                "off-by-one",
                "from itertools import groupby\n\n\ndef {fn}(s):\n"
                "    return ''.join(f'{ch}{len(list(group)) - 1}' for ch, group in groupby(s))",
            ),
        ),
        explain="It walks through the string, counting how long each run of one character lasts.",
        ref=lambda p: lambda s: "".join(f"{ch}{n}" for ch, n in _runs(s)),
        cases=lambda p, rng: [
            ("",),
            ("a",),
            ("aaabcc",),
            ("abc",),
            ("zzzz",),
            ("aabbaa",),
            ("".join(rng.choice("ab") for _ in range(8)),),
        ],
    ),
    CodeFamily(
        key="digit_sum",
        names=(("digit_sum", "sum_of_digits"), ("add_digits", "digits_total")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(n) that returns the sum of the decimal digits of the integer n; the "
                "sign is ignored, so {fn}(-45) == 9.",
                "Implement {fn}(n) in Python: add up the digits of an integer n (negative numbers allowed; use "
                "their absolute value).",
            ),
            (
                "In Python, write {fn}(n) returning the total of the digits of n, where n may be negative "
                "(for -123 the answer is 6).",
                "Create a Python function {fn}(n) that sums the base-10 digits of an int, ignoring a minus sign.",
            ),
        ),
        correct=(
            "def {fn}(n):\n    return sum(int(d) for d in str(abs(n)))",
            "def {fn}(n):\n    n = abs(n)\n    total = 0\n    while n:\n        total += n % 10\n        n //= 10\n"
            "    return total",
        ),
        bugs=(
            ("missing case", "def {fn}(n):\n    return sum(int(d) for d in str(n))"),
            (
                "wrong operator",
                "def {fn}(n):\n    n = abs(n)\n    total = 0\n    while n:\n        total += n % 10\n"
                "        n /= 10\n    return total",
            ),
            ("off-by-one", "def {fn}(n):\n    return sum(int(d) for d in str(abs(n))[:-1])"),
        ),
        explain="It takes the absolute value and adds its digits one by one.",
        ref=lambda p: lambda n: sum(int(d) for d in str(abs(n))),
        cases=lambda p, rng: [(0,), (7,), (123,), (-45,), (9999,), (1005,), (rng.randint(-99999, 99999),)],
    ),
    CodeFamily(
        key="diffs",
        names=(("diffs", "deltas"), ("pairwise_differences", "steps_between")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(xs) that returns the list of differences between consecutive "
                "elements, xs[i + 1] - xs[i]; lists shorter than two give [].",
                "Implement {fn}(xs) in Python: for [1, 4, 9] return [3, 5], i.e. each element minus the one before it.",
            ),
            (
                "In Python, write {fn}(xs) returning [xs[1] - xs[0], xs[2] - xs[1], ...] (an empty list when xs "
                "has fewer than two items).",
                "Create a Python function {fn}(xs) that computes how much each element of xs changed from the previous one.",
            ),
        ),
        correct=(
            "def {fn}(xs):\n    return [b - a for a, b in zip(xs, xs[1:])]",
            "def {fn}(xs):\n    out = []\n    for i in range(1, len(xs)):\n        out.append(xs[i] - xs[i - 1])\n"
            "    return out",
        ),
        bugs=(
            ("wrong operator", "def {fn}(xs):\n    return [a - b for a, b in zip(xs, xs[1:])]"),
            (
                "off-by-one",
                "def {fn}(xs):\n    out = []\n    for i in range(1, len(xs) - 1):\n"
                "        out.append(xs[i] - xs[i - 1])\n    return out",
            ),
            (
                "off-by-one",
                "def {fn}(xs):\n    out = []\n    for i in range(len(xs)):\n        out.append(xs[i + 1] - xs[i])\n"
                "    return out",
            ),
        ),
        explain="It subtracts each element from the one after it.",
        ref=lambda p: lambda xs: [xs[i + 1] - xs[i] for i in range(len(xs) - 1)],
        cases=lambda p, rng: [([],), ([5],), ([1, 4, 9, 16],), ([3, 3, 2],), ([10, 0, -5],), (_ints(rng, 6),)],
    ),
    CodeFamily(
        key="grade",
        names=(("letter_grade", "grade"), ("to_letter", "score_to_grade")),
        params=(({"t1": 90, "t2": 80, "t3": 70, "t4": 60},), ({"t1": 85, "t2": 70, "t3": 55, "t4": 40},)),
        prompts=(
            (
                "Write a Python function {fn}(score) that returns 'A' for scores of {t1} or more, 'B' for {t2} or "
                "more, 'C' for {t3} or more, 'D' for {t4} or more, and 'F' otherwise.",
                "Implement {fn}(score) in Python with these bands: A >= {t1}, B >= {t2}, C >= {t3}, D >= {t4}, "
                "otherwise F.",
            ),
            (
                "In Python, write {fn}(score) mapping a mark to a letter: at least {t1} is 'A', at least {t2} is "
                "'B', at least {t3} is 'C', at least {t4} is 'D', anything lower is 'F'.",
                "Create a Python function {fn}(score) that returns the letter grade, where the lower bounds are {t1} (A), {t2} (B), "
                "{t3} (C) and {t4} (D) and everything else is F.",
            ),
        ),
        correct=(
            "def {fn}(score):\n    if score >= {t1}:\n        return 'A'\n    if score >= {t2}:\n        return 'B'\n"
            "    if score >= {t3}:\n        return 'C'\n    if score >= {t4}:\n        return 'D'\n    return 'F'",
            "def {fn}(score):\n    for bound, letter in (({t1}, 'A'), ({t2}, 'B'), ({t3}, 'C'), ({t4}, 'D')):\n"
            "        if score >= bound:\n            return letter\n    return 'F'",
        ),
        bugs=(
            (
                "off-by-one",
                "def {fn}(score):\n    if score > {t1}:\n        return 'A'\n    if score > {t2}:\n"
                "        return 'B'\n    if score > {t3}:\n        return 'C'\n    if score > {t4}:\n        return 'D'\n"
                "    return 'F'",
            ),
            (
                "wrong order",
                "def {fn}(score):\n    for bound, letter in (({t4}, 'D'), ({t3}, 'C'), ({t2}, 'B'), ({t1}, 'A')):\n"
                "        if score >= bound:\n            return letter\n    return 'F'",
            ),
            (
                "missing case",
                "def {fn}(score):\n    if score >= {t1}:\n        return 'A'\n    if score >= {t2}:\n"
                "        return 'B'\n    if score >= {t3}:\n        return 'C'\n    if score >= {t4}:\n        return 'D'",
            ),
        ),
        explain="It checks the bands from the highest down and returns the first letter whose bound is met.",
        ref=lambda p: (
            lambda s: next(
                (
                    letter
                    for bound, letter in ((p["t1"], "A"), (p["t2"], "B"), (p["t3"], "C"), (p["t4"], "D"))
                    if s >= bound
                ),
                "F",
            )
        ),
        cases=lambda p, rng: [
            (100,),
            (p["t1"],),
            (p["t1"] - 1,),
            (p["t2"],),
            (p["t3"],),
            (p["t4"],),
            (p["t4"] - 1,),
            (0,),
            (rng.randint(0, 100),),
        ],
    ),
    CodeFamily(
        key="rotate",
        names=(("rotate_right", "rotate"), ("shift_right", "cycle_right")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(items, k) that returns a new list with the elements rotated k places "
                "to the right, so [1, 2, 3, 4, 5] with k = 2 gives [4, 5, 1, 2, 3]. k may exceed the length; an "
                "empty list stays empty.",
                "Implement {fn}(items, k) in Python: rotate the list right by k positions (k >= 0, possibly larger "
                "than len(items)) and return the result.",
            ),
            (
                "In Python, write {fn}(items, k) that moves the last k elements to the front (wrapping around when "
                "k is larger than the list); [] stays [].",
                "Create a Python function {fn}(items, k) returning the list cyclically shifted k steps to the right, for any k >= 0.",
            ),
        ),
        correct=(
            "def {fn}(items, k):\n    if not items:\n        return []\n    k %= len(items)\n"
            "    return items[len(items) - k:] + items[:len(items) - k]",
            "from collections import deque\n\n\ndef {fn}(items, k):\n    d = deque(items)\n    d.rotate(k)\n"
            "    return list(d)",
        ),
        bugs=(
            (
                "wrong direction",
                "def {fn}(items, k):\n    if not items:\n        return []\n    k %= len(items)\n"
                "    return items[k:] + items[:k]",
            ),
            (
                "missing case",
                "def {fn}(items, k):\n    if not items:\n        return []\n"
                "    return items[len(items) - k:] + items[:len(items) - k]",
            ),
            (
                "missing case",
                "def {fn}(items, k):\n    k %= len(items)\n    return items[len(items) - k:] + items[:len(items) - k]",
            ),
        ),
        explain="It reduces k modulo the length and moves the last k elements to the front.",
        ref=lambda p: (
            lambda items, k: (
                items[len(items) - k % len(items) :] + items[: len(items) - k % len(items)] if items else []
            )
        ),
        cases=lambda p, rng: [
            ([], 2),
            ([1, 2, 3, 4, 5], 2),
            ([1, 2, 3], 0),
            ([1, 2, 3], 4),
            ([1, 2], 2),
            ([7, 8, 9, 10], 7),
            (_ints(rng, 5), rng.randint(1, 12)),
        ],
    ),
    CodeFamily(
        key="merge_sorted",
        names=(("merge_sorted", "merge_lists"), ("combine_sorted", "merge_two")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(a, b) that merges two lists, each already sorted in ascending order, "
                "into one sorted list.",
                "Implement {fn}(a, b) in Python: given two ascending lists, return a single ascending list "
                "containing all elements of both (duplicates kept).",
            ),
            (
                "In Python, write {fn}(a, b) that combines two sorted lists into one sorted list, keeping every "
                "element.",
                "Create a Python function {fn}(a, b): a and b are sorted; return their merge in ascending order, including repeated "
                "values.",
            ),
        ),
        correct=(
            "def {fn}(a, b):\n    out = []\n    i = j = 0\n    while i < len(a) and j < len(b):\n"
            "        if a[i] <= b[j]:\n            out.append(a[i])\n            i += 1\n        else:\n"
            "            out.append(b[j])\n            j += 1\n    out.extend(a[i:])\n    out.extend(b[j:])\n"
            "    return out",
            "def {fn}(a, b):\n    return sorted(a + b)",
        ),
        bugs=(
            (
                "missing case",
                "def {fn}(a, b):\n    out = []\n    i = j = 0\n    while i < len(a) and j < len(b):\n"
                "        if a[i] <= b[j]:\n            out.append(a[i])\n            i += 1\n        else:\n"
                "            out.append(b[j])\n            j += 1\n    return out",
            ),
            (
                "wrong operator",
                "def {fn}(a, b):\n    out = []\n    i = j = 0\n    while i < len(a) and j < len(b):\n"
                "        if a[i] >= b[j]:\n            out.append(a[i])\n            i += 1\n        else:\n"
                "            out.append(b[j])\n            j += 1\n    out.extend(a[i:])\n    out.extend(b[j:])\n"
                "    return out",
            ),
            ("wrong operation", "def {fn}(a, b):\n    return a + b"),
        ),
        explain="It repeatedly takes the smaller front element of the two lists, then appends what is left.",
        ref=lambda p: lambda a, b: sorted(a + b),
        cases=lambda p, rng: [
            ([], []),
            ([1, 3, 5], [2, 4, 6]),
            ([1, 2], []),
            ([], [3]),
            ([1, 1, 4], [1, 2]),
            ([5, 6], [1, 2]),
            (sorted(_ints(rng, 4)), sorted(_ints(rng, 3))),
        ],
    ),
    CodeFamily(
        key="word_counts",
        names=(("word_counts", "count_words"), ("word_frequencies", "tally_words")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(text) that returns a dict mapping each word (lower-cased) to the "
                "number of times it occurs; words are separated by whitespace.",
                "Implement {fn}(text) in Python: split text on whitespace, lower-case the words and count them in a "
                "dictionary.",
            ),
            (
                "In Python, write {fn}(text) returning {word: count} for the whitespace-separated words of text, "
                "treating 'The' and 'the' as the same word.",
                "Create a Python function {fn}(text) that builds a case-insensitive word frequency dictionary (split on any whitespace).",
            ),
        ),
        correct=(
            "def {fn}(text):\n    counts = {}\n    for word in text.lower().split():\n"
            "        counts[word] = counts.get(word, 0) + 1\n    return counts",
            "from collections import Counter\n\n\ndef {fn}(text):\n    return dict(Counter(text.lower().split()))",
        ),
        bugs=(
            (
                "missing case",
                "def {fn}(text):\n    counts = {}\n    for word in text.split():\n"
                "        counts[word] = counts.get(word, 0) + 1\n    return counts",
            ),
            (
                "missing case",
                "def {fn}(text):\n    counts = {}\n    for word in text.lower().split(' '):\n"
                "        counts[word] = counts.get(word, 0) + 1\n    return counts",
            ),
            (
                "off-by-one",
                "def {fn}(text):\n    counts = {}\n    for word in text.lower().split():\n"
                "        if word in counts:\n            counts[word] += 1\n        else:\n            counts[word] = 0\n"
                "    return counts",
            ),
        ),
        explain="It lower-cases the text, splits it on whitespace and counts each word in a dictionary.",
        ref=lambda p: lambda text: dict(Counter(text.lower().split())),
        cases=lambda p, rng: [("",), ("a a b",), ("The the THE",), ("one  two",), ("  hi\nthere hi ",), (_words(rng),)],
    ),
    CodeFamily(
        key="first_above",
        names=(("first_above", "index_over"), ("first_index_greater", "find_first_above")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(nums, t) that returns the index of the first element strictly "
                "greater than t, or -1 if there is none.",
                "Implement {fn}(nums, t) in Python: find the position of the first number in nums that exceeds t; "
                "return -1 when no number does.",
            ),
            (
                "In Python, write {fn}(nums, t) returning the smallest index i with nums[i] > t, or -1.",
                "Create a Python function {fn}(nums, t) that scans nums from the left and returns where the first value above t sits "
                "(-1 if none is above t).",
            ),
        ),
        correct=(
            "def {fn}(nums, t):\n    for i, x in enumerate(nums):\n        if x > t:\n            return i\n    return -1",
            "def {fn}(nums, t):\n    return next((i for i, x in enumerate(nums) if x > t), -1)",
        ),
        bugs=(
            (
                "off-by-one",
                "def {fn}(nums, t):\n    for i, x in enumerate(nums):\n        if x >= t:\n            return i\n"
                "    return -1",
            ),
            (
                "missing case",
                "def {fn}(nums, t):\n    for i, x in enumerate(nums):\n        if x > t:\n            return i",
            ),
            (
                "off-by-one",
                "def {fn}(nums, t):\n    for i, x in enumerate(nums):\n        if x > t:\n"
                "            return i + 1\n    return -1",
            ),
        ),
        explain="It scans from the left and returns the first index whose value is above t, or -1.",
        ref=lambda p: lambda nums, t: next((i for i, x in enumerate(nums) if x > t), -1),
        cases=lambda p, rng: [
            ([], 0),
            ([1, 5, 3], 2),
            ([1, 2, 3], 3),
            ([4], 3),
            ([2, 2], 2),
            ([0, 9, 1], 0),
            (_ints(rng, 6), rng.randint(-5, 10)),
        ],
    ),
    CodeFamily(
        key="triangular",
        names=(("sum_to", "triangular"), ("sum_first_n", "total_up_to")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(n) that returns 1 + 2 + ... + n for an integer n >= 0 (0 for n = 0).",
                "Implement {fn}(n) in Python: the sum of the whole numbers from 1 to n inclusive, returning an int.",
            ),
            (
                "In Python, write {fn}(n) giving the n-th triangular number, the sum of 1 through n (n >= 0).",
                "Create a Python function {fn}(n) that adds up all integers from 1 up to and including n and returns the int result.",
            ),
        ),
        correct=(
            "def {fn}(n):\n    return n * (n + 1) // 2",
            "def {fn}(n):\n    return sum(range(1, n + 1))",
        ),
        bugs=(
            ("off-by-one", "def {fn}(n):\n    return sum(range(1, n))"),
            ("off-by-one", "def {fn}(n):\n    return n * (n - 1) // 2"),
            ("wrong operator", "def {fn}(n):\n    return n * n // 2"),
        ),
        explain="It uses the sum of the integers 1 to n.",
        ref=lambda p: lambda n: sum(range(n + 1)),
        cases=lambda p, rng: [(0,), (1,), (2,), (10,), (100,), (rng.randint(3, 60),)],
    ),
    CodeFamily(
        key="spread",
        names=(("spread", "value_range"), ("max_minus_min", "span")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(nums) that returns the largest value minus the smallest value of the "
                "list, or 0 for an empty list.",
                "Implement {fn}(nums) in Python: max(nums) - min(nums), but return 0 when nums is empty.",
            ),
            (
                "In Python, write {fn}(nums) returning the difference between the biggest and the smallest number "
                "in nums (0 if the list is empty).",
                "Create a Python function {fn}(nums) that measures how spread out a list is: maximum minus minimum, and 0 for [].",
            ),
        ),
        correct=(
            "def {fn}(nums):\n    return max(nums) - min(nums) if nums else 0",
            "def {fn}(nums):\n    if not nums:\n        return 0\n    lo = hi = nums[0]\n    for x in nums:\n"
            "        lo = min(lo, x)\n        hi = max(hi, x)\n    return hi - lo",
        ),
        bugs=(
            ("missing case", "def {fn}(nums):\n    return max(nums) - min(nums)"),
            ("wrong operator", "def {fn}(nums):\n    return max(nums) + min(nums) if nums else 0"),
            (
                "off-by-one",
                "def {fn}(nums):\n    if not nums:\n        return 0\n    lo = hi = nums[0]\n"
                "    for x in nums[1:-1]:\n        lo = min(lo, x)\n        hi = max(hi, x)\n    return hi - lo",
            ),
        ),
        explain="It returns the maximum minus the minimum, with 0 for an empty list.",
        ref=lambda p: lambda nums: max(nums) - min(nums) if nums else 0,
        cases=lambda p, rng: [([],), ([4],), ([1, 9, 3],), ([-5, 5],), ([2, 8, 1, 20],), (_ints(rng, 6),)],
    ),
    CodeFamily(
        key="caesar",
        names=(("caesar", "shift_letters"), ("caesar_shift", "rotate_letters")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(s, k) that shifts every lower-case letter a-z in s forward by k "
                "places in the alphabet, wrapping from z to a, and leaves all other characters unchanged "
                "(0 <= k <= 26).",
                "Implement a Caesar cipher {fn}(s, k) in Python for lower-case text: letters move k positions "
                "forward with wrap-around; spaces and punctuation stay as they are.",
            ),
            (
                "In Python, write {fn}(s, k) that encrypts lower-case letters with a Caesar shift of k (wrapping "
                "past 'z'), keeping non-letters the same.",
                "Create a Python function {fn}(s, k): replace each character between 'a' and 'z' by the letter k steps later, "
                "cyclically; everything else is copied.",
            ),
        ),
        correct=(
            "def {fn}(s, k):\n    return ''.join(\n        chr((ord(c) - ord('a') + k) % 26 + ord('a')) if 'a' <= c <= 'z' "
            "else c\n        for c in s\n    )",
            "import string\n\n\ndef {fn}(s, k):\n    letters = string.ascii_lowercase\n"
            "    table = str.maketrans(letters, letters[k % 26:] + letters[:k % 26])\n    return s.translate(table)",
        ),
        bugs=(
            (
                "missing case",
                "def {fn}(s, k):\n    return ''.join(chr(ord(c) + k) if 'a' <= c <= 'z' else c for c in s)",
            ),
            (
                "missing case",
                "def {fn}(s, k):\n    return ''.join(chr((ord(c) - ord('a') + k) % 26 + ord('a')) for c in s)",
            ),
            (
                "off-by-one",
                "def {fn}(s, k):\n    return ''.join(\n        chr((ord(c) - ord('a') + k) % 25 + ord('a')) "
                "if 'a' <= c <= 'z' else c\n        for c in s\n    )",
            ),
        ),
        explain="It moves each lower-case letter k places forward modulo 26 and leaves other characters alone.",
        ref=lambda p: lambda s, k: "".join(chr((ord(c) - 97 + k) % 26 + 97) if "a" <= c <= "z" else c for c in s),
        cases=lambda p, rng: [
            ("abc", 1),
            ("xyz", 3),
            ("hello, world", 13),
            ("", 5),
            ("a", 26),
            ("zebra", 1),
            (_words(rng).lower(), rng.randint(1, 25)),
        ],
    ),
    CodeFamily(
        key="median",
        names=(("median", "middle_value"), ("find_median", "median_of")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(nums) that returns the median of a non-empty list of numbers (for "
                "an even count, the mean of the two middle values).",
                "Implement {fn}(nums) in Python: sort a copy, return the middle element, or the average of the two "
                "middle elements when the length is even. nums is not empty.",
            ),
            (
                "In Python, write {fn}(nums) computing the median of a non-empty list; with an even number of "
                "values average the two central ones.",
                "Create a Python function {fn}(nums) that returns the middle value of the sorted numbers (mean of the two middle ones "
                "for even lengths); the input is never empty.",
            ),
        ),
        correct=(
            "def {fn}(nums):\n    s = sorted(nums)\n    mid = len(s) // 2\n    if len(s) % 2:\n        return s[mid]\n"
            "    return (s[mid - 1] + s[mid]) / 2",
            "import statistics\n\n\ndef {fn}(nums):\n    return statistics.median(nums)",
        ),
        bugs=(
            (
                "missing step",
                "def {fn}(nums):\n    mid = len(nums) // 2\n    if len(nums) % 2:\n        return nums[mid]\n"
                "    return (nums[mid - 1] + nums[mid]) / 2",
            ),
            ("missing case", "def {fn}(nums):\n    s = sorted(nums)\n    return s[len(s) // 2]"),
            (
                "off-by-one",
                "def {fn}(nums):\n    s = sorted(nums)\n    mid = len(s) // 2\n    if len(s) % 2:\n"
                "        return s[mid - 1]\n    return (s[mid - 1] + s[mid]) / 2",
            ),
        ),
        explain="It sorts the values and takes the middle one, averaging the two middle values for even lengths.",
        ref=lambda p: lambda nums: __import__("statistics").median(nums),
        cases=lambda p, rng: [
            ([5],),
            ([1, 3, 2],),
            ([4, 1, 3, 2],),
            ([7, 7, 1],),
            ([10, 2],),
            ([9, 1, 5, 3, 7],),
            (_ints(rng, 5),),
        ],
    ),
    CodeFamily(
        key="has_duplicates",
        names=(("has_duplicates", "contains_repeat"), ("any_duplicates", "has_repeats")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(items) that returns True if any value appears more than once in the "
                "list, else False.",
                "Implement {fn}(items) in Python: report whether the list contains at least one repeated value "
                "(anywhere, not only next to each other).",
            ),
            (
                "In Python, write {fn}(items) that tells whether some element of items occurs twice or more.",
                "Create a Python function {fn}(items) returning False only when all elements of the list are different.",
            ),
        ),
        correct=(
            "def {fn}(items):\n    return len(set(items)) != len(items)",
            "def {fn}(items):\n    seen = set()\n    for x in items:\n        if x in seen:\n            return True\n"
            "        seen.add(x)\n    return False",
        ),
        bugs=(
            ("wrong operator", "def {fn}(items):\n    return len(set(items)) == len(items)"),
            (
                "missing case",
                "def {fn}(items):\n    for i in range(len(items) - 1):\n        if items[i] == items[i + 1]:\n"
                "            return True\n    return False",
            ),
            ("off-by-one", "def {fn}(items):\n    return len(set(items[1:])) != len(items[1:])"),
        ),
        explain="It compares the number of distinct values with the length of the list.",
        ref=lambda p: lambda items: len(set(items)) != len(items),
        cases=lambda p, rng: [
            ([],),
            ([1],),
            ([1, 2, 3],),
            ([1, 2, 1],),
            ([4, 4],),
            ([3, 1, 2, 5, 3],),
            (_ints(rng, 5, 0, 9),),
        ],
    ),
    CodeFamily(
        key="is_prime",
        names=(("is_prime", "prime_check"), ("isprime", "is_prime_number")),
        params=NO_PARAMS,
        prompts=(
            (
                "Write a Python function {fn}(n) that returns True if the integer n is prime and False otherwise "
                "(numbers below 2 are not prime).",
                "Implement {fn}(n) in Python by trial division up to the square root of n; 0, 1 and negative "
                "numbers are not prime.",
            ),
            (
                "In Python, write {fn}(n) that decides whether n is a prime number (n can be any int; anything "
                "less than 2 is not prime).",
                "Create a Python function {fn}(n) returning True exactly for the primes 2, 3, 5, 7, 11, ... and False for every "
                "other integer.",
            ),
        ),
        correct=(
            "def {fn}(n):\n    if n < 2:\n        return False\n    for d in range(2, int(n ** 0.5) + 1):\n"
            "        if n % d == 0:\n            return False\n    return True",
            "def {fn}(n):\n    if n < 2:\n        return False\n    d = 2\n    while d * d <= n:\n        if n % d == 0:\n"
            "            return False\n        d += 1\n    return True",
        ),
        bugs=(
            (
                "off-by-one",
                "def {fn}(n):\n    if n < 2:\n        return False\n    for d in range(2, int(n ** 0.5)):\n"
                "        if n % d == 0:\n            return False\n    return True",
            ),
            (
                "missing case",
                "def {fn}(n):\n    for d in range(2, int(n ** 0.5) + 1):\n        if n % d == 0:\n"
                "            return False\n    return True",
            ),
            (
                "wrong operator",
                "def {fn}(n):\n    if n < 2:\n        return False\n    d = 2\n    while d * d < n:\n"
                "        if n % d == 0:\n            return False\n        d += 1\n    return True",
            ),
        ),
        explain="It tries every divisor from 2 up to the square root of n.",
        ref=lambda p: lambda n: n >= 2 and all(n % d for d in range(2, n)),
        cases=lambda p, rng: [(0,), (1,), (2,), (3,), (4,), (9,), (25,), (29,), (49,), (97,), (rng.randint(50, 300),)],
    ),
)
