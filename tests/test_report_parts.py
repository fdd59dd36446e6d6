"""The report's parts on their own: the rank correlation, outcome kinds read off scorer-written entries, and
the document's escaping of model text in HTML and Markdown."""

from __future__ import annotations

import pytest

from codetune.bench.scoring import grading_limits, score_generations
from codetune.study.document import Cell, Details, Matrix, Para, Table, to_html, to_markdown
from codetune.study.report.outcomes import problem_kind, sample_kind
from codetune.study.stats import spearman
from fakes import StandInRunner
from helpers import seed_problems

PROBLEMS = seed_problems()


def test_spearman():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # Ties take the mean rank: ranks x = 1, 2.5, 2.5, 4; y = 1, 2, 3, 4 -> r = 0.9486833 (scipy.stats.spearmanr).
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486833, abs=1e-6)
    assert spearman([1, 2], [2, 1]) is None  # too few points
    assert spearman([1, 1, 1], [1, 2, 3]) is None  # a constant series has no ranks to correlate


@pytest.mark.parametrize(
    "outcome, kind",
    [
        ("passed", "solved"),
        ("wrong_answer", "wrong_answer"),
        ("runtime_error", "runtime_error"),
        ("syntax_error", "syntax_error"),
        ("timeout", "timeout"),
        ("memory_limit", "memory_limit"),
        ("no_code", "no_code"),
    ],
)
def test_outcome_kinds_from_the_scorer(outcome, kind):
    p = PROBLEMS[0]
    code = None if outcome == "no_code" else f"# fake {p.question_id} {outcome}\nprint(1)"
    gen = {"question_id": p.question_id, "code_list": [code], "extraction_failed": [code is None]}
    (entry,) = score_generations([p], [gen], limits=grading_limits(), runner=StandInRunner(PROBLEMS))
    assert sample_kind(entry, 0) == kind and problem_kind(entry) == kind


def test_lcb_files_without_verdicts_use_error_codes():
    p = PROBLEMS[0]
    gen = {"question_id": p.question_id, "code_list": [f"# fake {p.question_id} timeout\n"]}
    (entry,) = score_generations([p], [gen], limits=grading_limits(), runner=StandInRunner(PROBLEMS))
    bare = entry.model_copy(update={"verdicts": None, "extraction_failed": None})
    assert sample_kind(bare, 0) == "timeout"


HOSTILE = "<script>alert(1)</script></pre>"


def test_document_escapes_text_everywhere():
    blocks = [
        Para(f"title {HOSTILE}"),
        Table([HOSTILE], [[HOSTILE]], caption=HOSTILE),
        Matrix(
            ["p", HOSTILE],
            [([HOSTILE], [Cell("WA", "wrong_answer", HOSTILE, "#a")])],
            legend=[("x", "WA", HOSTILE)],
        ),
        Details(HOSTILE, [(HOSTILE, HOSTILE + "\n```\nfence")]),
    ]
    html = to_html(HOSTILE, blocks)
    assert "<script" not in html and '</pre>"' not in html
    assert html.count("&lt;script&gt;") >= 9
    md = to_markdown(blocks, "assets")
    outside_fences = md.split("````")[0]
    assert "<script" not in outside_fences.replace("\\<script", "")
    assert "<summary>&lt;script&gt;" in md  # raw HTML in Markdown: escaped like the page
    assert "````text\n" + HOSTILE in md  # the answer in a fence longer than any it holds


LINKS = (
    "[click](http://evil.example/x) ![p](http://evil.example/p.png) <http://evil.example> www.evil.example"
)


def test_markdown_twin_has_no_live_link_from_outside_text():
    """Issue 29.13: titles, prompts, the system prompt and the description enter the Markdown as text: a
    CommonMark renderer makes no link, image or HTML of them, and they read back as written."""
    from markdown_it import MarkdownIt

    from codetune.study.document import Bullets, Heading, Image, Note, SideBySide

    blocks = [
        Heading(2, LINKS),
        Para(LINKS + "\n# not a heading\n- not an item\n1. not a list"),
        Note(LINKS),
        Bullets([LINKS, "&amp; *stars* _under_ `tick` ~~strike~~"]),
        Table([LINKS], [[LINKS]], caption=LINKS),
        Matrix(
            ["p", LINKS], [([LINKS], [Cell("WA", "wrong_answer", LINKS, "#a")])], legend=[("x", "WA", LINKS)]
        ),
        Image("loss.png", b"", alt=LINKS, caption=LINKS),
        SideBySide([(LINKS, "answer")]),
        Details("s", [(LINKS, "text")]),
    ]
    md = to_markdown(blocks, "assets")
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert html.count("<a ") == 0 and html.count("<img") == 1  # only the report's own figure
    assert "<h1>" not in html and html.count("<li>") == 2 and "<ol" not in html
    assert "<em>stars" not in html and "<em>under" not in html and "<code>" not in html
    assert "*stars* _under_ `tick` ~~strike~~" in html and "&amp;amp;" in html
    assert "[click](http://evil.example/x)" in html.replace("&quot;", '"')
    assert "http\\://" in md and "www\\.evil" in md  # GitHub's bare-URL autolinks need the raw `://`, `www.`
