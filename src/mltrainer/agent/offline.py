"""The offline planner: a deterministic, network-free stand-in for a language model.

It speaks the same :class:`~mltrainer.agent.providers.Provider` protocol as the real
providers, so the same conversation loop, bridge, executor and audit serve all three.
On a user turn it maps the request to tool calls (using the bridge for model names,
symbols, horizons and dates); on the turn after the tool results it writes the reply
from those results only. Requests it does not understand get an honest list of what it
can do. It never invents a number: every figure in its replies is read from a result.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..goals import GoalComponents
from ..trials.counting import sharpe_probability_name
from .providers import Message, ProviderResponse, ToolCall, ToolSpec

__all__ = ["OfflinePlanner", "CAPABILITIES"]

CAPABILITIES = """I can (offline, on bundled real data):
- train a model: "train a random forest on AAPL with a 10 day horizon"
- compare models: "compare lightgbm, ridge and random forest on SPX from 2005 to 2015"
- list models: "what models do you have for volatility?"
- list data: "which symbols can I use?"
- price options: "price a call with spot 100 strike 105 vol 25% rate 4% 6 months"
- build portfolios: "optimize a max-sharpe portfolio of AAPL, MSFT, JNJ and KO"
- set and check goals: "set goal: momentum model for SPX with Sharpe above 1 over 7-12 days", "is the goal met?"
- show a trial: "show trial <id>"
- search in the background: "search for models that meet the goal in the background (8 trials, 10 minutes)", then "how is the search going?"
- recall: "what did we find about lightgbm?\""""

_NUM = r"(-?\d+(?:\.\d+)?)"
_TASK_WORDS = {
    "volatility": "volatility",
    "vol": "volatility",
    "classification": "classification",
    "classifier": "classification",
    "direction": "classification",
    "regression": "regression",
    "forecast": "forecast",
    "forecasting": "forecast",
    "strategy": "strategy",
    "strategies": "strategy",
    "rule": "strategy",
    "regime": "strategy",
    "pricing": "pricing",
    "option": "pricing",
    "options": "pricing",
    "portfolio": "portfolio",
    "portfolios": "portfolio",
    "risk": "risk",
}
_PORTFOLIO = {
    "max-sharpe": "portfolio_mean_variance",
    "max sharpe": "portfolio_mean_variance",
    "mean-variance": "portfolio_mean_variance",
    "mean variance": "portfolio_mean_variance",
    "min-variance": "portfolio_min_variance",
    "minimum variance": "portfolio_min_variance",
    "min variance": "portfolio_min_variance",
    "risk parity": "portfolio_risk_parity",
    "risk-parity": "portfolio_risk_parity",
    "hrp": "portfolio_hrp",
    "hierarchical": "portfolio_hrp",
}


_SEARCH_START_RE = re.compile(
    r"\b(?:search|research|hunt|look)\s+for\s+(?:\w+\s+){0,3}?(?:models?|candidates?|strateg(?:y|ies))"
    r"|\bstart\s+(?:a\s+|the\s+)?(?:goal[\s-]driven\s+)?(?:search|research)\b"
)
_SEARCH_STATUS_RE = re.compile(
    r"\b(?:how(?:'s|\s+is|\s+are)?)\b.*\b(?:search|research|run)\b.*\b(?:going|doing|progress)"
    r"|\b(?:search|research|run)\s+(?:status|progress)\b|\bstatus\s+of\s+(?:the\s+)?(?:search|run)"
)
_SEARCH_ARGS: tuple[tuple[str, re.Pattern[str], type], ...] = (
    ("max_trials", re.compile(r"\b(\d+)\s*trials?\b"), int),
    ("max_minutes", re.compile(r"\b(\d+(?:\.\d+)?)\s*(min(?:ute)?s?|h(?:ours?|rs?)?)\b"), float),
    ("max_folds", re.compile(r"\b(\d+)\s*folds?\b"), int),
    ("workers", re.compile(r"\b(\d+)\s*workers?\b"), int),
)

_ENGLISH = frozenset(
    "a an and as at be by do for from go in is it me my of on or so the to up us we with".split()
)


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
    """Deterministic planner; ``complete`` has the Provider signature."""

    name = "offline"

    def __init__(self, bridge: Any = None) -> None:
        self.bridge = bridge
        self._n = 0
        self._last_run: str | None = None
        self._proposal: str | None = None
        """The run this conversation started last (for "how is the search going?")."""

    def _call(self, name: str, args: dict[str, Any]) -> ToolCall:
        self._n += 1
        return ToolCall(id=f"offline_{self._n}", name=name, arguments=args)

    # -- provider protocol -----------------------------------------------------------
    def complete(
        self, system: str, messages: list[Message], tools: list[ToolSpec], on_text=None
    ) -> ProviderResponse:
        last = messages[-1]
        if last.role == "tool":
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
            else:
                text = "I didn't understand that request.\n" + CAPABILITIES
        if on_text:
            on_text(text)
        return ProviderResponse(text=text, tool_calls=[], stop_reason="end_turn")

    # -- planning ---------------------------------------------------------------------
    def _upcase_symbols(self, text: str) -> str:
        """Write catalogue symbols typed in lower case ("spx", "aapl") in capitals, so the
        bridge's strict rule (only capitalised known symbols are read from prose) still
        holds. Only exact catalogue symbols are changed, never aliases, model names or
        short English words."""
        if self.bridge is None:
            return text

        def fix(m: re.Match[str]) -> str:
            w = m.group(0)
            if w.isupper() or w.lower() in _ENGLISH or self.bridge.resolve_model(w):
                return w
            up = w.upper()
            return up if self.bridge.resolve_symbol(up) == up else w

        return re.sub(r"\b[A-Za-z]{2,8}\b", fix, text)

    def plan(self, text: str) -> list[ToolCall]:
        t = self._upcase_symbols(text.strip())
        low = t.lower()
        calls = self._run_calls(t, low)
        if calls is not None:
            return calls
        m = re.match(
            r"^\s*(?:set|new|change)\s+(?:the\s+)?goal\s*(?:to|:)?\s*(.+)$", t, re.I | re.S
        )
        if m:
            return [self._call("set_goal", {"text": m.group(1).strip()})]
        if re.search(r"\b(goal)\b.*\b(met|meet|achieved|reached|satisf)", low) or re.search(
            r"\b(met|meet)\b.*\bgoal\b", low
        ):
            return [self._call("evaluate_goal", {})]
        if re.search(r"\b(what|show|current)\b.*\bgoal\b", low):
            return [self._call("get_goal", {})]
        m = re.search(r"\btrial[_\s]+(trial_\w+|\w*\d\w*)", t) or re.search(
            r"\b(trial_\d{8}_\d{6}_[0-9a-f]+)\b", t
        )
        if m and re.search(r"\b(show|status|how|what)\b", low):
            tid = m.group(1) if m.group(1).startswith("trial_") else f"trial_{m.group(1)}"
            return [self._call("trial_status", {"trial_id": tid})]
        if re.search(r"\b(symbols?|tickers?|data\s*sets?|which data)\b", low) and re.search(
            r"\b(which|what|list|available|can i)\b", low
        ):
            return [self._call("list_symbols", {})]
        m = re.search(
            r"\bwhat (?:did we|do we) (?:find|found|learn|know)\b(?: about)?\s*(.+?)\??$", low
        )
        if m or low.startswith(("remember ", "recall ", "search memory")):
            q = m.group(1) if m else re.sub(r"^(remember|recall|search memory( for)?)\s*", "", low)
            return [self._call("search_memory", {"query": q, "k": 5})]
        if re.search(r"\b(price|value)\b.*\b(call|put|option)\b", low):
            return [
                self._call(
                    "run_financial",
                    {"model_id": "black_scholes", "params": self._option_params(low)},
                )
            ]
        if "portfolio" in low:
            kind = next((v for k, v in _PORTFOLIO.items() if k in low), "portfolio_mean_variance")
            syms = self._symbols(t)
            params: dict[str, Any] = {"symbols": syms} if syms else {}
            return [self._call("run_financial", {"model_id": kind, "params": params})]
        if (
            re.search(r"\b(models?|what can you (?:train|run))\b", low)
            and re.search(r"\b(what|which|list|show|have)\b", low)
            and not re.search(
                r"\b(train|compare|run)\b\s+(a|an|the)?\s*\w", low.replace("what models", "")
            )
        ):
            task = next(
                (v for k, v in _TASK_WORDS.items() if re.search(rf"\b{re.escape(k)}\b", low)), None
            )
            return [self._call("list_models", {"task": task} if task else {})]
        if self.bridge is not None and re.search(
            r"\b(train|fit|run|compare|test|backtest|try)\b", low
        ):
            parsed = self.bridge.parse(t)
            calls = [
                self._call(a.action, a.params)
                for a in parsed.actions
                if a.action in ("train_model", "compare_models", "start_trial")
            ]
            if calls:
                return calls
            if parsed.plans:
                self._proposal = t
        return []

    def _run_calls(self, t: str, low: str) -> list[ToolCall] | None:
        """Background runs: start a search, ask how it is going, cancel it."""
        if _SEARCH_START_RE.search(low):
            args: dict[str, Any] = {}
            syms = self._symbols(t)
            if syms:
                args["symbol"] = syms[0]
            for key, rx, kind in _SEARCH_ARGS:
                m = rx.search(low)
                if m:
                    value = float(m.group(1))
                    if key == "max_minutes" and m.group(2).startswith("h"):
                        value *= 60
                    args[key] = int(value) if kind is int else value
            return [self._call("start_research", args)]
        run = re.search(r"(run_\d{8}_\d{6}_[0-9a-f]+)", t)
        run_id = run.group(1) if run else self._last_run
        if re.search(r"(cancel|stop|abort).*(search|research|run)", low):
            if run_id is None:
                return None
            return [self._call("cancel_run", {"run_id": run_id})]
        if _SEARCH_STATUS_RE.search(low):
            return [self._call("run_status", {"run_id": run_id} if run_id else {})]
        return None

    def _symbols(self, text: str) -> list[str]:
        out: list[str] = []
        if self.bridge is None:
            return out
        for tok in re.findall(r"\b[A-Za-z^][A-Za-z0-9.^-]{0,9}\b", text):
            if tok.isupper() or tok.startswith("^"):
                sym = self.bridge.resolve_symbol(tok)
                if sym and sym not in out:
                    out.append(sym)
        return out

    @staticmethod
    def _option_params(low: str) -> dict[str, Any]:
        p: dict[str, Any] = {"option_type": "put" if re.search(r"\bput\b", low) else "call"}
        pats = {
            "spot": rf"\b(?:spot|underlying|s)\s*(?:=|of|at)?\s*{_NUM}",
            "strike": rf"\b(?:strike|k)\s*(?:=|of|at)?\s*{_NUM}",
            "volatility": rf"\b(?:vol|volatility|sigma|iv)\s*(?:=|of|at)?\s*{_NUM}\s*(%?)",
            "rate": rf"\b(?:rate|r|interest rate|risk-free rate)\s*(?:=|of|at)?\s*{_NUM}\s*(%?)",
            "dividend_yield": rf"\b(?:dividend|div|q)\s*(?:yield)?\s*(?:=|of|at)?\s*{_NUM}\s*(%?)",
        }
        for key, rx in pats.items():
            m = re.search(rx, low)
            if m:
                v = float(m.group(1))
                pct = len(m.groups()) > 1 and m.group(2) == "%"
                p[key] = (
                    v / 100
                    if pct or (key in ("volatility", "rate", "dividend_yield") and v > 1)
                    else v
                )
        m = re.search(rf"{_NUM}\s*(months?|mo|years?|yrs?|y|weeks?|days?)\b", low)
        if m:
            v, unit = float(m.group(1)), m.group(2)
            p["maturity"] = (
                v / 12
                if unit.startswith("mo")
                else v / 52
                if unit.startswith("week")
                else v / 365
                if unit.startswith("day")
                else v
            )
        return p

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
            parts.append(self._describe(name, data))
        return "\n\n".join(parts)

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
        flat = {k: v for k, v in r.items() if isinstance(v, int | float | str | bool)}
        return f"{mid}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in flat.items())
