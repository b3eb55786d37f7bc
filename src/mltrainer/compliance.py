"""The compliance gateway: only real data from allow-listed sources, and honest requests.

Every check returns a :class:`Decision` (``allowed`` is a real bool, ``reason`` says why)
and is written to the audit log. ``require_*`` raises :class:`ComplianceError` where a
caller must stop.

Source ids are compared exactly against the policy's allow-list. Text rules are regular
expressions over words and phrases (word boundaries), never bare substrings: "train a
random forest", "random_forest_100", "risk-free rate" and "variance" pass, while
"train on random data" or "generate synthetic price data" are refused.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from .errors import ComplianceError, ConfigError

if TYPE_CHECKING:
    from .audit import AuditLog
    from .data.market import MarketData

__all__ = ["Policy", "Decision", "ComplianceGateway", "DEFAULT_SOURCES"]

DEFAULT_SOURCES = ("bundled", "polygon", "fred", "file")

# Words that make data fake, and the nouns that mean market data. A fake adjective may be
# followed by a few filler words ("synthetic price data", "mock the market data").
_FAKE = r"(synthetic|fake|fabricated|made[- ]up|dummy|mock(?:ed)?|random|randomly[- ]generated|simulated|artificial|invented|generated)"
_FILLER = r"(?:\s+(?:the|some|a|an|of|price|market|stock|equity|training|historical|ohlcv?|daily|intraday|time|series))*"
_NOUN = (
    r"(data|dataset|datasets|prices|price\s+data|quotes|bars|candles|ohlcv?|time\s+series|ticks)"
)

DEFAULT_RULES: dict[str, str] = {
    "fake data": rf"\b{_FAKE}{_FILLER}\s+{_NOUN}\b",
    "fabricating prices": r"\b(generate|generating|fabricate|fabricating|invent|inventing|make\s+up|making\s+up)\b(?:\s+\w+){0,3}?\s+(prices|price\s+data|market\s+data|quotes|ohlcv?)\b",
    "promised returns": r"\b(guaranteed?|guarantees|risk[- ]free\s+profits?|can(?:no|')t\s+lose|sure[- ]fire)\b(?:\s+[\w%.]+){0,3}?\s*(returns?|profits?|gains?|income)\b",
    "bypassing compliance": r"\b(ignore|bypass|skip|disable|override|circumvent|turn\s+off)\s+(?:the\s+)?(compliance|audit(?:\s+log)?|policy|data\s+rules?)\b",
    "unapproved sources": r"\buse\s+(?:any|unapproved|unverified|unknown)\s+(?:data\s+)?sources?\b",
}


class Policy(BaseModel):
    """What the gateway allows. Loadable from TOML::

    allowed_sources = ["bundled", "polygon", "fred", "file"]
    max_text_chars = 20000
    [forbidden]
    "fake data" = '\\b(synthetic|fake)\\s+data\\b'
    """

    allowed_sources: list[str] = Field(default_factory=lambda: list(DEFAULT_SOURCES))
    forbidden: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RULES))
    max_text_chars: int = 20_000
    max_param_abs: float = 1e9

    @classmethod
    def load(cls, path: Path | None) -> Policy:
        if path is None:
            return cls()
        try:
            data = tomllib.loads(Path(path).read_text())
            policy = cls.model_validate(data)
            for rx in policy.forbidden.values():
                re.compile(rx)
        except (OSError, ValueError, re.error) as e:
            raise ConfigError(f"compliance policy {path} is invalid: {e}") from e
        return policy


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    check: str = ""

    def __bool__(self) -> bool:
        return self.allowed


class ComplianceGateway:
    """Checks sources, data, text and parameters; audits every decision."""

    def __init__(self, policy: Policy, audit: AuditLog | None = None):
        self.policy = policy
        self._audit = audit
        self._rules = [(n, re.compile(rx, re.IGNORECASE)) for n, rx in policy.forbidden.items()]

    def _decide(self, check: str, allowed: bool, reason: str, subject: Any, actor: str) -> Decision:
        d = Decision(bool(allowed), reason, check)
        if self._audit is not None:
            self._audit.append(
                "compliance",
                {"check": check, "allowed": d.allowed, "reason": reason, "subject": subject},
                actor=actor,
            )
        return d

    # -- sources -----------------------------------------------------------------
    def check_source(self, source_id: Any, actor: str = "system") -> Decision:
        sid = source_id if isinstance(source_id, str) else repr(source_id)
        if isinstance(source_id, str) and source_id in self.policy.allowed_sources:
            return self._decide("source", True, f"source '{sid}' is allow-listed", sid, actor)
        allowed = ", ".join(self.policy.allowed_sources)
        return self._decide(
            "source",
            False,
            f"compliance: data source '{sid}' is not allowed; use one of: {allowed}",
            sid,
            actor,
        )

    # -- data --------------------------------------------------------------------
    def check_data(self, data: MarketData, actor: str = "system") -> Decision:
        from .data.market import content_hash

        prov = getattr(data, "provenance", None)
        subject = {"symbol": getattr(data, "symbol", None)}
        if prov is None:
            return self._decide("data", False, "compliance: data has no provenance", subject, actor)
        subject.update(source=prov.source, sha256=prov.sha256, rows=prov.rows)
        if prov.source not in self.policy.allowed_sources:
            return self._decide(
                "data",
                False,
                f"compliance: data source '{prov.source}' is not allowed",
                subject,
                actor,
            )
        actual = content_hash(data.frame)
        if actual != prov.sha256:
            return self._decide(
                "data",
                False,
                "compliance: data content does not match its provenance hash (modified after loading)",
                subject,
                actor,
            )
        if prov.rows != len(data.frame):
            return self._decide(
                "data", False, "compliance: row count differs from provenance", subject, actor
            )
        return self._decide(
            "data", True, f"real data from '{prov.source}', hash verified", subject, actor
        )

    # -- text --------------------------------------------------------------------
    def text_violations(self, text: str) -> list[tuple[str, str]]:
        """(rule name, matched phrase) for each rule the text breaks; no audit."""
        out = []
        for name, rx in self._rules:
            m = rx.search(text)
            if m:
                out.append((name, m.group(0)))
        return out

    def check_text(self, text: str, actor: str = "user") -> Decision:
        if not isinstance(text, str):
            return self._decide(
                "text", False, "compliance: text must be a string", repr(text), actor
            )
        preview = text[:200]
        if len(text) > self.policy.max_text_chars:
            return self._decide(
                "text",
                False,
                f"compliance: text is {len(text)} characters; the limit is {self.policy.max_text_chars}",
                preview,
                actor,
            )
        hits = self.text_violations(text)
        if hits:
            why = "; ".join(f"{name} ('{phrase}')" for name, phrase in hits)
            return self._decide(
                "text",
                False,
                f"compliance: request refused: {why}. mlTrainer uses real market data only.",
                preview,
                actor,
            )
        return self._decide("text", True, "no forbidden phrases", preview, actor)

    # -- parameters ----------------------------------------------------------------
    def check_params(self, params: dict[str, Any], actor: str = "system") -> Decision:
        if not isinstance(params, dict):
            return self._decide(
                "params", False, "compliance: parameters must be a mapping", repr(params), actor
            )
        problems: list[str] = []
        self._scan_params(params, "", problems)
        if problems:
            return self._decide(
                "params", False, "compliance: " + "; ".join(problems), params, actor
            )
        return self._decide("params", True, "parameters are within policy", params, actor)

    def _scan_params(self, obj: Any, path: str, problems: list[str]) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                key = f"{path}.{k}" if path else str(k)
                if str(k) in {"source", "data_source"}:
                    if not (isinstance(v, str) and v in self.policy.allowed_sources):
                        problems.append(f"{key}='{v}' is not an allowed data source")
                    continue
                self._scan_params(v, key, problems)
        elif isinstance(obj, list | tuple):
            for i, v in enumerate(obj):
                self._scan_params(v, f"{path}[{i}]", problems)
        elif isinstance(obj, float):
            if obj != obj or obj in (float("inf"), float("-inf")):
                problems.append(f"{path} is not a finite number")
            elif abs(obj) > self.policy.max_param_abs:
                problems.append(f"{path}={obj} is out of range")
        elif isinstance(obj, str):
            hits = self.text_violations(obj)
            if hits:
                problems.append(f"{path}: {hits[0][0]} ('{hits[0][1]}')")

    # -- raising variants -----------------------------------------------------------
    @staticmethod
    def _raise(d: Decision) -> Decision:
        if not d.allowed:
            raise ComplianceError(d.reason)
        return d

    def require_source(self, source_id: Any, actor: str = "system") -> Decision:
        return self._raise(self.check_source(source_id, actor))

    def require_data(self, data: MarketData, actor: str = "system") -> Decision:
        return self._raise(self.check_data(data, actor))

    def require_text(self, text: str, actor: str = "user") -> Decision:
        return self._raise(self.check_text(text, actor))

    def require_params(self, params: dict[str, Any], actor: str = "system") -> Decision:
        return self._raise(self.check_params(params, actor))
