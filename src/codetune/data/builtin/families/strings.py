"""Strings: reversal, palindromes, counting, filtering, case, run-length, shifting, words."""

from __future__ import annotations

import itertools
from random import Random

from .base import NAMES, Family, Params, Solution, lines, word

LOWER = "abcdefghijklmnopqrstuvwxyz"


def _len_knobs(rng: Random) -> Params:
    return {"NAME": rng.choice(NAMES), "HI": rng.choice([10, 50, 100])}


REVERSE_STRING = Family(
    name="reverse_string",
    topic="strings",
    title="Backwards",
    statement="$NAME wrote a string S of lowercase English letters.\nPrint S written backwards.",
    input_format="S",
    output="Print the reversal of S.",
    constraints=(
        "S is a string of length between 1 and $HI, inclusive, consisting of lowercase English letters.",
    ),
    steps=(
        "Read S and strip the trailing newline.",
        "Writing S backwards means its last character comes first, and so on.",
        "Print S[::-1].",
    ),
    solutions=(
        Solution("slice", "Reverse with a slice of step -1.", "s = input().strip()\nprint(s[::-1])\n"),
        Solution(
            "reversed",
            "Join the characters from reversed().",
            "s = input().strip()\nprint(''.join(reversed(s)))\n",
        ),
        Solution(
            "prepend",
            "Build the answer by putting each character in front.",
            "s = input().strip()\nresult = ''\nfor ch in s:\n    result = ch + result\nprint(result)\n",
        ),
    ),
    knobs=_len_knobs,
    gen=lambda rng, p: word(rng, 1, min(p["HI"], 12)) + "\n",
    ref=lambda inp, p: inp.strip()[::-1],
    edges=lambda p: ["a\n"],
    level=1,
)


def _pal_gen(rng: Random, p: Params) -> str:
    half = word(rng, 1, 5, p["ALPHA"])
    if rng.random() < 0.5:
        return half + rng.choice(["", rng.choice(p["ALPHA"])]) + half[::-1] + "\n"
    return word(rng, 2, 9, p["ALPHA"]) + "\n"


def _pal_knobs(rng: Random) -> Params:
    alpha = "".join(sorted(rng.sample("abcdrxyz", rng.choice([2, 3]))))
    yes, no = rng.choice([("Yes", "No"), ("YES", "NO")])
    return {"ALPHA": alpha, "LETTERS": ", ".join(alpha[:-1]) + " and " + alpha[-1], "YES": yes, "NO": no}


PALINDROME = Family(
    name="palindrome",
    topic="palindromes",
    title="Palindrome Check",
    statement="You are given a string S consisting of the letters $LETTERS.\nDetermine whether S reads the same"
    " forwards and backwards.",
    input_format="S",
    output="Print $YES if S is a palindrome, and $NO otherwise.",
    constraints=(
        "S is a string of length between 1 and 100, inclusive, consisting of the letters $LETTERS.",
    ),
    steps=(
        "Read S.",
        "S is a palindrome when S[i] == S[len(S) - 1 - i] for every i, which is the same as S == S[::-1].",
        "Print $YES or $NO accordingly.",
    ),
    solutions=(
        Solution(
            "slice",
            "Compare the string with its reversal.",
            "s = input().strip()\nprint('$YES' if s == s[::-1] else '$NO')\n",
        ),
        Solution(
            "two-pointers",
            "Move two indices inwards and stop at the first mismatch.",
            "s = input().strip()\ni, j = 0, len(s) - 1\nok = True\nwhile i < j:\n    if s[i] != s[j]:\n        ok = False\n"
            "        break\n    i += 1\n    j -= 1\nprint('$YES' if ok else '$NO')\n",
        ),
        Solution(
            "all",
            "Check the mirrored pairs of the first half with all().",
            "s = input().strip()\nn = len(s)\nprint('$YES' if all(s[k] == s[n - 1 - k] for k in range(n // 2)) else '$NO')\n",
        ),
    ),
    knobs=_pal_knobs,
    gen=_pal_gen,
    ref=lambda inp, p: p["YES"] if inp.strip() == inp.strip()[::-1] else p["NO"],
    edges=lambda p: [p["ALPHA"][0] + "\n"],
    level=1,
)


def _count_char_knobs(rng: Random) -> Params:
    return {"C": rng.choice("aeiostr"), "NAME": rng.choice(NAMES)}


COUNT_CHAR = Family(
    name="count_char",
    topic="counting",
    title="How Many $C",
    statement="$NAME is looking at a string S of lowercase English letters.\nHow many times does the letter $C"
    " appear in S?",
    input_format="S",
    output="Print the number of occurrences of $C in S.",
    constraints=(
        "S is a string of length between 1 and 100, inclusive, consisting of lowercase English letters.",
    ),
    steps=(
        "Read S.",
        "Look at every character of S and count the ones equal to '$C'.",
        "Print the count (it may be 0).",
    ),
    solutions=(
        Solution("count", "Use str.count.", "s = input().strip()\nprint(s.count('$C'))\n"),
        Solution(
            "loop",
            "Loop over the characters with a counter.",
            "s = input().strip()\nn = 0\nfor ch in s:\n    if ch == '$C':\n        n += 1\nprint(n)\n",
        ),
        Solution(
            "sum-bools",
            "Sum the booleans of a comparison.",
            "print(sum(ch == '$C' for ch in input().strip()))\n",
        ),
    ),
    knobs=_count_char_knobs,
    gen=lambda rng, p: word(rng, 1, 15, "aeiostrn") + "\n",
    ref=lambda inp, p: str(inp.strip().count(p["C"])),
    edges=lambda p: ["zzz\n", p["C"] * 5 + "\n"],
    level=1,
)

VOWELS = "aeiou"


def _no_vowel_gen(rng: Random, p: Params) -> str:
    return word(rng, 0, min(12, p["HI"] - 1)) + rng.choice("bcdfghk") + "\n"


REMOVE_VOWELS = Family(
    name="remove_vowels",
    topic="strings",
    title="No Vowels",
    statement="$NAME dislikes vowels.\nGiven a string S of lowercase English letters, remove every a, e, i, o and u"
    " from S and print the result.",
    input_format="S",
    output="Print S with all vowels removed.",
    constraints=(
        "S is a string of length between 1 and $HI, inclusive, consisting of lowercase English letters.",
        "S contains at least one letter other than a, e, i, o and u.",
    ),
    steps=(
        "Read S.",
        "Keep each character that is not one of a, e, i, o, u, in its original order.",
        "Join the kept characters and print them.",
    ),
    solutions=(
        Solution(
            "comprehension",
            "Join a filtered generator.",
            "s = input().strip()\nprint(''.join(c for c in s if c not in 'aeiou'))\n",
        ),
        Solution(
            "loop",
            "Append the consonants to a list in a loop.",
            "s = input().strip()\nkept = []\nfor c in s:\n    if c not in 'aeiou':\n        kept.append(c)\nprint(''.join(kept))\n",
        ),
        Solution(
            "regex",
            "Delete the vowels with re.sub.",
            "import re\n\nprint(re.sub('[aeiou]', '', input().strip()))\n",
        ),
        Solution(
            "translate",
            "Delete the vowels with str.translate.",
            "s = input().strip()\nprint(s.translate(str.maketrans('', '', 'aeiou')))\n",
        ),
    ),
    knobs=_len_knobs,
    gen=_no_vowel_gen,
    ref=lambda inp, p: "".join(c for c in inp.strip() if c not in VOWELS),
    edges=lambda p: ["b\n", "aeioux\n"],
    level=1,
)


def _case_knobs(rng: Random) -> Params:
    if rng.random() < 0.5:
        return {
            "FROM": "lowercase",
            "TO": "uppercase",
            "METHOD": "upper",
            "LO": "a",
            "HI": "z",
            "DELTA": "-32",
        }
    return {"FROM": "uppercase", "TO": "lowercase", "METHOD": "lower", "LO": "A", "HI": "Z", "DELTA": "+32"}


CHANGE_CASE = Family(
    name="change_case",
    topic="strings",
    title="To $TO",
    statement="You are given a string S of uppercase and lowercase English letters.\nConvert every $FROM letter of S"
    " to $TO and print the result.",
    input_format="S",
    output="Print the converted string.",
    constraints=(
        "S is a string of length between 1 and 100, inclusive, of uppercase and lowercase English letters.",
    ),
    steps=(
        "Read S.",
        "Each $FROM letter becomes the same letter in $TO; the other letters stay as they are.",
        "Python's str.$METHOD() does exactly this; print the result.",
    ),
    solutions=(
        Solution("method", "Call str.$METHOD().", "print(input().strip().$METHOD())\n"),
        Solution(
            "ascii",
            "Shift the character codes of the $FROM letters by 32.",
            "s = input().strip()\nout = ''\nfor c in s:\n    if '$LO' <= c <= '$HI':\n        out += chr(ord(c) $DELTA)\n"
            "    else:\n        out += c\nprint(out)\n",
        ),
        Solution(
            "map",
            "Map str.$METHOD over the characters and join.",
            "s = input().strip()\nprint(''.join(map(str.$METHOD, s)))\n",
        ),
    ),
    knobs=_case_knobs,
    gen=lambda rng, p: word(rng, 1, 12, LOWER + LOWER.upper()) + "\n",
    ref=lambda inp, p: getattr(inp.strip(), p["METHOD"])(),
    edges=lambda p: ["aZ\n"],
    level=1,
)


def _rle(s: str) -> str:
    return "".join(f"{k}{len(list(g))}" for k, g in itertools.groupby(s))


RUN_LENGTH = Family(
    name="run_length",
    topic="run-length",
    title="Run-Length Encoding",
    statement=(
        "Split a string S into maximal blocks of equal consecutive characters.\n"
        "Replace each block by its character followed by the block's length, and print the concatenation."
        "\nFor example, $EXAMPLE becomes $ENCODED."
    ),
    input_format="S",
    output="Print the encoded string.",
    constraints=(
        "S is a string of length between 1 and 100, inclusive, consisting of lowercase English letters.",
    ),
    steps=(
        "Read S.",
        "Walk through S and keep the current character and how many times it has repeated so far.",
        "When the character changes (or S ends), append the character and its count to the answer.",
        "Print the answer.",
    ),
    solutions=(
        Solution(
            "loop",
            "Track the current run in a loop.",
            "s = input().strip()\nout = []\ncount = 1\nfor i in range(1, len(s) + 1):\n"
            "    if i < len(s) and s[i] == s[i - 1]:\n        count += 1\n    else:\n"
            "        out.append(s[i - 1] + str(count))\n        count = 1\nprint(''.join(out))\n",
        ),
        Solution(
            "groupby",
            "Let itertools.groupby find the runs.",
            "from itertools import groupby\n\ns = input().strip()\nprint(''.join(k + str(len(list(g))) for k, g in groupby(s)))\n",
        ),
        Solution(
            "regex",
            "Match each run with a back-reference regex.",
            "import re\n\ns = input().strip()\nprint(''.join(m.group(1) + str(len(m.group(0))) for m in re.finditer(r'(.)\\1*', s)))\n",
        ),
    ),
    knobs=lambda rng: (lambda ex: {"EXAMPLE": ex, "ENCODED": _rle(ex)})(
        rng.choice(["aaabcc", "xxyzzzz", "mmnoo", "pqqqr"])
    ),
    gen=lambda rng, p: (
        "".join(rng.choice("abc") * rng.randint(1, 4) for _ in range(rng.randint(1, 5))) + "\n"
    ),
    ref=lambda inp, p: _rle(inp.strip()),
    edges=lambda p: ["z\n", "abcd\n"],
    level=2,
)


def _shift(s: str, k: int) -> str:
    return "".join(chr((ord(c) - 97 + k) % 26 + 97) for c in s)


CAESAR = Family(
    name="caesar",
    topic="strings",
    title="Shift by $K",
    statement=(
        "$NAME encrypts a message S of lowercase English letters by replacing each letter with the letter $K"
        " places later in the alphabet, where z is followed by a again.\nPrint the encrypted message."
    ),
    input_format="S",
    output="Print the encrypted string.",
    constraints=(
        "S is a string of length between 1 and 100, inclusive, consisting of lowercase English letters.",
    ),
    steps=(
        "Read S.",
        "Number the letters a = 0, ..., z = 25; a letter with number x becomes (x + $K) % 26.",
        "Convert back with chr and join the letters.",
        "Print the result.",
    ),
    solutions=(
        Solution(
            "ord",
            "Shift character codes modulo 26.",
            "s = input().strip()\nprint(''.join(chr((ord(c) - ord('a') + $K) % 26 + ord('a')) for c in s))\n",
        ),
        Solution(
            "translate",
            "Build a translation table from a rotated alphabet.",
            "import string\n\nabc = string.ascii_lowercase\ntable = str.maketrans(abc, abc[$K:] + abc[:$K])\n"
            "print(input().strip().translate(table))\n",
        ),
        Solution(
            "index",
            "Look up each letter's position in the alphabet string.",
            "abc = 'abcdefghijklmnopqrstuvwxyz'\ns = input().strip()\nres = ''\nfor c in s:\n"
            "    res += abc[(abc.index(c) + $K) % 26]\nprint(res)\n",
        ),
    ),
    knobs=lambda rng: {"K": rng.randint(1, 25), "NAME": rng.choice(NAMES)},
    gen=lambda rng, p: word(rng, 1, 12) + "\n",
    ref=lambda inp, p: _shift(inp.strip(), p["K"]),
    edges=lambda p: ["xyz\n"],
    level=2,
)


def _words_gen(rng: Random, p: Params) -> str:
    ws = [word(rng, 1, 8) for _ in range(rng.randint(1, 6))]
    return f"{len(ws)}\n{' '.join(ws)}\n"


LONGEST_WORD = Family(
    name="longest_word",
    topic="strings",
    title="Longest Word",
    statement="$NAME wrote N words W_1, W_2, ..., W_N.\nPrint the longest of them. If several words are the"
    " longest, print the one that comes first.",
    input_format="N\nW_1 W_2 ... W_N",
    output="Print the answer.",
    constraints=(
        "1 <= N <= 100",
        "Each W_i is a string of length between 1 and 10, inclusive, of lowercase English letters.",
    ),
    steps=(
        "Read N and the list of words.",
        "Go through the words in order, keeping the best one; replace it only when a word is strictly longer,"
        " so ties keep the earlier word.",
        "Print the best word.",
    ),
    solutions=(
        Solution(
            "max-key",
            "max with key=len returns the first longest word.",
            "input()\nprint(max(input().split(), key=len))\n",
        ),
        Solution(
            "loop",
            "Keep the best word, replacing it only when strictly longer.",
            "input()\nbest = ''\nfor w in input().split():\n    if len(w) > len(best):\n        best = w\nprint(best)\n",
        ),
        Solution(
            "stable-sort",
            "Sort by negative length; the sort is stable, so ties keep input order.",
            "input()\nwords = input().split()\nprint(sorted(words, key=lambda w: -len(w))[0])\n",
        ),
    ),
    knobs=lambda rng: {"NAME": rng.choice(NAMES)},
    gen=_words_gen,
    ref=lambda inp, p: max(lines(inp)[1].split(), key=len),
    edges=lambda p: ["3\nab cd ef\n"],
    level=2,
)

# ---- held-out families: benchmark only ----

STRING_LENGTH = Family(
    name="string_length",
    topic="strings",
    title="Length of a String",
    statement="You are given a string S of lowercase English letters.\nPrint the length of S.",
    input_format="S",
    output="Print the number of characters in S.",
    constraints=(
        "S is a string of length between 1 and 100, inclusive, consisting of lowercase English letters.",
    ),
    steps=("Read S.", "Its length is len(S).", "Print it."),
    solutions=(
        Solution("len", "Use len.", "print(len(input().strip()))\n"),
        Solution(
            "loop",
            "Count the characters in a loop.",
            "s = input().strip()\nn = 0\nfor _ in s:\n    n += 1\nprint(n)\n",
        ),
    ),
    knobs=lambda rng: {},
    gen=lambda rng, p: word(rng, 1, 20) + "\n",
    ref=lambda inp, p: str(len(inp.strip())),
    edges=lambda p: ["a\n"],
    level=1,
    held_out=True,
)

COUNT_WORDS = Family(
    name="count_words",
    topic="strings",
    title="Counting Words",
    statement="You are given a sentence: words of lowercase English letters separated by single spaces.\nHow many"
    " words does it have?",
    input_format="S",
    output="Print the number of words.",
    constraints=("The sentence has between 1 and 100 words.", "Each word has between 1 and 10 letters."),
    steps=("Read the line.", "Splitting it on spaces gives the words.", "Print how many there are."),
    solutions=(
        Solution("split", "Split and take the length.", "print(len(input().split()))\n"),
        Solution("spaces", "Count the spaces and add one.", "print(input().strip().count(' ') + 1)\n"),
    ),
    knobs=lambda rng: {},
    gen=lambda rng, p: " ".join(word(rng, 1, 6) for _ in range(rng.randint(1, 8))) + "\n",
    ref=lambda inp, p: str(len(inp.split())),
    edges=lambda p: ["hello\n"],
    level=1,
    held_out=True,
)

FAMILIES = (
    REVERSE_STRING,
    PALINDROME,
    COUNT_CHAR,
    REMOVE_VOWELS,
    CHANGE_CASE,
    RUN_LENGTH,
    CAESAR,
    LONGEST_WORD,
    STRING_LENGTH,
    COUNT_WORDS,
)
