"""Grids of `#` and `.`: counting, transposing, neighbours."""

from __future__ import annotations

from random import Random

from .base import Family, Params, Solution, ints, lines


def _grid(rng: Random, h: int, w: int, density: float = 0.4) -> list[str]:
    return ["".join("#" if rng.random() < density else "." for _ in range(w)) for _ in range(h)]


def _grid_input(rng: Random, p: Params) -> str:
    h, w = rng.randint(1, 4), rng.randint(1, 5)
    return f"{h} {w}\n" + "\n".join(_grid(rng, h, w)) + "\n"


def _rows(inp: str) -> list[str]:
    ls = lines(inp)
    h = ints(ls[0])[0]
    return ls[1 : 1 + h]


GRID_INPUT = "H W\nS_1\nS_2\n...\nS_H"
GRID_CONSTRAINTS = (
    "1 <= H, W <= 10",
    "Each S_i is a string of length W consisting of # and ..",
)


def _count_knobs(rng: Random) -> Params:
    if rng.random() < 0.5:
        return {"C": "#", "WHAT": "black", "PLACE": rng.choice(["board", "wall", "floor"])}
    return {"C": ".", "WHAT": "white", "PLACE": rng.choice(["board", "wall", "floor"])}


GRID_COUNT = Family(
    name="grid_count",
    topic="grids",
    title="$WHAT Tiles",
    statement=(
        "A $PLACE is a grid with H rows and W columns of tiles. The i-th row is described by a string S_i: the j-th"
        " character is # if that tile is black and . if it is white.\nHow many tiles are $WHAT?"
    ),
    input_format=GRID_INPUT,
    output="Print the number of $WHAT tiles.",
    constraints=GRID_CONSTRAINTS,
    steps=(
        "Read H, W and the H rows.",
        "A tile is $WHAT when its character is '$C'.",
        "Add up the number of '$C' characters in every row and print the total.",
    ),
    solutions=(
        Solution(
            "row-count",
            "Sum str.count over the rows.",
            "h, w = map(int, input().split())\nprint(sum(input().count('$C') for _ in range(h)))\n",
        ),
        Solution(
            "nested",
            "Visit every cell with two loops.",
            "h, w = map(int, input().split())\ngrid = [input() for _ in range(h)]\ntotal = 0\nfor i in range(h):\n"
            "    for j in range(w):\n        if grid[i][j] == '$C':\n            total += 1\nprint(total)\n",
        ),
        Solution(
            "join",
            "Join all rows into one string and count once.",
            "import sys\n\nrows = sys.stdin.read().split()[2:]\nprint(''.join(rows).count('$C'))\n",
        ),
    ),
    knobs=_count_knobs,
    gen=_grid_input,
    ref=lambda inp, p: str(sum(r.count(p["C"]) for r in _rows(inp))),
    edges=lambda p: ["1 1\n#\n", "2 2\n..\n..\n"],
    level=1,
)

GRID_TRANSPOSE = Family(
    name="grid_transpose",
    topic="grids",
    title="Transpose the Grid",
    statement=(
        "You are given a grid with H rows and W columns; the i-th row is the string S_i.\n"
        "Print its transpose: a grid with W rows and H columns whose j-th row is the j-th column of the original."
    ),
    input_format=GRID_INPUT,
    output="Print W lines; the j-th line is the j-th column of the grid read from top to bottom.",
    constraints=GRID_CONSTRAINTS,
    steps=(
        "Read H, W and the rows.",
        "Row j of the answer is S_1[j] + S_2[j] + ... + S_H[j].",
        "Print the W new rows, one per line.",
    ),
    solutions=(
        Solution(
            "zip",
            "zip(*rows) yields the columns.",
            "h, w = map(int, input().split())\nrows = [input() for _ in range(h)]\nfor col in zip(*rows):\n    print(''.join(col))\n",
        ),
        Solution(
            "nested",
            "Build each column with an inner loop.",
            "h, w = map(int, input().split())\ng = [input() for _ in range(h)]\nfor j in range(w):\n    line = ''\n"
            "    for i in range(h):\n        line += g[i][j]\n    print(line)\n",
        ),
        Solution(
            "comprehension",
            "Create all columns with one comprehension, then print them joined by newlines.",
            "h, w = map(int, input().split())\ng = [input() for _ in range(h)]\n"
            "print('\\n'.join(''.join(g[i][j] for i in range(h)) for j in range(w)))\n",
        ),
    ),
    knobs=lambda rng: {},
    gen=_grid_input,
    ref=lambda inp, p: "\n".join("".join(c) for c in zip(*_rows(inp), strict=True)),
    edges=lambda p: ["1 3\n#.#\n"],
    level=2,
)


def _neighbour_input(rng: Random, p: Params) -> str:
    h, w = rng.randint(1, 3), rng.randint(1, 4)
    r, c = rng.randint(1, h), rng.randint(1, w)
    return f"{h} {w}\n" + "\n".join(_grid(rng, h, w, 0.5)) + f"\n{r} {c}\n"


def _neighbours(inp: str, p: Params) -> str:
    ls = lines(inp)
    h, w = ints(ls[0])
    g = ls[1 : 1 + h]
    r, c = ints(ls[1 + h])
    n = sum(
        1
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
        if 0 <= r - 1 + dr < h and 0 <= c - 1 + dc < w and g[r - 1 + dr][c - 1 + dc] == "#"
    )
    return str(n)


GRID_NEIGHBOURS = Family(
    name="grid_neighbours",
    topic="grids",
    title="Black Neighbours",
    statement=(
        "In a grid with H rows and W columns, square (i, j) is black if the j-th character of S_i is #.\n"
        "How many of the squares directly above, below, left and right of square (R, C) are black?"
    ),
    input_format="H W\nS_1\n...\nS_H\nR C",
    output="Print the number of black squares adjacent to (R, C).",
    constraints=(*GRID_CONSTRAINTS, "1 <= R <= H", "1 <= C <= W"),
    steps=(
        "Read the grid and (R, C); use 0-based r = R - 1, c = C - 1.",
        "The neighbours are (r - 1, c), (r + 1, c), (r, c - 1) and (r, c + 1).",
        "Count those inside the grid that are '#', and print the count.",
    ),
    solutions=(
        Solution(
            "deltas",
            "Loop over the four direction offsets with a bounds check.",
            "h, w = map(int, input().split())\ng = [input() for _ in range(h)]\nr, c = map(int, input().split())\n"
            "r, c = r - 1, c - 1\ncount = 0\nfor dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):\n    nr, nc = r + dr, c + dc\n"
            "    if 0 <= nr < h and 0 <= nc < w and g[nr][nc] == '#':\n        count += 1\nprint(count)\n",
        ),
        Solution(
            "padding",
            "Surround the grid with a border of '.', so no bounds checks are needed.",
            "h, w = map(int, input().split())\ng = ['.' * (w + 2)] + ['.' + input() + '.' for _ in range(h)] + ['.' * (w + 2)]\n"
            "r, c = map(int, input().split())\n"
            "print([g[r - 1][c], g[r + 1][c], g[r][c - 1], g[r][c + 1]].count('#'))\n",
        ),
        Solution(
            "explicit",
            "Four explicit if statements, one per side.",
            "h, w = map(int, input().split())\ng = [input() for _ in range(h)]\nr, c = map(int, input().split())\n"
            "r, c = r - 1, c - 1\ncount = 0\nif r > 0 and g[r - 1][c] == '#':\n    count += 1\n"
            "if r < h - 1 and g[r + 1][c] == '#':\n    count += 1\nif c > 0 and g[r][c - 1] == '#':\n    count += 1\n"
            "if c < w - 1 and g[r][c + 1] == '#':\n    count += 1\nprint(count)\n",
        ),
    ),
    knobs=lambda rng: {},
    gen=_neighbour_input,
    ref=_neighbours,
    edges=lambda p: ["1 1\n#\n1 1\n", "3 3\n###\n#.#\n###\n2 2\n"],
    level=3,
)

FAMILIES = (GRID_COUNT, GRID_TRANSPOSE, GRID_NEIGHBOURS)
