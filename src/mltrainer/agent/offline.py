"""The offline planner: a deterministic, network-free stand-in for a language model.

It speaks the same :class:`~mltrainer.agent.messages.Provider` protocol as the real
providers, so the same conversation loop, bridge, executor and audit serve all three.
On a user turn it understands the request with :class:`~mltrainer.agent.planner.Planner`
(an intent classifier trained on a corpus of example requests, plus slot readers built on
the bridge's readers for symbols, models, numbers and dates) and answers with tool calls;
when it is unsure it asks one short question with the choices it considered, and a "yes"
(or the missing value) on the next turn carries on. On the turn after the tool results it
writes the reply from those results only. It never invents a number: every figure in its
replies is read from a result, or repeats what the user wrote.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import TYPE_CHECKING, Any

from ..goals import GoalComponents
from ..trials.counting import sharpe_probability_name
from .messages import Message, ProviderResponse, TextCallback, ToolCall, ToolSpec

if TYPE_CHECKING:
    from .bridge import Bridge
    from .planner import Planner, Understanding

__all__ = ["OfflinePlanner", "CAPABILITIES", "REFUSAL"]

CAPABILITIES = """I can (offline, on bundled real data):
- train a model: "train a random forest on AAPL with a 10 day horizon", "backtest a 20/100 moving average crossover on KO"
- compare models: "compare lightgbm, ridge and random forest on SPX from 2005 to 2015", "which is better on JNJ, ridge or lasso?"
- list models: "what models do you have for volatility?"
- list data: "which symbols can I use?", "what do you have on interest rates?"
- price options: "price a call with spot 100 strike 105 vol 25% rate 4% 6 months"
- risk and factors: "99% VaR of SPX over 10 days", "what's MSFT's beta to the market?", "regress PG on the Fama-French factors", "are XOM and CVX cointegrated?"
- build portfolios: "optimize a max-sharpe portfolio of AAPL, MSFT, JNJ and KO"
- set and check goals: "set goal: momentum model for SPX with Sharpe above 1 over 7-12 days", "how close are we?"
- show a trial: "show trial <id>"
- search in the background: "search for models that meet the goal in the background (8 trials, 10 minutes)", then "how is the search going?"
- recall: "what did we find about lightgbm?\""""

REFUSAL = (
    "I can't do that: mlTrainer works only on real market data from approved sources and "
    "never makes up, simulates or edits prices or results. I can run the same request on "
    "real bundled data instead (for example 'train ridge on SPX from 2010 to 2016'), or "
    "list what data there is ('which symbols can I use?')."
)

_YES_RE = re.compile(
    r"\s*(?:yes|y|yep|yeah|yup|sure|ok(?:ay)?|correct|right|please|please\s+do|do\s+it|go(?:\s+ahead)?|"
    r"run\s+it|sounds\s+good|that'?s\s+right|the\s+first(?:\s+one)?|first)"
    r"(?:[\s,]*(?:please|thanks|go\s+ahead|do\s+it|run\s+it))*[\s.!]*",
    re.I,
)
_NO_RE = re.compile(r"\s*(?:no|nope|cancel|never\s*mind|forget\s+it|stop)[\s.!]*", re.I)
_SECOND_RE = re.compile(
    r"\s*(?:the\s+)?(?:second(?:\s+one)?|2|b|the\s+other(?:\s+one)?)[\s.!]*", re.I
)
_TRIAL_ID_RE = re.compile(r"\btrial_\d{8}_\d{6}_[0-9a-f]+\b")


_SKIPPED_RESULT_KEYS = frozenset({"model", "category", "task", "data", "notes", "params"})


def _result_items(r: dict[str, Any]) -> list[str]:
    """A financial result as "key value" items: numbers and short words, one level of
    nested numbers ("loadings mkt_rf 0.4781"); hashes, long method texts and notes left out."""
    items: list[str] = []
    for k, v in r.items():
        if k in _SKIPPED_RESULT_KEYS:
            continue
        if isinstance(v, dict):
            inner = [
                f"{k2} {_fmt(v2)}"
                for k2, v2 in v.items()
                if isinstance(v2, int | float) and not isinstance(v2, bool)
            ]
            if inner:
                items.append(f"{k} " + " ".join(inner))
        elif isinstance(v, (bool, int | float)):
            items.append(f"{k} {_fmt(v)}")
        elif isinstance(v, str) and len(v) <= 40:
            items.append(f"{k} {v}")
    return items


def _years_before(end: str, last: tuple[float, str]) -> str:
    """The start of "the last N years/months" of data that ends on ``end`` (ISO date)."""
    n, unit = last
    day = dt.date.fromisoformat(end)
    months = int(round(n * (12 if unit.startswith("year") else 1)))
    year, month = divmod(day.month - 1 - months, 12)
    year += day.year
    month += 1
    import calendar

    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1])).isoformat()


def _sharpe_probability_text(m: dict[str, Any], n: int) -> str:
    """The DSR with its N; with one trial counted it is the PSR and is called that."""
    if sharpe_probability_name(n) == "PSR":
        return f"PSR {_fmt(m.get('psr'))} (probabilistic Sharpe ratio; N=1 trial counted)"
    return f"DSR {_fmt(m.get('dsr'))} (N={n} trials counted; deflated Sharpe ratio)"


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v * 100:.2f}%" if pct else f"{v:.4f}"
    return str(v)


class OfflinePlanner:
    """Deterministic planner; ``complete`` has the Provider signature.

    ``bridge`` (set by :func:`~mltrainer.agent.session.open_conversation` when not given)
    supplies the vocabulary and the tool schemas; the planner's classifier is trained on
    first use, once per process.
    """

    name = "offline"

    def __init__(self, bridge: Bridge | None = None, planner: Planner | None = None) -> None:
        self._planner = planner
        self._bridge: Bridge | None = None
        self.bridge = bridge
        self._n = 0
        self._last_run: str | None = None
        """The run this conversation started last (for "how is the search going?")."""
        self._proposal: str | None = None
        self._pending: Understanding | None = None
        """The question last asked, with what an answer would run."""
        self._waiting: Understanding | None = None
        """Calls that wait for the data range of their symbols ("the last five years")."""
        self._filters: dict[str, dict[str, Any]] = {}
        """Call id -> how to narrow its reply (a topic of the catalogue, a model family)."""
        self._trials: list[str] = []
        self._tools: frozenset[str] | None = None
        self._spoken: str | None = None
        """What was said instead of calling tools on the last message."""

    @property
    def bridge(self) -> Bridge | None:
        return self._bridge

    @bridge.setter
    def bridge(self, bridge: Bridge | None) -> None:
        """Setting the bridge starts training the classifier in the background, so it is
        ready by the time the first message is typed (the first message waits for it
        otherwise; it is trained once per process)."""
        self._bridge = bridge
        planner = self.planner
        if planner is not None:
            import threading

            threading.Thread(
                target=planner.classifier.fit, name="mlt-planner-fit", daemon=True
            ).start()

    @property
    def planner(self) -> Planner | None:
        if self._planner is None and self.bridge is not None:
            from .planner import Planner

            self._planner = Planner.for_bridge(self.bridge)
        return self._planner

    def _call(self, name: str, args: dict[str, Any]) -> ToolCall:
        self._n += 1
        return ToolCall(id=f"offline_{self._n}", name=name, arguments=args)

    # -- provider protocol -----------------------------------------------------------
    def complete(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec],
        on_text: TextCallback | None = None,
    ) -> ProviderResponse:
        self._tools = frozenset(t.name for t in tools) if tools else None
        last = messages[-1]
        self._remember_trials(messages)
        if last.role == "tool":
            follow = self._follow_up(messages)
            if follow:
                return ProviderResponse(text="", tool_calls=follow, stop_reason="tool_use")
            text = self._reply(messages)
        else:
            self._proposal = None
            calls = self.plan(last.content)
            if calls:
                return ProviderResponse(text="", tool_calls=calls, stop_reason="tool_use")
            if self._proposal is not None:
                # Several steps asked for at once: say so; the conversation turns this
                # reply into one proposed plan that waits for approval.
                text = "Proposed plan (nothing runs until you approve it): " + self._proposal
            elif self._spoken is not None:
                text = self._spoken
            else:
                text = "I didn't understand that request.\n" + CAPABILITIES
        if on_text:
            on_text(text)
        return ProviderResponse(text=text, tool_calls=[], stop_reason="end_turn")

    # -- planning ---------------------------------------------------------------------
    def plan(self, text: str) -> list[ToolCall]:
        """Tool calls for a user's message; [] when it asks, refuses or explains instead
        (what it says is then in :attr:`last_words`)."""
        self._spoken = None
        t = text.strip()
        pending, self._pending = self._pending, None
        if pending is not None:
            answered = self._answer(pending, t)
            if answered is not None:
                return answered
        planner = self.planner
        if planner is None:
            self._spoken = "I didn't understand that request.\n" + CAPABILITIES
            return []
        structured = self._structured(t)
        if structured is not None:
            return structured
        from .planner import Context

        u = planner.understand(
            t, Context(tools=self._tools, last_run=self._last_run, trials=list(self._trials))
        )
        return self._act(u)

    @property
    def last_words(self) -> str | None:
        """What the planner said instead of calling tools on the last message."""
        return self._spoken

    def _act(self, u: Understanding) -> list[ToolCall]:
        if u.reply is not None:
            self._spoken = self._say(u)
            if u.reply == "plan":
                self._spoken = None
                if self.bridge is not None and self.bridge.parse(u.text).plans:
                    self._proposal = u.text
            return []
        if u.question is not None:
            self._pending = u
            self._spoken = u.question
            return []
        if u.needs_data_range:
            self._waiting = u
            return [self._call("data_summary", {"symbol": s}) for s in u.needs_data_range]
        calls = [self._call(c.name, c.arguments) for c in u.calls]
        for c in calls:
            if u.filters:
                self._filters[c.id] = dict(u.filters)
        return calls

    def _say(self, u: Understanding) -> str:
        kind = u.reply or ""
        if kind == "help":
            return CAPABILITIES
        if kind == "refuse":
            return REFUSAL
        if kind.startswith("unavailable:"):
            tool = kind.split(":", 1)[1]
            hints = {
                "list_trials": "run 'mltrainer trial list' to see them, or ask 'show trial <id>'",
                "tune_model": "a goal-driven search tunes candidates with Optuna: set a goal, "
                "then 'search for models that meet the goal in the background'",
            }
            seen = (
                f" Trials from this conversation: {', '.join(self._trials)}."
                if (tool == "list_trials" and self._trials)
                else ""
            )
            return (
                f"The {tool} tool is not available in this chat; {hints.get(tool, 'use the CLI')}."
                + seen
            )
        return "I didn't understand that request.\n" + CAPABILITIES

    def _answer(self, pending: Understanding, text: str) -> list[ToolCall] | None:
        """A reply to the question asked last: yes, a choice, or the missing value."""
        if _YES_RE.fullmatch(text) and pending.options and pending.yes_runs:
            return self._run_option(pending, 0)
        if _SECOND_RE.fullmatch(text) and len(pending.options) > 1 and pending.yes_runs:
            return self._run_option(pending, 1)
        if _NO_RE.fullmatch(text):
            self._spoken = "OK, nothing was run."
            return []
        planner = self.planner
        if planner is None or len(text.split()) > 6 or pending.missing is None:
            return None
        from .planner import Context

        merged = planner.understand(
            f"{pending.text} {text}",
            Context(tools=self._tools, last_run=self._last_run, trials=list(self._trials)),
        )
        fill = planner.tagger.tag(text)
        values = dict(pending.slots)
        values.pop("_unknown_model", None)
        slot = pending.missing
        if slot == "symbol" and len(fill.symbol_ids()) == 1:
            values["symbol"] = fill.symbol_ids()[0]
        elif slot == "model_id" and len(fill.model_ids()) == 1:
            values["model_id"] = fill.model_ids()[0]
        elif slot == "model_ids" and fill.model_ids():
            values["model_ids"] = list(
                dict.fromkeys(
                    [
                        *pending.slots.get("model_ids", []),
                        *[m for m in (pending.slots.get("model_id"),) if m],
                        *fill.model_ids(),
                    ]
                )
            )
        else:
            return self._act(merged) if merged.intent == pending.intent and merged.acts else None
        try:
            calls, problems = planner.calls_for(pending.intent, values)
        except KeyError:
            return self._act(merged) if merged.intent == pending.intent and merged.acts else None
        if problems:
            return None
        u = merged
        u.slots, u.calls, u.question, u.options, u.reply = values, calls, None, [], None
        last = values.get("last")
        u.needs_data_range = []
        if last:
            from .planner.core import _symbols_of

            u.last = (float(last[0]), str(last[1]))
            u.needs_data_range = _symbols_of(calls)
        return self._act(u)

    def _run_option(self, pending: Understanding, i: int) -> list[ToolCall]:
        pending.calls, pending.question, pending.options = pending.options[i], None, []
        if pending.last:
            from .planner.core import _symbols_of

            pending.needs_data_range = _symbols_of(pending.calls)
        return self._act(pending)

    def _structured(self, text: str) -> list[ToolCall] | None:
        """A request written as JSON or key: value lines is read by the bridge's tiers."""
        if self.bridge is None or not re.search(
            r"[{]|^\s*[A-Za-z _]{2,30}\s*[:=]\s*\S", text, re.M
        ):
            return None
        if re.match(r"^\s*(?:set|new|change)\s+(?:the\s+)?goal\b|^\s*goal\s*:", text, re.I):
            return None
        parsed = self.bridge.parse(text)
        calls = [
            self._call(a.action, a.params)
            for a in parsed.actions
            if a.origin in ("json", "key_value")
            and a.action in ("train_model", "compare_models", "start_trial", "run_financial")
        ]
        return calls or None

    def _follow_up(self, messages: list[Message]) -> list[ToolCall]:
        """The calls that waited for their symbols' data range ("the last five years")."""
        u, self._waiting = self._waiting, None
        if u is None or u.last is None:
            return []
        ends: list[str] = []
        for m in reversed(messages):
            if m.role != "tool":
                break
            try:
                d = json.loads(m.content)
            except ValueError:
                return []
            if m.is_error or not isinstance(d, dict) or "last" not in d:
                return []
            ends.append(str(d["last"])[:10])
        if not ends:
            return []
        end = min(ends)
        start = _years_before(end, u.last)
        calls = []
        for c in u.calls:
            args = dict(c.arguments)
            if c.name == "run_financial":
                params = dict(args.get("params") or {})
                params.setdefault("start", start)
                params.setdefault("end", end)
                args["params"] = params
            else:
                args.setdefault("start", start)
                args.setdefault("end", end)
            calls.append(self._call(c.name, args))
        return calls

    def _remember_trials(self, messages: list[Message]) -> None:
        """Trial ids seen in tool results ("show the last trial")."""
        for m in messages:
            if m.role != "tool" or m.is_error:
                continue
            for tid in _TRIAL_ID_RE.findall(m.content):
                if tid not in self._trials:
                    self._trials.append(tid)

    # -- replies ------------------------------------------------------------------------
    def _reply(self, messages: list[Message]) -> str:
        calls: dict[str, ToolCall] = {}
        i = len(messages) - 1
        results: list[Message] = []
        while i >= 0 and messages[i].role == "tool":
            results.insert(0, messages[i])
            i -= 1
        if i >= 0:
            for c in messages[i].tool_calls:
                calls[c.id] = c
        parts = []
        for r in results:
            call = calls.get(r.tool_call_id or "")
            name = call.name if call else "tool"
            if r.is_error:
                parts.append(self._failure_text(name, r.content))
                continue
            try:
                data = json.loads(r.content)
            except ValueError:
                parts.append(r.content)
                continue
            narrowed = self._narrow(name, data, self._filters.pop(r.tool_call_id or "", None))
            parts.append(narrowed if narrowed is not None else self._describe(name, data))
        return "\n\n".join(parts)

    @staticmethod
    def _narrow(name: str, d: Any, how: dict[str, Any] | None) -> str | None:
        """The part of a listing that was asked about ("what do you have on interest rates?")."""
        if not how or not isinstance(d, dict):
            return None
        if name == "list_symbols" and isinstance(d.get("symbols"), list):
            from .planner.slots import TOPICS

            rows = d["symbols"]
            if "symbols" in how:
                wanted = set(how["symbols"])
                rows = [r for r in rows if r.get("symbol") in wanted]
                label = ", ".join(how["symbols"])
                if not rows:
                    return f"{label}: not in the catalogue."
                head = f"{label} {'is' if len(rows) == 1 else 'are'} available offline:"
            else:
                topic = how.get("topic", "")
                pattern = TOPICS.get(topic, ("", ""))[1]
                rows = [
                    r
                    for r in rows
                    if pattern
                    and re.search(
                        pattern, f"{r.get('symbol', '')} {r.get('description', '')}", re.I
                    )
                ]
                shown = topic.replace("_", " ")
                if not rows:
                    return f"Nothing on {shown} in the catalogue; ask 'which symbols can I use?' for all of it."
                head = f"On {shown}, {len(rows)} of {d.get('count')} symbols:"
            lines = [
                f"- {r['symbol']} ({r.get('description', r.get('kind'))}, {r['interval']}, "
                f"{r['first']}..{r['last']})"
                for r in rows
            ]
            return head + "\n" + "\n".join(lines)
        if name == "list_models" and how.get("topic") == "boosting":
            ids = [
                m["id"]
                for m in d.get("models", [])
                if re.search(r"boost|lightgbm|xgboost|catboost", m["id"])
                and m.get("task") != "pricing"
            ]
            return f"{len(ids)} boosting models: " + ", ".join(ids)
        return None

    @staticmethod
    def _failure_text(name: str, content: str) -> str:
        """A failed tool call; a compliance refusal says so, and why, in so many words."""
        try:
            error = json.loads(content).get("error") or content
        except (ValueError, AttributeError):
            error = content
        if "compliance" in str(error).lower():
            return f"Refused by compliance: {name} was not run. {error}"
        return f"{name} failed: {content}"

    def _describe(self, name: str, d: dict[str, Any]) -> str:
        if name == "start_research":
            self._last_run = d["run_id"]
            b, h = d.get("budget") or {}, d.get("holdout") or {}
            return (
                f"Started search {d['run_id']} in the background toward goal {d['goal_id']}: "
                f"at most {b.get('max_trials')} trials or {b.get('max_minutes')} minutes. "
                f"The holdout is sealed from {h.get('sealed_from')}: no trial sees it, and only "
                "the best in-sample candidate is judged on it, once, at the end. "
                "Ask 'how is the search going?' at any time."
            )
        if name in ("run_status", "cancel_run"):
            from ..research.report import summary_text

            if "runs" in d:
                if not d["runs"]:
                    return "No background runs yet."
                return "\n".join(summary_text(r) for r in d["runs"])
            self._last_run = d.get("id") or self._last_run
            return summary_text(d)
        if name in ("train_model", "start_trial") and "metrics" in d:
            return self._trial_text(d)
        if name == "start_trial":
            return f"Started {d['trial_id']} in the background (status {d['status']}). Ask 'show trial {d['trial_id']}' for its results."
        if name == "compare_models":
            lines = [
                f"Compared {len(d['ranking'])} models on {d['ranking'][0]['symbol']} (ranked by Sharpe, net of costs):"
            ]
            for r in d["ranking"]:
                m = r["metrics"]
                lines.append(
                    f"- {r['model_id']} ({r['trial_id']}): Sharpe {_fmt(m.get('sharpe'))}, CAGR {_fmt(m.get('cagr'), True)}, max drawdown {_fmt(m.get('max_drawdown'), True)}"
                )
            for k, v in d.get("errors", {}).items():
                lines.append(f"- {k}: failed: {v}")
            lines.append(f"\nBest: {d['best']}.")
            return "\n".join(lines)
        if name == "list_models":
            by: dict[str, list[str]] = {}
            for m in d["models"]:
                by.setdefault(m["family"], []).append(m["id"])
            body = "\n".join(f"- {fam}: {', '.join(ids)}" for fam, ids in sorted(by.items()))
            return f"{d['count']} models:\n{body}"
        if name == "list_symbols":
            rows = [
                f"- {s['symbol']} ({s['kind']}, {s['interval']}, {s['first']}..{s['last']})"
                for s in d["symbols"]
            ]
            return f"{d['count']} symbols available offline:\n" + "\n".join(rows)
        if name == "run_financial":
            return self._financial_text(d)
        if name == "set_goal":
            lines = GoalComponents.model_validate(d["components"]).describe()
            understood = "".join(f"\n- {line}" for line in lines) or "\n(no measurable part found)"
            return f"Goal set ({d['goal_id']}): {d['text']}\n\nUnderstood as:{understood}"
        if name == "get_goal":
            return (
                "No goal is set."
                if d.get("goal") is None and "text" not in d
                else f"Current goal ({d['goal_id']}): {d['text']}"
            )
        if name == "evaluate_goal":
            lines = [f"Goal: {d['goal']}"]
            for e in d["evaluations"]:
                verdict = "MEETS the goal" if e["met"] else "does not meet the goal"
                checks = "; ".join(
                    f"{c['metric']} {c['op']} {c['target']}: {_fmt(c['actual'])} ({'pass' if c['passed'] else 'fail'})"
                    for c in e.get("constraints", e.get("results", []))
                )
                lines.append(
                    f"- {e['trial_id']} {e['model_id']} on {e['symbol']}: {verdict}. {checks}"
                )
            lines.append("\nMet by: " + (", ".join(d["met_by"]) if d["met_by"] else "no trial yet"))
            return "\n".join(lines)
        if name == "trial_status":
            if d.get("metrics"):
                return self._trial_text({**d, "trial_id": d["id"]})
            return f"Trial {d['id']}: {d['status']}" + (
                f" ({d['error']})" if d.get("error") else ""
            )
        if name == "tune_model":
            best = d.get("best") or {}
            value = best.get("value")
            head = (
                f"Tuned {d.get('model_id')} (study {d.get('study')}, {d.get('metric')}): "
                f"{d.get('n_complete')} of {d.get('n_trials')} trials complete, "
                f"{d.get('n_failed')} failed."
            )
            if best:
                params = ", ".join(f"{k}={v}" for k, v in (best.get("params") or {}).items())
                head += (
                    f" Best so far {best.get('trial_id')}: {d.get('metric')} {_fmt(value)}"
                    + (f" with {params}" if params else "")
                    + "."
                )
            return head
        if name == "list_trials":
            trials: list[dict[str, Any]] = list(d.get("trials") or [])
            if not trials:
                return "No trials yet."
            lines = [
                f"- {t.get('id')} {t.get('status')}: {t.get('model_id')} on {t.get('symbol')}"
                + (f", Sharpe {_fmt(t['sharpe'])}" if isinstance(t.get("sharpe"), float) else "")
                for t in trials
            ]
            return f"{len(trials)} trials, newest first:\n" + "\n".join(lines)
        if name == "search_memory":
            if not d["results"]:
                return f"Nothing in memory about '{d['query']}'."
            return f"From memory about '{d['query']}':\n" + "\n".join(
                f"- [{r['role']}] {r['content'][:200]}" for r in d["results"]
            )
        return json.dumps(d, default=str)[:2000]

    @staticmethod
    def _trial_text(d: dict[str, Any]) -> str:
        m, b = d["metrics"], d.get("benchmark") or {}
        return (
            f"Trial {d['trial_id']}: {d['model_id']} on {d['symbol']}"
            + (f", {d['horizon']}-bar horizon" if d.get("horizon") else "")
            + f". Out of sample, net of costs: Sharpe {_fmt(m.get('sharpe'))} (buy and hold {_fmt(b.get('sharpe'))}), "
            f"CAGR {_fmt(m.get('cagr'), True)}, max drawdown {_fmt(m.get('max_drawdown'), True)}, "
            f"hit rate {_fmt(m.get('hit_rate'), True)}, IC {_fmt(m.get('ic'))}, "
            + _sharpe_probability_text(m, int(d.get("n_trials") or 1))
            + "."
        )

    @staticmethod
    def _financial_text(d: dict[str, Any]) -> str:
        r = d["result"]
        mid = d["model_id"]
        notes = " ".join(r.get("notes") or [])
        if mid == "black_scholes" and "price" in r:
            p = r.get("params", {})
            greeks = ", ".join(
                f"{g} {_fmt(r.get(g))}"
                for g in ("delta", "gamma", "vega", "theta", "rho")
                if g in r
            )
            terms = ", ".join(
                f"{k} {p[k]}"
                for k in ("spot", "strike", "volatility", "rate", "maturity")
                if k in p
            )
            return f"Black-Scholes {p.get('option_type', '')} price {_fmt(r['price'])} ({terms}). Greeks: {greeks}."
        if "weights" in r and "portfolio_return" in r:  # a stress test
            w = ", ".join(f"{k} {_fmt(v, True)}" for k, v in r["weights"].items())
            window = r.get("window") or {}
            worst = r.get("worst_day") or {}
            assets = ", ".join(
                f"{k} {_fmt(v, True)}" for k, v in (r.get("asset_returns") or {}).items()
            )
            return (
                f"{mid} ({r.get('scenario')}, {window.get('start')}..{window.get('end')}): "
                f"weights {w}; portfolio return {_fmt(r['portfolio_return'], True)}, "
                f"max drawdown {_fmt(r.get('max_drawdown'), True)}, worst day "
                f"{worst.get('date')} {_fmt(worst.get('return'), True)}; by asset: {assets}. {notes}"
            ).strip()
        if "weights" in r:
            w = ", ".join(f"{k} {_fmt(v, True)}" for k, v in r["weights"].items())
            extra = ", ".join(
                f"{label} {_fmt(r[k], pct)}"
                for k, label, pct in (
                    ("expected_annual_return", "expected annual return", True),
                    ("annual_volatility", "annual volatility", True),
                    ("sharpe_ratio", "Sharpe", False),
                )
                if k in r
            )
            span = f" Data {r['first_date']}..{r['last_date']}." if "first_date" in r else ""
            return f"{mid}: weights {w}; {extra}.{span} {notes}".strip()
        return f"{mid}: " + ", ".join(_result_items(r))
