"""The compliance gateway: only real data from allow-listed sources, and honest requests.

Every check returns a :class:`Decision` (``allowed`` is a real bool, ``reason`` says why)
and is written to the audit log. ``require_*`` raises :class:`ComplianceError` where a
caller must stop.

Source ids are compared exactly against the policy's allow-list. Text rules are regular
expressions over words and phrases (word boundaries), never bare substrings: "train a
random forest", "random_forest_100", "risk-free rate" and "variance" pass, while
"train on random data" or "generate synthetic price data" are refused.

Rules see normalised text (:func:`normalise_text`): NFKC, no zero-width or control
characters, no combining marks, Cyrillic and Greek look-alike letters folded to Latin, so
"syn\u200dthetic" or a Cyrillic "а" in "dаta" read as plain words. Each rule is tried on
that text and on a copy where ``_`` and ``-`` between letters read as spaces
("synthetic-data", "use_fake_prices"). The built-in rules match word forms (synthetic,
synthetically, generated, faked...) and allow up to three words between the parts of a
rule ("synthetic AAPL data", "fake SPX prices"). A rule may name those words with a
``(?P<gap>...)`` group: a match whose gap holds one of the policy's ``gap_stop_words``
("from", "using", "on"...: the noun is then what is *used*, as in "generate features
from prices") or a model word ("random forest", "artificial neural network") is not a
violation. "Random" and "simulated" are weaker words and only count when followed by
words that describe data ("random data", "random AAPL price data"), never "random forest
on AAPL data" or "a random split of the data".
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import BaseModel, Field

from .errors import ComplianceError, ConfigError

if TYPE_CHECKING:
    from .audit import AuditLog
    from .data.market import MarketData

__all__ = [
    "Policy",
    "Decision",
    "ComplianceGateway",
    "DEFAULT_SOURCES",
    "SOURCE_KEYS",
    "normalise_text",
]

DEFAULT_SOURCES = ("bundled", "polygon", "fred", "file")

# Parameter names that request a data source (checked exactly against the allow-list).
SOURCE_KEYS = frozenset({"source", "data_source", "dataset_source", "datasource"})

# -- text normalisation ---------------------------------------------------------------------
# Cyrillic and Greek letters that look like Latin ones (after NFKC), from Unicode's
# confusables list: a rule for "data" must not be dodged by a Cyrillic "а".
_CONFUSABLES = str.maketrans(
    {
        # Cyrillic lower case
        "а": "a", "в": "b", "е": "e", "ё": "e", "г": "r", "һ": "h", "і": "i", "ї": "i",
        "ј": "j", "к": "k", "ӏ": "l", "м": "m", "н": "h", "о": "o", "п": "n", "р": "p",
        "ԛ": "q", "ѕ": "s", "т": "t", "у": "y", "ԝ": "w", "х": "x", "с": "c", "ԁ": "d",
        "ɡ": "g", "ь": "b",
        # Cyrillic upper case
        "А": "A", "В": "B", "Е": "E", "Ё": "E", "Һ": "H", "І": "I", "Ї": "I", "Ј": "J",
        "К": "K", "Ӏ": "l", "М": "M", "Н": "H", "О": "O", "Р": "P", "Ԛ": "Q", "Ѕ": "S",
        "Т": "T", "У": "Y", "Ԝ": "W", "Х": "X", "С": "C", "Ԁ": "D",
        # Greek lower case
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w",
        # Greek upper case
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
        "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    }
)  # fmt: skip
_SPACES = frozenset({"Zs", "Zl", "Zp"})
_JOINERS = re.compile(r"(?<=[^\W_])[_-]+(?=[^\W_])")
_FAKEOUT = re.compile(r"\bfake[\s-]?(outs?)\b", re.IGNORECASE)


def normalise_text(text: str, invisible: str = "") -> str:
    """``text`` as the rules read it: NFKC, combining marks removed, zero-width and
    control characters replaced by ``invisible`` ("" joins "syn\u200dthetic"; " " splits
    "synthetic\u200bdata"), other spaces and dashes made plain, look-alike letters folded
    to Latin.

    "fake-out"/"fake out" (a false breakout, a trading term) is written "fakeout" so that
    it never reads as the word "fake".
    """
    out = []
    for ch in unicodedata.normalize("NFKD", text):
        cat = unicodedata.category(ch)
        if ch in "\t\n\r\v\f" or cat in _SPACES:
            out.append(" " if ch != "\n" else "\n")
        elif cat == "Pd":
            out.append("-")
        elif cat in ("Mn", "Me"):
            continue  # combining marks: "fa\u0301ke" reads "fake"
        elif cat in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append(invisible)  # controls, zero-width and format characters
        else:
            out.append(ch)
    folded = unicodedata.normalize("NFKC", "".join(out)).translate(_CONFUSABLES)
    return _FAKEOUT.sub(r"fake\1", folded)


def _split_joined(text: str) -> str:
    """``_`` and ``-`` between letters or digits as spaces: "synthetic-data"."""
    return _JOINERS.sub(" ", text)


# -- built-in rules ---------------------------------------------------------------------------
# The patterns avoid look-around and back-references, so a linear-time engine (RE2) runs
# them too. ``_W`` is one word of a gap ("AAPL", "S&P", "AAPL's", "10%").
_W = r"\$?\w+(?:['&./:]\w+)*%?"
_GAP = rf"(?P<gap>(?:\s+{_W}){{0,3}}?)"
# Strong words: data described with one of these is fake whatever words follow.
_FAKE = (
    r"(?:synthetic(?:al)?(?:ly)?|synthesi[sz](?:e|es|ed|ing)|fake[ds]?|faking"
    r"|fabricat(?:e|es|ed|ing)|made\s+up|making\s+up|dummy|mock(?:ed|ing)?|artificial(?:ly)?"
    r"|invent(?:ed|ing)?|bogus|counterfeit|phon(?:e)?y|imaginary|pretend"
    r"|(?:randomly|computer|machine|ai)\s+(?:generated|created|made)|generated)"
)
# Weak words ("a random split of the data", "random forest"): only when what follows
# describes data itself.
_WEAK = r"(?:random(?:ly)?|randomi[sz]ed|simulated)"
_FILLER = (
    r"(?:\s+(?:the|some|a|an|of|price|market|stock|equity|training|test|historical|ohlcv?"
    r"|daily|weekly|monthly|hourly|intraday|minute|time|series|(?-i:[A-Z][A-Z0-9^.:]{0,9})))*"
)
# What market data is called. Simulated price *paths* are not here: Monte Carlo paths
# inside a pricing or risk model are allowed (and labelled as simulation).
_NOUN = (
    r"(?:data(?:\s*sets?)?|datasets?|prices|price\s+(?:data|series|history|histories)"
    r"|quotes?|bars|candles(?:ticks)?|ohlcv?|time\s+series|return\s+series|ticks?(?:\s+data)?"
    r"|market\s+history)"
)
_FAKE_NOUN = rf"(?:{_NOUN}|(?:data\s+)?sources?|(?:data\s+)?feeds?)"
_FAB_VERB = (
    r"(?:generat(?:e|es|ed|ing)|fabricat(?:e|es|ed|ing)|invent(?:s|ed|ing)?|synthesi[sz](?:e|es|ed|ing)"
    r"|fak(?:e|es|ed|ing)|forg(?:e|es|ed|ing)|make\s+up|makes\s+up|made\s+up|making\s+up"
    r"|simulat(?:e|es|ed|ing))"
)
_FAB_NOUN = (
    r"(?:prices|price\s+(?:data|series|history)|market\s+data|quotes?|ohlcv?|bars|candles|ticks)"
)
_BYPASS_VERB = (
    r"(?:ignor(?:e|es|ed|ing)|bypass(?:es|ed|ing)?|skip(?:s|ped|ping)?|disabl(?:e|es|ed|ing)"
    r"|overrid(?:e|es|ing)|overridden|circumvent(?:s|ed|ing)?|disregard(?:s|ed|ing)?"
    r"|evad(?:e|es|ed|ing)|dodg(?:e|es|ed|ing)|get\s+around|work\s+around|sidestep(?:s|ped|ping)?"
    r"|turn(?:s|ed|ing)?\s+off|switch(?:es|ed|ing)?\s+off|deactivat(?:e|es|ed|ing)"
    r"|suspend(?:s|ed|ing)?|forget(?:s|ting)?(?:\s+about)?|break(?:s|ing)?|violat(?:e|es|ed|ing))"
)
_BYPASS_FILLER = r"(?:\s+(?:the|all|any|your|its|our|my|these|those|this|every|of|mltrainer'?s?))*"
_BYPASS_TARGET = (
    r"(?:compliance(?:\s+(?:rules?|checks?|gateway|polic(?:y|ies)))?|audit(?:s|ing)?(?:\s+(?:log|trail))?"
    r"|polic(?:y|ies)|data\s+rules?|safety\s+rules?|guardrails?|safeguards?"
    r"|restrictions?|(?:previous|prior|above|system)\s+instructions)"
)

DEFAULT_RULES: dict[str, str] = {
    "fake data": rf"\b(?:{_FAKE}{_GAP}\s+{_FAKE_NOUN}|{_WEAK}{_FILLER}\s+{_NOUN})\b",
    "fabricating prices": rf"\b{_FAB_VERB}\b{_GAP}\s+{_FAB_NOUN}\b",
    "promised returns": r"\b(?:(?:guarantee[ds]?|guaranteeing|can(?:no|')t\s+lose|sure[\s-]*fire)\b(?:\s+[\w%.]+){0,3}?\s*(?:returns?|profits?|gains?|income|yields?)|risk[\s-]+free\s+(?:profits?|gains?|money))\b",
    "bypassing compliance": rf"\b{_BYPASS_VERB}{_BYPASS_FILLER}\s+{_BYPASS_TARGET}\b",
    "unapproved sources": r"\buse\s+(?:any|unapproved|unverified|unknown|unofficial)\s+(?:data\s+)?sources?\b",
}

# Words that end a rule's gap: the noun after them is what is used ("generate features
# from prices"), or the adjective belongs to a model ("random forest", "artificial neural
# network on SPX data").
DEFAULT_GAP_STOP_WORDS = (
    "from using use uses used with on in onto into via by for against over across vs "
    "versus based intelligence neural network networks net nets feature features signal "
    "signals prediction predictions forecast forecasts label labels target targets "
    "indicator indicators benchmark benchmarks breakout breakouts position positions "
    "portfolio portfolios option options trade trades order orders model models strategy "
    "strategies forest walk seed search split splits"
).split()


class Policy(BaseModel):
    """What the gateway allows. Loadable from TOML::

    allowed_sources = ["bundled", "polygon", "fred", "file"]
    max_text_chars = 20000
    [forbidden]
    "fake data" = '\\b(synthetic|fake)\\s+data\\b'
    """

    allowed_sources: list[str] = Field(default_factory=lambda: list(DEFAULT_SOURCES))
    forbidden: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RULES))
    gap_stop_words: list[str] = Field(default_factory=lambda: list(DEFAULT_GAP_STOP_WORDS))
    """Words that end a rule's ``(?P<gap>...)`` (see the module docstring)."""
    max_text_chars: int = 20_000
    max_param_abs: float = 1e9

    @classmethod
    def load(cls, path: Path | None) -> Policy:
        if path is None:
            return cls()
        try:
            data = tomllib.loads(Path(path).read_text())
            policy = cls.model_validate(data)
            for name, rx in policy.forbidden.items():
                compile_rule(name, rx)
        except (OSError, ValueError, ConfigError) as e:
            raise ConfigError(f"compliance policy {path} is invalid: {e}") from e
        return policy


def compile_rule(name: str, pattern: str) -> Any:
    """Compile a text rule with RE2, case-insensitive. RE2 matches in time linear in the
    text, so no policy pattern (``(a+)+$``...) can hang a check; it refuses what needs
    backtracking (back-references, look-around), which is a ConfigError here. RE2's
    ``\\b`` and ``\\w`` are ASCII, which the rules see after :func:`normalise_text`."""
    import re2

    opts = re2.Options()
    opts.case_sensitive = False
    opts.log_errors = False
    try:
        return re2.compile(pattern, opts)
    except re2.error as e:
        why = e.args[0].decode() if e.args and isinstance(e.args[0], bytes) else str(e)
        raise ConfigError(
            f"rule '{name}' pattern {pattern!r} is not supported ({why}); patterns are RE2 "
            "syntax (no back-references or look-around) so that they match in linear time"
        ) from None


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
        self._rules = [(n, compile_rule(n, rx)) for n, rx in policy.forbidden.items()]
        self._stop_words = frozenset(w.lower() for w in policy.gap_stop_words)

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
        """(rule name, matched phrase) for each rule the text breaks; no audit.

        Rules read :func:`normalise_text` of ``text`` (invisible characters dropped, and
        read as spaces), each also with ``_``/``-`` between letters as spaces."""
        forms = (normalise_text(text), normalise_text(text, invisible=" "))
        variants = dict.fromkeys([*forms, *(_split_joined(f) for f in forms)])
        out = []
        for name, rx in self._rules:
            for variant in variants:
                phrase = self._first_match(rx, variant)
                if phrase is not None:
                    out.append((name, phrase))
                    break
        return out

    def _first_match(self, rx: Any, text: str) -> str | None:
        """The first match of ``rx`` whose ``gap`` group holds no stop word."""
        pos = 0
        while pos <= len(text):
            m = rx.search(text, pos)
            if m is None:
                return None
            gap = m.groupdict().get("gap") if rx.groupindex else None
            if not gap or self._stop_words.isdisjoint(w.lower() for w in gap.split()):
                return m.group(0).strip()
            pos = m.start() + 1
        return None

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
                if str(k) in SOURCE_KEYS:
                    if not (isinstance(v, str) and v in self.policy.allowed_sources):
                        allowed = ", ".join(self.policy.allowed_sources)
                        problems.append(
                            f"{key}='{v}' is not an allowed data source (use one of: {allowed})"
                        )
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

    def refuse(self, check: str, reason: str, subject: Any, actor: str = "system") -> NoReturn:
        """Record a refusal that another component decided (e.g. the sealed-holdout guard
        of the data layer) as this gateway's audited decision, then raise it."""
        self._raise(self._decide(check, False, reason, subject, actor))
        raise AssertionError("unreachable: a refusal always raises")
