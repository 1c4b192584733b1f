"""``embodied report RUN_DIR``: one self-contained HTML file for a sweep or a single run.

Everything is embedded (images as base64 data URIs, the chart as a PNG, styles inline), so the
file can be mailed or archived alone. A sweep report has the aggregate table, a success-rate chart
per task and variant, the episode list, and timelines of up to ``max_episodes`` episodes (the ones
that failed first). A timeline is rebuilt from ``trace.jsonl``: plan and revisions, every policy
with highlighted code, diffs between repairs, primitive calls, verdicts, checkpoint images, and a
GIF of the checkpoint images.

Images are re-encoded as JPEG (RGB) at most ``THUMB_WIDTH`` pixels wide to keep the file small.
"""

from __future__ import annotations

import base64
import html
import io
import json
import keyword
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from PIL import Image, UnidentifiedImageError

from embodied.errors import EmbodiedError
from embodied.results import (
    DONE,
    CellStats,
    EpisodeRow,
    aggregate,
    read_rows,
    row_confusion,
    row_from_summary,
    wilson_interval,
)
from embodied.trace import read_trace

THUMB_WIDTH = 320  # pixels: checkpoint images in timelines
GIF_WIDTH = 240  # pixels: frames of the episode GIF
GIF_FRAME_MS = 700


class ReportError(EmbodiedError):
    """The directory holds neither a sweep nor a run."""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


# ---------------------------------------------------------------------------------------------
# Code highlighting: pygments when installed, else a small tokenizer for Python and diffs.

_PY_TOKEN = re.compile(
    r"(?P<c>#[^\n]*)"
    r"|(?P<s>'''[\s\S]*?'''|\"\"\"[\s\S]*?\"\"\"|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\")"
    r"|(?P<m>\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b)"
    r"|(?P<n>\b[A-Za-z_]\w*\b)(?P<call>\s*\()?")
_KEYWORDS = frozenset(keyword.kwlist)

FALLBACK_CSS = """
.hl .k { color: #7a3e9d; font-weight: bold } .hl .s { color: #2e7d32 } .hl .c { color: #888; font-style: italic }
.hl .m { color: #1565c0 } .hl .f { color: #b35900 } .hl .gi { color: #2e7d32; background: #e8f5e9 }
.hl .gd { color: #c62828; background: #ffebee } .hl .gu { color: #6a1b9a; font-weight: bold }
"""


def _simple_python(source: str) -> str:
    out: list[str] = []
    pos = 0
    for m in _PY_TOKEN.finditer(source):
        out.append(_e(source[pos:m.start()]))
        kind = m.lastgroup if m.lastgroup != "call" else "n"
        if m.group("n") is not None:
            word = m.group("n")
            cls = "k" if word in _KEYWORDS else ("f" if m.group("call") else "")
            out.append(f'<span class="{cls}">{_e(word)}</span>' if cls else _e(word))
            out.append(_e(m.group("call") or ""))
        else:
            out.append(f'<span class="{kind}">{_e(m.group(0))}</span>')
        pos = m.end()
    out.append(_e(source[pos:]))
    return "".join(out)


def _simple_diff(text: str) -> str:
    lines = []
    for line in text.splitlines():
        cls = "gu" if line.startswith("@@") else "gi" if line.startswith("+") else "gd" if line.startswith("-") else ""
        lines.append(f'<span class="{cls}">{_e(line)}</span>' if cls else _e(line))
    return "\n".join(lines)


class Highlighter:
    """HTML for code and diffs, styled by :attr:`css`."""

    def __init__(self, use_pygments: bool = True) -> None:
        self._pygments: Any = None
        if use_pygments:
            try:
                import pygments
                from pygments.formatters import HtmlFormatter
                from pygments.lexers import DiffLexer, PythonLexer
            except ImportError:
                pass  # the fallback tokenizer below does the job, only plainer
            else:
                self._pygments = (pygments, HtmlFormatter(nowrap=True), PythonLexer(), DiffLexer())
        self.css = FALLBACK_CSS if self._pygments is None else self._pygments[1].get_style_defs(".hl")

    def python(self, source: str) -> str:
        if self._pygments is None:
            return f'<pre class="hl code">{_simple_python(source)}</pre>'
        pyg, fmt, lexer, _ = self._pygments
        return f'<pre class="hl code">{pyg.highlight(source, lexer, fmt)}</pre>'

    def diff(self, text: str) -> str:
        if self._pygments is None:
            return f'<pre class="hl diff">{_simple_diff(text)}</pre>'
        pyg, fmt, _, lexer = self._pygments
        return f'<pre class="hl diff">{pyg.highlight(text, lexer, fmt)}</pre>'


# ---------------------------------------------------------------------------------------------
# Images


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


class ImageEmbedder:
    """Turns image files of a run directory into small data URIs (JPEG thumbnails)."""

    def __init__(self, width: int = THUMB_WIDTH) -> None:
        self.width = width

    def _open(self, path: Path) -> Image.Image | None:
        try:
            with Image.open(path) as im:
                im.load()
                return im.convert("RGB")
        except (OSError, UnidentifiedImageError):
            return None  # a missing or torn image (crash mid-write) is shown as missing, not fatal

    def thumb(self, path: Path) -> str | None:
        im = self._open(path)
        if im is None:
            return None
        if im.width > self.width:
            im = im.resize((self.width, round(im.height * self.width / im.width)), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=82)
        return _data_uri(buf.getvalue(), "image/jpeg")

    def gif(self, paths: Sequence[Path], width: int = GIF_WIDTH) -> str | None:
        frames = []
        for p in paths:
            im = self._open(p)
            if im is None:
                continue
            if im.width > width:
                im = im.resize((width, round(im.height * width / im.width)), Image.Resampling.LANCZOS)
            frames.append(im.quantize(colors=128))
        if len(frames) < 2:
            return None
        buf = io.BytesIO()
        frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=GIF_FRAME_MS, loop=0)
        return _data_uri(buf.getvalue(), "image/gif")


# ---------------------------------------------------------------------------------------------
# Chart


def success_chart(stats: Sequence[CellStats]) -> str | None:
    """Grouped bars: one group per task, one bar per variant, 95% Wilson intervals as error bars.
    None when matplotlib is not installed (the ``report`` extra) or there is nothing to plot."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    done = [s for s in stats if s.n]
    if not done:
        return None
    tasks = list(dict.fromkeys(s.task for s in done))
    variants = list(dict.fromkeys(s.variant for s in done))
    by_key = {(s.variant, s.task): s for s in done}
    fig = Figure(figsize=(max(5.0, 1.2 + len(tasks) * (0.5 + 0.35 * len(variants))), 3.6), dpi=100)
    FigureCanvasAgg(fig)  # attaches the Agg canvas: no pyplot, no global backend state
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(variants)
    for i, variant in enumerate(variants):
        xs, ys, lo, hi = [], [], [], []
        for j, task in enumerate(tasks):
            s = by_key.get((variant, task))
            if s is None:
                continue
            xs.append(j - 0.4 + width * (i + 0.5))
            ys.append(s.rate)
            lo.append(s.rate - s.ci_low)
            hi.append(s.ci_high - s.rate)
        ax.bar(xs, ys, width * 0.92, yerr=[lo, hi], capsize=3, label=variant)
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("success rate")
    ax.set_title("Success rate per task and variant (95% Wilson CI)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    if len(variants) > 1:
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(4, len(variants)),
                  frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return _data_uri(buf.getvalue(), "image/png")


# ---------------------------------------------------------------------------------------------
# Episodes


@dataclass
class Episode:
    """What a report shows of one run directory."""

    dir: Path
    events: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None

    @classmethod
    def load(cls, run_dir: Path) -> Episode:
        ep = cls(run_dir)
        if (run_dir / "trace.jsonl").is_file():
            ep.events = read_trace(run_dir / "trace.jsonl")
        for name in ("summary", "failure"):
            path = run_dir / f"{name}.json"
            if path.is_file():
                setattr(ep, name, json.loads(path.read_text(encoding="utf-8")))
        return ep


def _rgb_paths(images: dict[str, Any] | None) -> list[str]:
    """Image paths of an event worth showing: colour images (depth and masks only when no colour)."""
    if not isinstance(images, dict):
        return []
    paths = [str(p) for k, p in images.items() if str(k).endswith("rgb")]
    return paths or [str(p) for p in images.values()]


def _fmt_args(call: dict[str, Any]) -> str:
    def text(v: Any) -> str:
        return repr(v) if isinstance(v, str) else json.dumps(v)

    parts = [text(a) for a in call.get("args") or []]
    parts += [f"{k}={text(v)}" for k, v in (call.get("kwargs") or {}).items()]
    return ", ".join(parts)


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TimelineRenderer:
    """Renders one episode's trace events as HTML, in order. Unknown events are shown as JSON, so
    new event kinds appear in reports without a change here."""

    def __init__(self, highlighter: Highlighter, embedder: ImageEmbedder) -> None:
        self.hl, self.embed = highlighter, embedder

    def images(self, ep: Episode, images: dict[str, Any] | None, caption: str) -> str:
        out = []
        for rel in _rgb_paths(images):
            uri = self.embed.thumb(ep.dir / rel)
            if uri is None:
                out.append(f'<span class="missing">missing image {_e(rel)}</span>')
            else:
                out.append(f'<figure><img src="{uri}" alt="{_e(caption)}"><figcaption>{_e(caption)}</figcaption>'
                           "</figure>")
        return f'<div class="imgs">{"".join(out)}</div>' if out else ""

    def gif(self, ep: Episode) -> str:
        frames: list[Path] = []
        for ev in ep.events:
            if ev.get("event") in ("observation", "checkpoint", "final"):
                paths = _rgb_paths(ev.get("images"))
                if paths:
                    frames.append(ep.dir / paths[0])
        uri = self.embed.gif(frames)
        if uri is None:
            return ""
        return (f'<figure class="gif"><img src="{uri}" alt="episode animation">'
                f"<figcaption>{len(frames)} checkpoint images</figcaption></figure>")

    def render(self, ep: Episode) -> str:
        parts = [self.gif(ep)]
        if ep.failure:
            parts.append(f'<div class="ev bad"><b>did not finish:</b> {_e(ep.failure.get("reason", ""))}'
                         + (f'<pre class="tb">{_e(ep.failure["detail"])}</pre>' if ep.failure.get("detail") else "")
                         + "</div>")
        for ev in ep.events:
            kind = str(ev.get("event", "?"))
            handler = getattr(self, f"_ev_{kind}", None)
            parts.append(handler(ep, ev) if handler is not None else self._generic(kind, ev))
        if not ep.events:
            parts.append('<div class="ev">no trace.jsonl in this run directory</div>')
        return "\n".join(p for p in parts if p)

    # --- events -------------------------------------------------------------------------------

    @staticmethod
    def _t(ev: dict[str, Any]) -> str:
        return f'<span class="t">{float(ev.get("t", 0.0)):7.2f}s</span>'

    def _generic(self, kind: str, ev: dict[str, Any]) -> str:
        data = {k: v for k, v in ev.items() if k not in ("t", "event")}
        return f'<div class="ev">{self._t(ev)} <b>{_e(kind)}</b> <code>{_e(_short(data, 300))}</code></div>'

    def _ev_model_call(self, ep: Episode, ev: dict[str, Any]) -> str:
        figures = (f'{ev.get("prompt_tokens", 0)} prompt tokens ({ev.get("cached_tokens", 0)} cached), '
                   f'{ev.get("completion_tokens", 0)} completion tokens, {ev.get("latency_s", 0)} s')
        return (f'<div class="ev">{self._t(ev)} <b>model call</b> {_e(ev.get("model", ""))}: {_e(figures)}'
                f'<details><summary>last message ({_e(ev.get("last_role", ""))})</summary>'
                f'<pre>{_e(ev.get("last_message", ""))}</pre></details>'
                f'<pre>{_e(ev.get("answer", ""))}</pre></div>')

    def _ev_model_answer(self, ep: Episode, ev: dict[str, Any]) -> str:
        rejected = ev.get("rejected")
        verdict = f'rejected: {_e(rejected)}' if rejected else "accepted"
        return (f'<div class="ev{" bad" if rejected else ""}">{self._t(ev)} <b>model answer</b> '
                f'({_e(ev.get("task", ""))}, attempt {_e(ev.get("attempt", ""))}): {verdict}</div>')

    def _ev_episode_start(self, ep: Episode, ev: dict[str, Any]) -> str:
        return (f'<div class="ev">{self._t(ev)} <b>start</b>: {_e(ev.get("instruction", ""))} '
                f'(seed {_e(ev.get("seed"))})</div>')

    def _ev_observation(self, ep: Episode, ev: dict[str, Any]) -> str:
        objs = ", ".join(_e(o.get("name", "?")) for o in ev.get("objects") or [] if isinstance(o, dict))
        return (f'<div class="ev">{self._t(ev)} <b>observation</b> ({_e(ev.get("label", ""))})'
                f'{": " + objs if objs else ""}{self.images(ep, ev.get("images"), str(ev.get("label", "")))}</div>')

    def _subgoal_list(self, subgoals: Iterable[Any]) -> str:
        items = []
        for s in subgoals:
            if isinstance(s, dict):
                conds = ", ".join(_e(c) if isinstance(c, str) else _e(_cond(c)) for c in s.get("conditions") or [])
                items.append(f"<li>{_e(s.get('description', ''))}"
                             f"{f' <span class=cond>[{conds}]</span>' if conds else ''}</li>")
            else:
                items.append(f"<li>{_e(s)}</li>")
        return f"<ol>{''.join(items)}</ol>"

    def _ev_plan(self, ep: Episode, ev: dict[str, Any]) -> str:
        note = f" — {_e(ev['note'])}" if ev.get("note") else ""
        doubts = "".join(f'<div class="bad">doubt: {_e(d)}</div>' for d in ev.get("doubts") or [])
        return (f'<div class="ev plan">{self._t(ev)} <b>plan</b> (revision {_e(ev.get("revision", 0))}){note}'
                f'{doubts}{self._subgoal_list(ev.get("subgoals") or [])}</div>')

    def _ev_plan_revised(self, ep: Episode, ev: dict[str, Any]) -> str:
        before = "".join(f"<li>{_e(b)}</li>" for b in ev.get("before") or [])
        return (f'<div class="ev plan">{self._t(ev)} <b>plan revised</b>: {_e(ev.get("note", ""))}'
                f'<div class="cols"><div>before<ol>{before}</ol></div><div>after'
                f'{self._subgoal_list(ev.get("subgoals") or [])}</div></div></div>')

    def _ev_replan(self, ep: Episode, ev: dict[str, Any]) -> str:
        return (f'<div class="ev plan">{self._t(ev)} <b>replanned</b>: {_e(ev.get("note", ""))}'
                f'{self._subgoal_list(ev.get("subgoals") or [])}</div>')

    def _ev_plan_failed(self, ep: Episode, ev: dict[str, Any]) -> str:
        return f'<div class="ev bad">{self._t(ev)} <b>planning failed</b>: {_e(ev.get("error", ""))}</div>'

    def _ev_subgoal_start(self, ep: Episode, ev: dict[str, Any]) -> str:
        sub = ev.get("subgoal") or {}
        desc = sub.get("description", "") if isinstance(sub, dict) else sub
        return f'<h4 class="subgoal">{self._t(ev)} subgoal {int(ev.get("index", 0)) + 1}: {_e(desc)}</h4>'

    def _ev_policy(self, ep: Episode, ev: dict[str, Any]) -> str:
        return (f'<div class="ev">{self._t(ev)} <b>policy v{_e(ev.get("version", 0))}</b> '
                f'({_e(ev.get("origin", ""))}){self.hl.python(str(ev.get("source", "")))}</div>')

    def _ev_repair(self, ep: Episode, ev: dict[str, Any]) -> str:
        diff = str(ev.get("diff") or "")
        body = self.hl.diff(diff) if diff else self.hl.python(str(ev.get("source", "")))
        return (f'<div class="ev repair">{self._t(ev)} <b>repair → v{_e(ev.get("version", ""))}</b> '
                f'({_e(ev.get("origin", ""))}, for {_e(ev.get("category", ""))})'
                f'<details open><summary>diff</summary>{body}</details>'
                f'<details><summary>full policy v{_e(ev.get("version", ""))}</summary>'
                f'{self.hl.python(str(ev.get("source", "")))}</details></div>')

    def _ev_execution(self, ep: Episode, ev: dict[str, Any]) -> str:
        rows = []
        for c in ev.get("calls") or []:
            if not isinstance(c, dict):
                continue
            outcome = (f'<span class="bad">{_e(c.get("error_type"))}: {_e(_short(c.get("error") or ""))}</span>'
                       if c.get("error_type") else _e(_short(c.get("result"))))
            rows.append(f"<tr><td>{_e(c.get('index', ''))}</td><td>{_e(c.get('line') or '')}</td>"
                        f"<td><code>{_e(c.get('name', ''))}({_e(_fmt_args(c))})</code></td><td>{outcome}</td></tr>")
        table = (f'<details><summary>{len(rows)} primitive call(s)</summary><table class="calls"><tr><th>#</th>'
                 f'<th>line</th><th>call</th><th>result</th></tr>{"".join(rows)}</table></details>') if rows else ""
        status = str(ev.get("status", ""))
        err = (f' — <span class="bad">{_e(ev.get("error_type") or "")}: {_e(ev.get("error") or "")}'
               f'{" (line " + str(ev.get("line")) + ")" if ev.get("line") else ""}</span>') if status != "ok" else ""
        return (f'<div class="ev">{self._t(ev)} <b>ran v{_e(ev.get("version", ""))}</b>: {_e(status)}, '
                f'{_e(ev.get("steps", 0))} steps, {float(ev.get("wall_time_s") or 0):.2f}s{err}{table}</div>')

    def _ev_checkpoint(self, ep: Episode, ev: dict[str, Any]) -> str:
        label = f"checkpoint {ev.get('label', '')} (after call {ev.get('after_call', '')})"
        return f'<div class="ev">{self._t(ev)} <b>{_e(label)}</b>{self.images(ep, ev.get("images"), label)}</div>'

    def _ev_verdict(self, ep: Episode, ev: dict[str, Any]) -> str:
        v = ev.get("verdict") or {}
        ok = bool(v.get("ok"))
        where = f", line {v['failed_line']}" if v.get("failed_line") else ""
        what = "ok" if ok else f"{v.get('category', '')}{where}"
        return (f'<div class="ev verdict {"good" if ok else "bad"}">{self._t(ev)} '
                f'<span class="badge {"good" if ok else "bad"}">{"✓" if ok else "✗"} {_e(what)}</span> '
                f'[{_e(v.get("monitor", ""))}] {_e(v.get("why", ""))}</div>')

    def _ev_subgoal_end(self, ep: Episode, ev: dict[str, Any]) -> str:
        ok = bool(ev.get("ok"))
        return (f'<div class="ev {"good" if ok else "bad"}">{self._t(ev)} subgoal {"done" if ok else "failed"} '
                f'after {_e(ev.get("attempts", ""))} attempt(s)</div>')

    def _ev_final(self, ep: Episode, ev: dict[str, Any]) -> str:
        return f'<div class="ev">{self._t(ev)} <b>final scene</b>{self.images(ep, ev.get("images"), "final")}</div>'

    def _ev_result(self, ep: Episode, ev: dict[str, Any]) -> str:
        r = ev.get("result") or {}
        ok = bool(r.get("success"))
        why = f" — {_e(r.get('failure'))}" if r.get("failure") else ""
        why += f' <span class="small">({_e(_claim_text(r))})</span>'
        details = ev.get("goal_details")
        extra = f'<div class="small">goal ({_e(ev.get("goal_source", ""))}): {_e(_short(details, 400))}</div>' \
            if details else ""
        for i, rec in enumerate((ev.get("stats") or {}).get("rehearsals") or [], 1):  # robots/rehearsal.py
            twin = "not rehearsed" if not rec.get("rehearsed") else ("passed" if rec.get("twin_ok") else "failed")
            gap = rec.get("max_error_m")
            seen = f", twin vs cameras after: {gap * 100:.1f} cm" if isinstance(gap, int | float) else ""
            extra += (f'<div class="small">rehearsal {i} ({_e(rec.get("mode"))}): twin {twin}, '
                      f'{"sent to the arm" if rec.get("sent") else "not sent"}{seen}</div>')
        return (f'<div class="ev {"good" if ok else "bad"}">{self._t(ev)} <b>{_verdict_word(r)}</b>'
                f'{why}{extra}</div>')


def _cond(c: Any) -> str:
    if isinstance(c, dict):
        text = f"{c.get('predicate', '?')}({', '.join(map(str, c.get('args') or []))})"
        return f"not {text}" if c.get("negated") else text
    return str(c)


# ---------------------------------------------------------------------------------------------
# Page

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1180px; color: #222; padding: 0 12px }
h1 { font-size: 22px } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ddd }
h4.subgoal { margin: 14px 0 4px; color: #333 }
table { border-collapse: collapse; margin: 8px 0 } td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left }
th { background: #f4f4f4 } tr.fail td { background: #fff4f4 } .num { text-align: right }
.good { color: #1b5e20 } .bad { color: #b71c1c } .small { font-size: 12px; color: #555 }
.badge { padding: 0 6px; border-radius: 8px; border: 1px solid currentColor; font-size: 12px }
.ev { margin: 4px 0 4px 8px } .t { color: #999; font: 11px monospace }
.plan ol { margin: 2px 0 2px 20px } .cond { color: #666; font-size: 12px } .cols { display: flex; gap: 32px }
pre { background: #f8f8f8; border: 1px solid #eee; padding: 6px 8px; overflow-x: auto; font-size: 12px; margin: 4px 0 }
pre.tb { color: #b71c1c }
.imgs { display: flex; flex-wrap: wrap; gap: 8px; margin: 4px 0 } figure { margin: 0 }
figcaption { font-size: 11px; color: #666 } img { border: 1px solid #ccc }
details.episode { border: 1px solid #ddd; border-radius: 6px; padding: 6px 10px; margin: 10px 0 }
details.episode > summary { cursor: pointer; font-weight: 600 } table.calls code { font-size: 12px }
"""


def _verdict_word(summary: dict[str, Any]) -> str:
    """Ground truth first; an episode without ground truth is never shown as a success."""
    success = summary.get("success")
    if success is None:
        return "NO GROUND TRUTH"
    if success:
        return "SUCCESS"
    return "FALSE SUCCESS" if summary.get("claimed_success") else "FAILURE"


def _claim_text(summary: dict[str, Any]) -> str:
    claimed = "the agent claimed success" if summary.get("claimed_success") else "the agent claimed failure"
    return f"{claimed}; ground truth: {summary.get('truth') or 'none'}"


def _confusion_table(rows: Sequence[EpisodeRow]) -> str:
    c = row_confusion(rows)
    return (f"<table><tr><th></th><th>true success</th><th>true failure</th></tr>"
            f"<tr><th>claimed success</th><td class=num>{c.true_success}</td>"
            f"<td class=num><b>{c.false_success}</b> (false success)</td></tr>"
            f"<tr><th>claimed failure</th><td class=num>{c.false_failure} (false failure)</td>"
            f"<td class=num>{c.true_failure}</td></tr></table>"
            f'<p class="small">false-success rate {100 * c.false_success_rate:.1f}% of {c.scored} scored episodes'
            f"{f'; {c.unverified} without ground truth' if c.unverified else ''}</p>")


def _page(title: str, body: str, css: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="generator" content="embodied report"><style>{CSS}{css}</style></head>'
            f"<body>\n{body}\n</body></html>\n")


def _stats_table(stats: Sequence[CellStats]) -> str:
    rows = []
    for s in stats:
        rate = f"{s.successes}/{s.n} ({100 * s.rate:.0f}%)" if s.n else "–"
        ci = f"{100 * s.ci_low:.0f}–{100 * s.ci_high:.0f}%" if s.n else "–"
        rows.append(f"<tr><td>{_e(s.variant)}</td><td>{_e(s.task)}</td><td class=num>{rate}</td><td class=num>{ci}</td>"
                    f"<td class=num>{s.false_successes}</td><td class=num>{s.failed}</td>"
                    f"<td class=num>{s.mean_repairs:.2f}</td>"
                    f"<td class=num>{s.mean_replans:.2f}</td><td class=num>{s.mean_wall_time_s:.1f}</td>"
                    f"<td class=num>{s.model_calls}</td><td class=num>{s.tokens}</td></tr>")
    return ("<table><tr><th>variant</th><th>task</th><th>success</th><th>95% CI (Wilson)</th>"
            "<th>false success</th><th>not finished</th>"
            "<th>repairs</th><th>replans</th><th>wall s</th><th>model calls</th><th>tokens</th></tr>"
            f"{''.join(rows)}</table>")


def _anchor(row: EpisodeRow) -> str:
    return "ep-" + re.sub(r"[^A-Za-z0-9_-]+", "-", f"{row.variant}-{row.task}-{row.seed}")


def _episode_table(rows: Sequence[EpisodeRow], shown: set[str]) -> str:
    out = []
    for r in rows:
        result = (("✓" if r.success else "✗" if r.success is False else "?")
                  + (" (claimed ✓)" if r.claimed_success else " (claimed ✗)")) if r.status == DONE else r.status
        anchor = _anchor(r)
        link = f'<a href="#{anchor}">timeline</a>' if anchor in shown else \
            (f'<a href="{quote(r.run_dir)}/trace.jsonl">trace</a>' if r.run_dir else "")
        out.append(f'<tr class="{"" if r.status == DONE and r.success else "fail"}"><td>{_e(r.variant)}</td>'
                   f"<td>{_e(r.task)}</td><td class=num>{r.seed}</td><td>{_e(result)}</td>"
                   f"<td class=num>{r.repairs}</td><td class=num>{r.replans}</td><td class=num>{r.wall_time_s:.1f}</td>"
                   f"<td>{_e(_short(r.failure, 160))}</td><td>{link}</td></tr>")
    return ("<table><tr><th>variant</th><th>task</th><th>seed</th><th>result</th><th>repairs</th><th>replans</th>"
            f"<th>wall s</th><th>failure</th><th></th></tr>{''.join(out)}</table>")


def _sweep_rows(run_dir: Path) -> list[EpisodeRow]:
    if (run_dir / "results.jsonl").is_file():
        return read_rows(run_dir / "results.jsonl")
    rows = []  # no results file (e.g. copied partially): rebuild from the episode directories
    for summary in sorted((run_dir / "episodes").glob("*/*/seed-*/summary.json")):
        ep = summary.parent
        seed = int(ep.name.removeprefix("seed-"))
        rows.append(row_from_summary(ep.parent.parent.name, ep.parent.name, seed,
                                     json.loads(summary.read_text(encoding="utf-8")), physics_hz=None,
                                     run_dir=str(ep.relative_to(run_dir))))
    return rows


def _pick(rows: Sequence[EpisodeRow], limit: int) -> list[EpisodeRow]:
    """Failures and unfinished episodes first (the ones worth reading), then successes."""
    bad = [r for r in rows if not (r.status == DONE and r.success)]
    good = [r for r in rows if r.status == DONE and r.success]
    return (bad + good)[: max(0, limit)]


def _episode_block(renderer: TimelineRenderer, ep: Episode, title: str, anchor: str, open_: bool) -> str:
    return (f'<details class="episode" id="{anchor}"{" open" if open_ else ""}><summary>{_e(title)}</summary>'
            f"{renderer.render(ep)}</details>")


def write_report(run_dir: Path, *, max_episodes: int = 40, use_pygments: bool = True) -> Path:
    """Write ``run_dir/report.html`` for a sweep directory or a single run directory; return its path."""
    run_dir = Path(run_dir)
    hl = Highlighter(use_pygments)
    renderer = TimelineRenderer(hl, ImageEmbedder())
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
    if (run_dir / "sweep.yaml").is_file() or (run_dir / "episodes").is_dir():
        rows = _sweep_rows(run_dir)
        stats = aggregate(rows)
        chart = success_chart(stats)
        picked = _pick(rows, max_episodes)
        shown = {_anchor(r) for r in picked}
        done = [r for r in rows if r.status == DONE]
        k = sum(bool(r.success) for r in done)
        lo, hi = wilson_interval(k, len(done))
        body = [f"<h1>Sweep report: {_e(run_dir.resolve().name)}</h1>",
                f'<p class="small">{_e(run_dir.resolve())} · generated {stamp} · {len(rows)} episodes, '
                f"{len(done)} done, {k} successful ({100 * k / max(len(done), 1):.0f}%, 95% CI "
                f"{100 * lo:.0f}–{100 * hi:.0f}%)</p>",
                "<h2>Success by variant and task</h2>", _stats_table(stats),
                "<h2>Claimed vs true success</h2>", _confusion_table(rows)]
        if chart:
            body.append(f'<img class="chart" src="{chart}" alt="success rate chart">')
        else:
            body.append('<p class="small">(install matplotlib for the chart: pip install "embodied[report]")</p>')
        body += ["<h2>Episodes</h2>", _episode_table(rows, shown),
                 f"<h2>Timelines ({len(picked)} of {len(rows)}, failures first)</h2>"]
        for r in picked:
            ok = "✓" if r.status == DONE and r.success else ("✗" if r.status == DONE else r.status)
            title = f"{ok} {r.variant} / {r.task} / seed {r.seed}"
            if r.failure:
                title += f" — {_short(r.failure, 100)}"
            body.append(_episode_block(renderer, Episode.load(run_dir / r.run_dir), title, _anchor(r), False))
        title = f"sweep {run_dir.resolve().name}"
    elif (run_dir / "trace.jsonl").is_file() or (run_dir / "summary.json").is_file():
        ep = Episode.load(run_dir)
        s = ep.summary or {}
        verdict = f"{_verdict_word(s)} ({_claim_text(s)})" if ep.summary else "unfinished"
        facts = " · ".join(f"{k} {s[k]}" for k in ("repairs", "replans", "subgoals", "primitive_calls",
                                                    "wall_time_s", "model_calls") if k in s)
        config = run_dir / "config.yaml"
        body = [f"<h1>Run report: {_e(run_dir.resolve().name)}</h1>",
                f'<p class="small">{_e(run_dir.resolve())} · generated {stamp}</p>',
                f'<p><b class="{"good" if s.get("success") else "bad"}">{verdict}</b> — {_e(s.get("instruction", ""))}'
                f'<br><span class="small">{_e(facts)}</span></p>']
        if s.get("failure"):
            body.append(f'<p class="bad">{_e(s["failure"])}</p>')
        if config.is_file():
            body.append(f"<details><summary>config.yaml</summary><pre>{_e(config.read_text(encoding='utf-8'))}</pre>"
                        "</details>")
        body += ["<h2>Timeline</h2>", renderer.render(ep)]
        title = f"run {run_dir.resolve().name}"
    else:
        raise ReportError(f"{run_dir} holds neither a sweep (sweep.yaml) nor a run (trace.jsonl, summary.json)")
    out = run_dir / "report.html"
    tmp = run_dir / ".report.html.tmp"
    tmp.write_text(_page(title, "\n".join(body), hl.css), encoding="utf-8")
    tmp.replace(out)
    return out
