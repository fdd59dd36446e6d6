"""A small document model rendered twice: one self-contained HTML file (images inlined as data URIs, inline
CSS, no script, no external reference, so it opens offline) and a Markdown twin (images as files next to it).

The report builds a list of blocks once, so both renderings say exactly the same things.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field


@dataclass
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Note:
    """Something missing or a caveat, shown highlighted."""

    text: str


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""
    highlight: set[int] = field(default_factory=set)  # row indexes to emphasise (the selected best)
    numeric: set[int] = field(default_factory=set)  # column indexes to right-align


@dataclass
class Image:
    name: str  # file name of the PNG next to the Markdown
    png: bytes
    alt: str
    caption: str = ""
    first_screen: bool = False  # HTML: kept short enough to share the first screen with what is above it


@dataclass
class Code:
    text: str
    lang: str = ""
    summary: str = ""  # when set, shown collapsed under this title (HTML <details>)


@dataclass
class SideBySide:
    """Texts shown in columns (one per model); in Markdown one after another."""

    columns: list[tuple[str, str]]


@dataclass
class Cell:
    """One cell of a Matrix: short text, a CSS class naming its kind, a longer title and an optional link."""

    text: str
    kind: str = ""
    title: str = ""
    href: str = ""  # an anchor in the page ("#ans-..."), HTML only


@dataclass
class Matrix:
    """A wide grid (problems x models): compact coloured cells, in HTML inside its own horizontal scroll box so
    the page never grows wider than the screen; row labels stay visible (sticky first columns)."""

    headers: list[str]
    rows: list[tuple[list[str], list[Cell]]]  # (row label cells, grid cells)
    label_cols: int = 1
    caption: str = ""
    legend: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, short text, meaning)
    anchor: str = "matrix"
    emphasis: set[int] = field(default_factory=set)  # grid columns (0 = first after the labels) to outline


@dataclass
class Details:
    """A collapsed item (HTML <details>) holding labelled texts shown verbatim (model answers, test data)."""

    summary: str
    parts: list[
        tuple[str, str] | list[tuple[str, str]]
    ]  # (label, text), or a list of them shown side by side
    anchor: str = ""


Block = Heading | Para | Bullets | Note | Table | Image | Code | SideBySide | Matrix | Details


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d2330;
 margin:0;background:#f6f7f9;line-height:1.5}
main{max-width:1180px;margin:0 auto;padding:24px 32px 64px;background:#fff;min-height:100vh;
 box-shadow:0 0 12px rgba(0,0,0,.06)}
h1{font-size:1.6em;margin:.1em 0 .3em;border-bottom:3px solid #3b6fd4;padding-bottom:.15em}
h1+p{font-size:.85em;color:#555;margin:.2em 0}
h2#results{margin-top:.5em}
h2{font-size:1.45em;margin-top:1.8em;border-bottom:1px solid #dde2ea;padding-bottom:.15em;color:#223a6b}
h3{font-size:1.15em;margin-top:1.4em;color:#223a6b}
p,li{max-width:90ch}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.92em}
caption{caption-side:top;text-align:left;font-weight:600;padding:.2em 0 .4em;color:#444}
th,td{border:1px solid #d5dae3;padding:.32em .7em;vertical-align:top}
th{background:#eef2f9;text-align:left}
tr:nth-child(even) td{background:#fafbfd}
tr.best td{background:#e3f4e6;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0 1.6em}
figure img{max-width:100%;border:1px solid #e2e6ee;border-radius:4px}
figure.first{margin:.4em 0 1em}figure.first img{max-height:max(240px,min(46vh,440px));width:auto}
figcaption{font-size:.9em;color:#555;margin-top:.3em}
pre{background:#f4f6fa;border:1px solid #e0e4ec;border-radius:4px;padding:.7em .9em;overflow-x:auto;
 font-size:.85em;white-space:pre-wrap;word-break:break-word}
.note{background:#fff6e0;border-left:4px solid #e0a800;padding:.5em .9em;margin:.8em 0}
.cols{display:grid;gap:12px;margin:.6em 0 1em}
.cols h4{margin:.2em 0 .3em;font-size:.95em;color:#223a6b}
.cols pre{margin:0;max-height:36em;overflow-y:auto}
nav.toc{font-size:.85em;margin:.3em 0 .8em;color:#555}
nav.toc ul{display:inline;margin:0;padding:0}nav.toc li{display:inline;margin-right:.9em}
details summary{cursor:pointer;color:#223a6b}
.scroll{overflow-x:auto;width:max-content;max-width:100%;border:1px solid #e2e6ee;border-radius:4px;margin:.6em 0 1.2em}
table.grid{margin:0;font-size:.78em;border-collapse:separate;border-spacing:0}
table.grid th,table.grid td{padding:.15em .35em;white-space:nowrap;text-align:center;border-width:0 1px 1px 0}
table.grid td.lbl,table.grid th.lbl{text-align:left;position:sticky;left:0;background:#fff;z-index:1;
 max-width:16em;overflow:hidden;text-overflow:ellipsis}
table.grid thead th{position:sticky;top:0;z-index:2}
table.grid thead th.lbl{z-index:3;background:#eef2f9}
table.grid a{color:inherit;text-decoration:none;display:block}
.k-solved{background:#bfe5c6!important}.k-wrong_answer{background:#f6c4c4!important}
.k-runtime_error{background:#f7d9b0!important}.k-syntax_error{background:#e9c9ef!important}
.k-timeout{background:#c9d8f5!important}.k-memory_limit{background:#b9e6ec!important}
.k-no_code{background:#e2e2e2!important}.k-sandbox_error{background:#333!important;color:#fff}
.k-unknown{background:#fff!important}
table.grid .sel{box-shadow:inset 2px 0 #223a6b,inset -2px 0 #223a6b;font-weight:700}
.legend span{display:inline-block;margin:0 .8em .3em 0;font-size:.85em}
.legend b{display:inline-block;min-width:2.2em;text-align:center;border:1px solid #ccd;margin-right:.3em}
details:target{outline:2px solid #3b6fd4;outline-offset:2px}
.answer pre{max-height:24em;overflow-y:auto;margin:.2em 0 .6em}
.answer .cols{margin:0;gap:8px}
.answer h5{margin:.5em 0 .1em;font-size:.85em;color:#444}
.gridcap{font-weight:600;color:#444;font-size:.92em;margin:.4em 0 .2em}
@media (max-width:600px){main{padding:12px 10px 40px}table{font-size:.8em}
 table.grid td.lbl,table.grid th.lbl{max-width:8em}
 table:not(.grid){display:block;overflow-x:auto;max-width:100%}}
"""


def _cells(row: list[str], tag: str, numeric: set[int]) -> str:
    return "".join(
        f"<{tag}{' class=num' if i in numeric else ''}>{html.escape(c)}</{tag}>" for i, c in enumerate(row)
    )


def to_html(title: str, blocks: list[Block]) -> str:
    """One HTML page; headings of level 2 make the table of contents."""
    out: list[str] = []
    toc = [(b.anchor or slug(b.text), b.text) for b in blocks if isinstance(b, Heading) and b.level == 2]
    toc_html = "".join(f'<li><a href="#{a}">{html.escape(t)}</a></li>' for a, t in toc)
    toc_done = False
    for b in blocks:
        if isinstance(b, Heading):
            if b.level == 2 and not toc_done and toc:
                # One line, so the first screen holds results rather than a table of contents.
                out.append(f'<nav class="toc">Sections: <ul>{toc_html}</ul></nav>')
                toc_done = True
            anchor = b.anchor or slug(b.text)
            out.append(f'<h{b.level} id="{anchor}">{html.escape(b.text)}</h{b.level}>')
        elif isinstance(b, Para):
            out.append(f"<p>{html.escape(b.text)}</p>")
        elif isinstance(b, Note):
            out.append(f'<div class="note">{html.escape(b.text)}</div>')
        elif isinstance(b, Bullets):
            out.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            cap = f"<caption>{html.escape(b.caption)}</caption>" if b.caption else ""
            head = f"<thead><tr>{_cells(b.headers, 'th', b.numeric)}</tr></thead>"
            body = "".join(
                f"<tr{' class=best' if i in b.highlight else ''}>{_cells(r, 'td', b.numeric)}</tr>"
                for i, r in enumerate(b.rows)
            )
            out.append(f"<table>{cap}{head}<tbody>{body}</tbody></table>")
        elif isinstance(b, Image):
            data = base64.b64encode(b.png).decode("ascii")
            cap = f"<figcaption>{html.escape(b.caption)}</figcaption>" if b.caption else ""
            cls = ' class="first"' if b.first_screen else ""
            out.append(
                f'<figure{cls}><img src="data:image/png;base64,{data}" alt="{html.escape(b.alt)}" '
                f'data-name="{html.escape(b.name)}">{cap}</figure>'
            )
        elif isinstance(b, Code):
            pre = f"<pre><code>{html.escape(b.text)}</code></pre>"
            out.append(
                f"<details><summary>{html.escape(b.summary)}</summary>{pre}</details>" if b.summary else pre
            )
        elif isinstance(b, SideBySide):
            n = max(1, len(b.columns))
            cols = "".join(
                f"<div><h4>{html.escape(t)}</h4><pre>{html.escape(text) or '(empty answer)'}</pre></div>"
                for t, text in b.columns
            )
            out.append(
                f'<div class="cols" style="grid-template-columns:repeat({n},minmax(0,1fr))">{cols}</div>'
            )
        elif isinstance(b, Matrix):
            out.append(_matrix_html(b))
        elif isinstance(b, Details):
            out.append(_details_html(b))
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body><main>\n"
        + "\n".join(out)
        + "\n</main></body></html>\n"
    )


def _kind_class(kind: str) -> str:
    return f" class=k-{re.sub(r'[^a-z_]', '', kind)}" if kind else ""


def _matrix_html(m: Matrix) -> str:
    esc = html.escape
    n = m.label_cols
    head = "".join(
        f"<th{' class=lbl' if i < n else ''}>{esc(h).replace(chr(10), '<br>')}</th>"
        for i, h in enumerate(m.headers)
    )
    body = []
    for labels, cells in m.rows:
        tds = "".join(f'<td class=lbl title="{esc(t)}">{esc(t)}</td>' for t in labels)
        for j, c in enumerate(cells):
            inner = esc(c.text)
            if c.href:
                inner = f'<a href="{esc(c.href)}">{inner}</a>'
            title = f' title="{esc(c.title)}"' if c.title else ""
            cls = f"k-{re.sub(r'[^a-z_]', '', c.kind)}" if c.kind else ""
            cls = (cls + " sel").strip() if j in m.emphasis else cls
            tds += f"<td{f' class={chr(34)}{cls}{chr(34)}' if cls else ''}{title}>{inner}</td>"
        body.append(f"<tr>{tds}</tr>")
    # The caption stays outside the scroll box, so it reads whole however far the grid is scrolled.
    cap = f'<div class="gridcap">{esc(m.caption)}</div>' if m.caption else ""
    legend = "".join(f"<span><b{_kind_class(k)}>{esc(t)}</b>{esc(d)}</span>" for k, t, d in m.legend)
    legend_html = f'<div class="legend">{legend}</div>' if legend else ""
    return (
        f'{legend_html}{cap}<div class="scroll" id="{esc(m.anchor)}"><table class="grid"><thead><tr>{head}'
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _details_html(d: Details) -> str:
    esc = html.escape

    def one(label: str, text: str) -> str:
        return f"<h5>{esc(label)}</h5><pre><code>{esc(text) or '(empty)'}</code></pre>"

    parts = "".join(
        one(*part)
        if isinstance(part, tuple)
        else '<div class="cols" style="grid-template-columns:repeat('
        f'{len(part)},minmax(0,1fr))">' + "".join(f"<div>{one(*x)}</div>" for x in part) + "</div>"
        for part in d.parts
    )
    anchor = f' id="{esc(d.anchor)}"' if d.anchor else ""
    return f'<details class="answer"{anchor}><summary>{esc(d.summary)}</summary>{parts}</details>'


# What Markdown (CommonMark and GitHub's) reads as markup inside a line: emphasis, code, links and images
# (`[`, `]`), inline HTML and autolinks (`<`, `>`), entities (`&`), strikethrough, table cells, escapes. An
# `_` inside a word (`max_problems`) never delimits emphasis, so it is left as it is.
_MD_INLINE = re.compile(r"([\\`*\[\]<>&~|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
# GitHub's bare-URL autolinks (`http://x`, `www.x`): an escaped ":" or "." is no longer one.
_MD_AUTOLINK = re.compile(r"(?i)(?<=[a-z]):(?=//)|(?<=\bwww)\.")
# What opens a block at a line's start: heading, quote, list item, thematic break, setext underline.
_MD_LINE_START = re.compile(r"^(\s*)(\d*)([#>+=.)-])", re.MULTILINE)


def md_text(text: str, *, starts_line: bool = False) -> str:
    """Text as Markdown shows it literally, whatever it holds: every piece of text that enters the Markdown
    twin goes through here (problem titles, prompts, run names and errors come from outside and may hold
    links, images or HTML that a viewer would make live). `starts_line`: the text begins a line of its own,
    so what would open a block there is escaped too (as it is after each newline in it)."""
    text = _MD_INLINE.sub(r"\\\1", text)
    text = _MD_AUTOLINK.sub(lambda m: "\\" + m.group(0), text)
    return _MD_LINE_START.sub(
        lambda m: (
            m.group(0) if m.start() == 0 and not starts_line else m.group(1) + m.group(2) + "\\" + m.group(3)
        ),
        text,
    )


def _md_escape_cell(text: str) -> str:
    return md_text(text.replace("\n", " "))


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks inside the text (answers contain code blocks)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def to_markdown(blocks: list[Block], assets_dir: str) -> str:
    """Markdown; images are referenced as `assets_dir/<name>`, which the caller writes."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + md_text(b.text))
        elif isinstance(b, Para):
            out.append(md_text(b.text, starts_line=True))
        elif isinstance(b, Note):
            out.append("> **Note:** " + md_text(b.text))
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {md_text(i)}" for i in b.items))
        elif isinstance(b, Table):
            lines = [f"**{md_text(b.caption)}**\n"] if b.caption else []
            lines.append("| " + " | ".join(_md_escape_cell(h) for h in b.headers) + " |")
            lines.append(
                "|" + "|".join("---:" if i in b.numeric else "---" for i in range(len(b.headers))) + "|"
            )
            for i, r in enumerate(b.rows):
                cells = [_md_escape_cell(c) for c in r]
                if i in b.highlight:
                    cells = [f"**{c}**" if c else c for c in cells]
                lines.append("| " + " | ".join(cells) + " |")
            out.append("\n".join(lines))
        elif isinstance(b, Image):
            out.append(
                f"![{md_text(b.alt)}]({assets_dir}/{b.name})"
                + (f"\n\n*{md_text(b.caption)}*" if b.caption else "")
            )
        elif isinstance(b, Code):
            f = _fence(b.text)
            code = f"{f}{b.lang}\n{b.text.rstrip()}\n{f}"
            out.append(
                f"<details><summary>{html.escape(b.summary)}</summary>\n\n{code}\n\n</details>"
                if b.summary
                else code
            )
        elif isinstance(b, SideBySide):
            for title, text in b.columns:
                f = _fence(text)
                out.append(f"**{md_text(title)}**\n\n{f}text\n{text.rstrip() or '(empty answer)'}\n{f}")
        elif isinstance(b, Matrix):
            if b.legend:
                out.append("Legend: " + "; ".join(f"{md_text(t)} {md_text(d)}" for _, t, d in b.legend) + ".")
            lines = [f"**{md_text(b.caption)}**\n"] if b.caption else []
            lines.append("| " + " | ".join(_md_escape_cell(h) for h in b.headers) + " |")
            lines.append("|" + "|".join("---" for _ in b.headers) + "|")
            for labels, grid in b.rows:
                lines.append(
                    "| " + " | ".join(_md_escape_cell(c) for c in [*labels, *(x.text for x in grid)]) + " |"
                )
            out.append("\n".join(lines))
        elif isinstance(b, Details):
            parts = []
            for label, text in [x for part in b.parts for x in ([part] if isinstance(part, tuple) else part)]:
                f = _fence(text)
                parts.append(
                    f"{md_text(label, starts_line=True)}:\n\n{f}text\n{text.rstrip() or '(empty)'}\n{f}"
                )
            body = "\n\n".join(parts)
            out.append(f"<details><summary>{html.escape(b.summary)}</summary>\n\n{body}\n\n</details>")
    return "\n\n".join(out) + "\n"
