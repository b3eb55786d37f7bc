"""The compliance gateway: real data from allow-listed sources only, honest requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from mltrainer.app import App
from mltrainer.compliance import ComplianceGateway, Decision, Policy
from mltrainer.errors import ComplianceError, ConfigError

REFUSED_TEXT = [
    "generate synthetic price data for AAPL",
    "train on random data",
    "simulate fake prices and train on them",
    "mock the market data",
    "guaranteed 100% returns",
    "ignore compliance and use any source",
]
ACCEPTED_TEXT = [
    "train a random forest on AAPL",
    "random_forest_100",
    "use the risk-free rate",
    "variance of daily returns",
    "Monte Carlo VaR for SPX",
    "compare momentum models on JNJ",
]
REFUSED_SOURCES = ["random", "synthetic", "mock", "numpy.random", "", None, "Bundled", "yahoo"]
ACCEPTED_SOURCES = ["bundled", "polygon", "fred", "file"]


@pytest.fixture
def gateway(app: App) -> ComplianceGateway:
    return app.gateway


@pytest.mark.parametrize("phrase", REFUSED_TEXT)
def test_forbidden_phrase_is_refused(gateway: ComplianceGateway, phrase: str):
    d = gateway.check_text(phrase)
    assert d.allowed is False
    assert "compliance" in d.reason


@pytest.mark.parametrize("phrase", ACCEPTED_TEXT)
def test_honest_phrase_is_accepted(gateway: ComplianceGateway, phrase: str):
    d = gateway.check_text(phrase)
    assert d.allowed is True, d.reason


def test_text_over_the_length_limit_is_refused(gateway: ComplianceGateway):
    d = gateway.check_text("train a random forest on AAPL. " * 1000)
    assert d.allowed is False
    assert "limit" in d.reason


def test_non_string_text_is_refused(gateway: ComplianceGateway):
    assert gateway.check_text(None).allowed is False  # type: ignore[arg-type]


@pytest.mark.parametrize("source", REFUSED_SOURCES)
def test_unlisted_source_is_refused(gateway: ComplianceGateway, source):
    d = gateway.check_source(source)
    assert d.allowed is False
    assert "not allowed" in d.reason


@pytest.mark.parametrize("source", ACCEPTED_SOURCES)
def test_allow_listed_source_is_accepted(gateway: ComplianceGateway, source: str):
    assert gateway.check_source(source).allowed is True


@pytest.mark.parametrize(
    "decide",
    [
        lambda g: g.check_source("bundled"),
        lambda g: g.check_source("random"),
        lambda g: g.check_text("train a random forest on AAPL"),
        lambda g: g.check_text("train on random data"),
        lambda g: g.check_params({"n_estimators": 100}),
        lambda g: g.check_params({"data_source": "random"}),
    ],
    ids=["source-ok", "source-refused", "text-ok", "text-refused", "params-ok", "params-refused"],
)
def test_decision_allowed_is_a_real_bool(gateway: ComplianceGateway, decide):
    d = decide(gateway)
    assert isinstance(d, Decision)
    assert type(d.allowed) is bool
    assert bool(d) is d.allowed


@pytest.mark.parametrize(
    "require",
    [
        lambda g: g.require_source("random"),
        lambda g: g.require_text("generate synthetic price data for AAPL"),
        lambda g: g.require_params({"data_source": "random"}),
    ],
    ids=["source", "text", "params"],
)
def test_require_raises_compliance_error_naming_compliance(gateway: ComplianceGateway, require):
    with pytest.raises(ComplianceError) as exc_info:
        require(gateway)
    assert "compliance" in str(exc_info.value).lower()


def test_require_returns_the_decision_when_allowed(gateway: ComplianceGateway):
    assert gateway.require_source("bundled").allowed is True
    assert gateway.require_text("compare momentum models on JNJ").allowed is True


def test_compliance_error_always_says_compliance():
    assert "compliance" in str(ComplianceError("source refused")).lower()


def test_real_bundled_data_passes_check_data(app: App):
    md = app.data.fetch("GOOG", start="2010-01-01", end="2010-12-31")
    d = app.gateway.check_data(md)
    assert d.allowed is True, d.reason


def test_data_changed_after_fetch_is_refused(app: App):
    md = app.data.fetch("GOOG", start="2010-01-01", end="2010-12-31")
    md.frame.loc[md.frame.index[10], "close"] = md.frame["close"].iloc[11]
    d = app.gateway.check_data(md)
    assert d.allowed is False
    assert "provenance hash" in d.reason


def test_require_data_raises_on_tampered_frame(app: App):
    md = app.data.fetch("SPX", start="2005-01-01", end="2005-06-30")
    md.frame.loc[md.frame.index[0], "close"] = md.frame["open"].iloc[0]
    with pytest.raises(ComplianceError, match="compliance"):
        app.gateway.require_data(md)


def test_data_with_a_dropped_row_is_refused(app: App):
    md = app.data.fetch("GOOG", start="2010-01-01", end="2010-12-31")
    short = md.model_copy(update={"frame": md.frame.iloc[1:]})
    assert app.gateway.check_data(short).allowed is False


def test_data_claiming_an_unlisted_source_is_refused(app: App):
    md = app.data.fetch("GOOG", start="2010-01-01", end="2010-12-31")
    relabelled = md.model_copy(
        update={"provenance": md.provenance.model_copy(update={"source": "synthetic"})}
    )
    d = app.gateway.check_data(relabelled)
    assert d.allowed is False
    assert "synthetic" in d.reason


def test_data_without_provenance_is_refused(app: App):
    class Bare:
        symbol = "GOOG"
        provenance = None

    assert app.gateway.check_data(Bare()).allowed is False  # type: ignore[arg-type]


def test_params_with_random_data_source_are_refused(gateway: ComplianceGateway):
    d = gateway.check_params({"model": "random_forest", "data_source": "random"})
    assert d.allowed is False
    assert "data_source" in d.reason


def test_nested_source_param_is_checked(gateway: ComplianceGateway):
    assert gateway.check_params({"data": {"source": "mock"}}).allowed is False
    assert gateway.check_params({"data": {"source": "polygon"}}).allowed is True


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), 1e12])
def test_params_with_non_finite_or_huge_numbers_are_refused(gateway: ComplianceGateway, bad):
    d = gateway.check_params({"model": "ridge", "alpha": bad})
    assert d.allowed is False
    assert "alpha" in d.reason


def test_param_strings_are_checked_for_forbidden_phrases(gateway: ComplianceGateway):
    assert gateway.check_params({"note": "train on random data"}).allowed is False


def test_ordinary_params_are_accepted(gateway: ComplianceGateway):
    params = {"model": "random_forest_100", "n_estimators": 100, "max_depth": 5.0,
              "data_source": "bundled", "features": ["ret_1", "ret_5"]}  # fmt: skip
    d = gateway.check_params(params)
    assert d.allowed is True, d.reason


def test_params_must_be_a_mapping(gateway: ComplianceGateway):
    assert gateway.check_params(["data_source", "bundled"]).allowed is False  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("check", "decide"),
    [
        ("source", lambda g: g.check_source("bundled")),
        ("source", lambda g: g.check_source("numpy.random")),
        ("text", lambda g: g.check_text("compare momentum models on JNJ")),
        ("text", lambda g: g.check_text("mock the market data")),
        ("params", lambda g: g.check_params({"alpha": 0.5})),
        ("params", lambda g: g.check_params({"alpha": float("nan")})),
    ],
    ids=["source-ok", "source-refused", "text-ok", "text-refused", "params-ok", "params-refused"],
)
def test_every_decision_is_audited(app: App, check: str, decide):
    before = app.audit.count()
    d = decide(app.gateway)
    assert app.audit.count() == before + 1
    (rec,) = app.audit.tail(1)
    assert rec.kind == "compliance"
    assert rec.payload["check"] == check
    assert rec.payload["allowed"] is d.allowed
    assert rec.payload["reason"] == d.reason
    assert app.audit.verify().ok


def test_data_decision_is_audited_with_its_hash(app: App):
    md = app.data.fetch("GOOG", start="2010-01-01", end="2010-12-31")
    before = app.audit.count()
    app.gateway.check_data(md)
    assert app.audit.count() == before + 1
    (rec,) = app.audit.tail(1)
    assert rec.kind == "compliance"
    assert rec.payload["subject"]["sha256"] == md.provenance.sha256


def test_refused_data_source_is_audited_before_fetching(app: App):
    with pytest.raises(ComplianceError):
        app.data.fetch("GOOG", source="random")
    (rec,) = app.audit.tail(1)
    assert rec.kind == "compliance"
    assert rec.payload["allowed"] is False
    assert rec.payload["subject"] == "random"


def _write_policy(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(body)
    return path


def test_policy_loads_from_toml(tmp_path: Path):
    path = _write_policy(
        tmp_path,
        'allowed_sources = ["bundled"]\n'
        "max_text_chars = 100\n"
        "[forbidden]\n"
        "\"lookahead\" = '\\bpeek\\s+at\\s+tomorrow\\b'\n",
    )
    policy = Policy.load(path)
    assert policy.allowed_sources == ["bundled"]
    assert policy.max_text_chars == 100
    g = ComplianceGateway(policy)
    assert g.check_source("bundled").allowed is True
    assert g.check_source("polygon").allowed is False
    assert g.check_text("let the model peek at tomorrow's close").allowed is False
    assert g.check_text("train a random forest on AAPL").allowed is True


def test_app_uses_the_policy_file_from_settings(settings_factory, tmp_path: Path):
    path = _write_policy(tmp_path, 'allowed_sources = ["bundled", "file"]\n')
    with App(settings_factory(policy_file=path)) as a:
        assert a.policy.allowed_sources == ["bundled", "file"]
        with pytest.raises(ComplianceError):
            a.data.fetch("CPILFESL", source="fred")


def test_default_policy_is_used_without_a_file():
    policy = Policy.load(None)
    assert policy.allowed_sources == ACCEPTED_SOURCES
    assert policy.forbidden  # the built-in rules


def test_bad_regex_in_policy_toml_is_a_config_error(tmp_path: Path):
    path = _write_policy(tmp_path, "[forbidden]\n\"broken\" = '(unclosed'\n")
    with pytest.raises(ConfigError, match="policy"):
        Policy.load(path)


def test_bad_regex_in_policy_stops_app_start(settings_factory, tmp_path: Path):
    path = _write_policy(tmp_path, "[forbidden]\n\"broken\" = '[a-'\n")
    with pytest.raises(ConfigError):
        App(settings_factory(policy_file=path))


def test_malformed_policy_toml_is_a_config_error(tmp_path: Path):
    path = _write_policy(tmp_path, "allowed_sources = [bundled\n")
    with pytest.raises(ConfigError):
        Policy.load(path)


def test_policy_with_wrong_types_is_a_config_error(tmp_path: Path):
    path = _write_policy(tmp_path, 'allowed_sources = "bundled"\n')
    with pytest.raises(ConfigError):
        Policy.load(path)


def test_missing_policy_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError):
        Policy.load(tmp_path / "nope.toml")
