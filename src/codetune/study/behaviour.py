"""Behaviour metrics of one answer, computed from its text (never judged by hand).

An answer is markdown: prose, `#` headers, fenced code blocks. Per answer we measure whether prose comes before
the first code block and how long it is, headers, code blocks, the libraries its Python imports and the
functions it defines (both from the AST), and its length. The code is parsed, never run.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import Counter
from dataclasses import dataclass

from codetune.records import AggregateMetrics, AnswerMetrics

_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([\w+#.-]*)")
_HEADER = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+\S")
_PY_LANGS = {"", "python", "py", "python3", "py3"}
_STDLIB = set(sys.stdlib_module_names)


@dataclass
class CodeBlock:
    lang: str
    code: str
    closed: bool  # False: the answer ended inside the block (generation cut off)


def split_markdown(text: str) -> tuple[list[str], list[CodeBlock]]:
    """(prose segments, code blocks) of a markdown answer; prose[0] is the text before the first block."""
    prose: list[str] = []
    blocks: list[CodeBlock] = []
    buf: list[str] = []
    fence: str | None = None
    lang = ""
    for line in text.splitlines():
        m = _FENCE.match(line)
        if fence is None:
            if m:
                prose.append("\n".join(buf))
                buf, fence, lang = [], m.group(1), m.group(2).lower()
            else:
                buf.append(line)
        elif m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2):
            blocks.append(CodeBlock(lang, "\n".join(buf), closed=True))
            buf, fence = [], None
        else:
            buf.append(line)
    if fence is not None:
        blocks.append(CodeBlock(lang, "\n".join(buf), closed=False))
    else:
        prose.append("\n".join(buf))
    return prose, blocks


def _names_from_tree(tree: ast.AST) -> tuple[list[str], list[str]]:
    libs: list[str] = []
    funcs: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            libs += [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            libs.append(node.module.split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            funcs.append(node.name)
    return libs, funcs


def _scan_lines(code: str) -> tuple[list[str], list[str]]:
    """Imports and defs of code that does not parse as a whole (e.g. an un-commented prose line inside it):
    each `import`/`from`/`def` line is parsed on its own, so only real statements count."""
    libs: list[str] = []
    funcs: list[str] = []
    for line in code.splitlines():
        s = line.strip()
        try:
            if s.startswith(("import ", "from ")):
                libs += _names_from_tree(ast.parse(s))[0]
            elif s.startswith(("def ", "async def ")) and s.endswith(":"):
                funcs += _names_from_tree(ast.parse(s + "\n    pass"))[1]
        except SyntaxError:
            continue
    return libs, funcs


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def answer_metrics(text: str) -> AnswerMetrics:
    prose, blocks = split_markdown(text)
    before = prose[0] if blocks else "\n".join(prose)
    # Header lines are structure, not explanation: "### Solution" alone before the code is no explanation.
    explanation = "\n".join(ln for ln in before.splitlines() if not _HEADER.match(ln)).strip()
    libs: list[str] = []
    funcs: list[str] = []
    parsed = unparsed = 0
    for b in blocks:
        if b.lang not in _PY_LANGS:
            continue
        try:
            tree = ast.parse(b.code)
        except SyntaxError:
            unparsed += 1
            found = _scan_lines(b.code)
        else:
            parsed += 1
            found = _names_from_tree(tree)
        libs += found[0]
        funcs += found[1]
    unique_libs = sorted(set(libs))
    headers = sum(1 for part in prose for ln in part.splitlines() if _HEADER.match(ln))
    return AnswerMetrics(
        explanation_before_code=bool(blocks) and bool(explanation),
        explanation_chars=len(explanation),
        explanation_words=_words(explanation),
        headers=headers,
        code_blocks=len(blocks),
        unclosed_code_block=any(not b.closed for b in blocks),
        python_blocks_parsed=parsed,
        python_blocks_unparsed=unparsed,
        libraries=unique_libs,
        third_party_libraries=[lib for lib in unique_libs if lib not in _STDLIB],
        functions=funcs,
        answer_chars=len(text.strip()),
        answer_words=_words(text),
        answer_lines=len(text.strip().splitlines()),
    )


def aggregate_metrics(metrics: list[AnswerMetrics]) -> AggregateMetrics:
    """One checkpoint's answers summed up: counts, means, and every library with how many answers import it."""
    n = len(metrics)
    if n == 0:
        return AggregateMetrics(answers=0)
    lib_counts = Counter(lib for m in metrics for lib in m.libraries)

    def mean(values: list[float]) -> float:
        return round(sum(values) / n, 1)

    return AggregateMetrics(
        answers=n,
        explanation_before_code=sum(m.explanation_before_code for m in metrics),
        mean_explanation_chars=mean([m.explanation_chars for m in metrics]),
        headers=sum(m.headers for m in metrics),
        code_blocks=sum(m.code_blocks for m in metrics),
        unclosed_code_blocks=sum(m.unclosed_code_block for m in metrics),
        functions=sum(len(m.functions) for m in metrics),
        libraries=dict(sorted(lib_counts.items())),
        third_party_libraries=sorted({lib for m in metrics for lib in m.third_party_libraries}),
        mean_answer_chars=mean([m.answer_chars for m in metrics]),
        mean_answer_words=mean([m.answer_words for m in metrics]),
    )
