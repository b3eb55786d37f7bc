"""The web UI in a real browser: Debian's Chromium driven by Playwright against
``mltrainer up`` on loopback (offline planner, isolated home, one worker), at phone size
(390x844) and desk size (1280x800).

Each flow checks what the user sees against what the API stored: the Sharpe in the chat's
trial card is the stored trial's, the goal set in the sidebar is the next reply's context,
a research run's progress advances to a verdict, the trial page draws its chart. Every
page is checked for horizontal overflow (``scrollWidth <= innerWidth``) and screenshotted
into the test's ``tmp_path``. Without a Chromium that starts, the module is skipped, or
failed when ``CI`` is set.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ui_helpers import Up, start_up

pytestmark = pytest.mark.slow

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 800)}
PAGES = ("", "trials", "research", "models", "data", "audit", "migrate")
TIMEOUT_MS = 90_000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"Chromium cannot start in CI: {reason}")
    pytest.skip(f"Chromium cannot start: {reason}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = shutil.which("chromium")
    if path is None:
        _unavailable("no `chromium` on PATH (apt-get install -y chromium)")
    pw = sync_api.sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
    except Exception as e:  # playwright's Error: the browser did not launch
        pw.stop()
        _unavailable(str(e).splitlines()[0])
    try:
        yield b
    finally:
        b.close()
        pw.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    up = start_up(tmp_path_factory.mktemp("ui") / "home", workers=1)
    try:
        yield up
    finally:
        assert up.stop() == 0, up.log()


@pytest.fixture(scope="module")
def rest(server: Up) -> Iterator[httpx.Client]:
    """The API as the UI sees it, with the token ``up`` stored in $HOME/ui_token."""
    headers = {"Authorization": f"Bearer {server.token()}"}
    with httpx.Client(base_url=server.api_url, headers=headers, timeout=60) as c:
        yield c


@pytest.fixture(params=list(VIEWPORTS), ids=list(VIEWPORTS))
def page(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    width, height = VIEWPORTS[request.param]
    ctx = browser.new_context(viewport={"width": width, "height": height})
    ctx.set_default_timeout(TIMEOUT_MS)
    pg = ctx.new_page()
    pg.viewport_name = request.param
    try:
        yield pg
    finally:
        ctx.close()


# -- helpers ------------------------------------------------------------------------------------
def settle(page: Any) -> None:
    """Wait for the app and for its script to finish (Streamlit's run state)."""
    page.wait_for_selector('[data-testid="stApp"]')
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')


def go(page: Any, server: Up, path: str = "") -> None:
    page.goto(f"{server.url}/{path}")
    settle(page)


def screenshot(page: Any, shot: Path) -> None:
    """The whole page: Streamlit scrolls its main area itself (a full-page screenshot
    would show one screen), so the window is made as tall as the content for the shot."""
    size = page.viewport_size
    height = page.evaluate(
        "(() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m ? m.scrollHeight : 0 })()"
    )
    if height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": min(height, 8000)})
        page.wait_for_timeout(300)
    page.screenshot(path=str(shot))
    page.set_viewport_size(size)


def no_overflow(page: Any, shot: Path) -> None:
    """The page drew without an exception, and nothing is wider than the window."""
    crashed = page.locator('[data-testid="stException"]')
    if crashed.count():
        screenshot(page, shot)
        raise AssertionError(
            f"{shot.name}: the page shows an exception: {crashed.first.inner_text()}"
        )
    width, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{shot.name}: page is {width}px wide in a {inner}px window"
    # Streamlit scrolls its main area itself: that box may not overflow sideways either
    main = page.evaluate(
        "(() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m ? [m.scrollWidth, m.clientWidth] : [0, 0] })()"
    )
    assert main[0] <= main[1], f"{shot.name}: the main area is {main[0]}px wide in {main[1]}px"
    screenshot(page, shot)


def is_phone(page: Any) -> bool:
    return bool(page.viewport_name == "phone")


def open_sidebar(page: Any) -> Any:
    sidebar = page.locator('[data-testid="stSidebar"]')
    if not sidebar.is_visible() or sidebar.bounding_box()["x"] < 0:
        page.locator('[data-testid="stExpandSidebarButton"]').click()
    page.wait_for_function(
        "() => { const s = document.querySelector('[data-testid=\"stSidebar\"]');"
        " return s && s.getBoundingClientRect().x >= 0 }"
    )
    return sidebar


def close_sidebar(page: Any) -> None:
    if is_phone(page):
        page.locator('[data-testid="stSidebarCollapseButton"] button').click()


def send(page: Any, text: str) -> Any:
    """Type ``text`` into the chat input, send it, and return the new assistant message."""
    before = page.locator('[data-testid="stChatMessage"]').count()
    box = page.locator('[data-testid="stChatInputTextArea"]')
    box.fill(text)
    box.press("Enter")
    page.wait_for_function(
        f"() => document.querySelectorAll('[data-testid=\"stChatMessage\"]').length >= {before + 2}"
    )
    settle(page)
    return page.locator('[data-testid="stChatMessage"]').nth(before + 1)


# -- flows --------------------------------------------------------------------------------------
def test_chat_reply_shows_the_stored_trials_sharpe_and_opens_its_chart(
    page: Any, server: Up, rest: httpx.Client, tmp_path: Path
):
    go(page, server)
    reply = send(page, "train ridge on SPX from 2010 to 2016")
    link = reply.get_by_role("link", name="Open the trial").first
    link.wait_for()
    href = link.get_attribute("href") or ""
    trial_id = re.search(r"trial=(trial_\w+)", href).group(1)  # type: ignore[union-attr]
    stored = rest.get(f"/trials/{trial_id}").json()
    assert stored["model_id"] == "ridge" and stored["symbol"] == "SPX"
    card = reply.locator('[class*="st-key-card_"]').first.inner_text()
    assert f"Sharpe {stored['sharpe']:.4f}" in card, card
    assert f"Sharpe {stored['sharpe']:.4f}" in reply.inner_text()  # the reply's own text too
    no_overflow(page, tmp_path / "chat.png")

    link.click()
    page.wait_for_url(re.compile(rf"trial={trial_id}"))
    settle(page)
    chart = page.locator('[data-testid="stPlotlyChart"]')
    page.locator('[data-testid="stPlotlyChart"], [data-testid="stAlert"]').first.wait_for()
    alerts = page.locator('[data-testid="stMain"] [data-testid="stAlert"]')
    assert alerts.count() == 0, alerts.all_inner_texts()  # e.g. the API has no equity route
    chart.locator(".main-svg").first.wait_for()
    assert chart.locator(".scatterlayer .trace").count() == 4  # equity and drawdown, vs B&H
    box = chart.bounding_box()
    assert box is not None and box["width"] <= page.viewport_size["width"]
    sharpe = page.locator('[data-testid="stMain"] [data-testid="stMetric"]').first.inner_text()
    assert f"{stored['sharpe']:.4f}" in sharpe, sharpe
    assert stored["data_hash"] in page.locator(".st-key-trial_provenance").inner_text()
    no_overflow(page, tmp_path / "trial.png")


def test_goal_set_in_the_sidebar_is_in_the_next_replys_context(
    page: Any, server: Up, rest: httpx.Client, tmp_path: Path
):
    go(page, server)
    text = f"momentum on SPX, Sharpe above 0.5 over 7-12 days ({page.viewport_name})"
    sidebar = open_sidebar(page)
    sidebar.locator("textarea").fill(text)
    sidebar.get_by_role("button", name="Set goal").click()
    settle(page)
    sidebar.locator(".st-key-goal_current", has_text=text).wait_for()
    no_overflow(page, tmp_path / "sidebar.png")
    current = rest.get("/goals/current").json()
    assert current["text"] == text
    close_sidebar(page)

    reply = send(page, "what is my goal?")
    context = reply.locator('[data-testid="stCaptionContainer"]', has_text="Goal in context")
    context.wait_for()
    assert text in context.inner_text() and current["id"] in context.inner_text()
    assert text in reply.inner_text()
    no_overflow(page, tmp_path / "chat_goal.png")


def test_a_research_run_advances_to_its_verdict(
    page: Any, server: Up, rest: httpx.Client, tmp_path: Path
):
    if rest.get("/goals/current").json() is None:  # the sidebar test sets one when it runs
        goal = {"text": "momentum on SPX, Sharpe above 0.5 over 7-12 days"}
        assert rest.put("/goals/current", json=goal).status_code == 200
    go(page, server, "research")
    before = {r["id"] for r in rest.get("/runs", params={"limit": 1000}).json()["data"]}
    form = page.locator('[data-testid="stMain"] [data-testid="stForm"]')
    if not form.is_visible():  # collapsed once there are runs to follow
        page.get_by_text("Start a search").click()
    form.get_by_role("spinbutton", name="Max trials").fill("3")
    form.get_by_role("spinbutton", name="Folds per trial (0 = all)").fill("2")
    form.get_by_role("button", name="Start search").click()
    status = page.locator(".st-key-run_status")
    run_id, seen = None, list[int]()
    end = time.monotonic() + 150
    refused = page.locator('[data-testid="stAlert"]', has_text="did not start")
    while time.monotonic() < end:  # read as the page changes: no waiting for a rerun
        if refused.count():
            raise AssertionError(refused.all_inner_texts())
        text = status.inner_text() if status.count() else ""
        m = re.search(r"(run_\w+).*?steps done: (\d+)", text, re.S)
        if m and m.group(1) not in before:
            run_id = m.group(1)
            if not seen or int(m.group(2)) != seen[-1]:
                seen.append(int(m.group(2)))
            if re.search(rf"{run_id} · finished", text):
                break
        time.sleep(0.2)
    if run_id is None:
        screenshot(page, tmp_path / "research_no_run.png")
        raise AssertionError(
            f"no new run appeared: {page.locator('[data-testid=stMain]').inner_text()}"
        )
    run = rest.get(f"/runs/{run_id}").json()
    assert run["kind"] == "search" and run["status"] == "finished", run
    assert seen and seen[0] < run["steps_done"] and seen == sorted(seen), seen
    settle(page)
    page.locator(".st-key-holdout_verdict", has_text="Holdout verdict").wait_for()
    no_overflow(page, tmp_path / "research.png")


def test_markup_typed_by_the_user_is_shown_as_typed(page: Any, server: Up, tmp_path: Path):
    go(page, server)
    typed = "<b>bold?</b> **not bold** :red[plain] $x$ [link](http://example.com)"
    send(page, typed)
    mine = page.locator('[data-testid="stChatMessage"]').first
    assert mine.inner_text().strip().endswith(typed)
    content = mine.locator('[data-testid="stChatMessageContent"]')
    assert content.locator("b, strong, a, .katex").count() == 0, content.inner_html()


def test_an_api_error_is_a_readable_message_not_a_traceback(page: Any, server: Up):
    go(page, server, "trials?trial=trial_does_not_exist")
    alert = page.locator('[data-testid="stAlert"]').first
    alert.wait_for()
    assert "trial_does_not_exist" in alert.inner_text()
    body = page.locator('[data-testid="stApp"]').inner_text()
    assert "Traceback" not in body and 'File "' not in body


def test_no_page_overflows_the_screen(page: Any, server: Up, tmp_path: Path):
    for path in PAGES:
        go(page, server, path)
        no_overflow(page, tmp_path / f"page_{path or 'chat'}.png")


def test_a_legacy_zip_is_dry_run_then_imported(
    page: Any, server: Up, rest: httpx.Client, tmp_path: Path
):
    import json
    import zipfile

    chat = {
        "messages": [
            {"role": "user", "content": "old question", "timestamp": "2025-07-09T19:48:59"},
            {"role": "mltrainer", "content": "old answer", "timestamp": "2025-07-09T19:49:01"},
        ],
        "saved_at": "2025-07-09T19:49:02",
        "max_messages": 200,
    }
    archive = tmp_path / "logs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("logs/chat_history.json", json.dumps(chat))
    go(page, server, "migrate")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(archive)
    settle(page)
    importing = page.get_by_role("button", name="Import")
    assert importing.is_disabled()  # a dry run comes first
    page.get_by_role("button", name="Dry run").click()
    settle(page)
    page.locator(".st-key-migrate_report").wait_for()
    assert "nothing was imported" in page.locator('[data-testid="stMain"]').inner_text()
    assert importing.is_enabled()
    importing.click()
    settle(page)
    page.get_by_text("Imported.").wait_for()
    found = rest.get("/memory/search", params={"q": "old question"}).json()
    assert found["count"] >= 1
    no_overflow(page, tmp_path / "migrate.png")


def test_an_upload_with_its_vendor_shows_its_provenance(
    page: Any, server: Up, rest: httpx.Client, tmp_path: Path
):
    from mltrainer.app import App
    from mltrainer.settings import Settings

    with App(Settings(home=tmp_path / "export")) as app:  # real bundled prices, exported
        md = app.data.fetch("KO", start="2015-01-01", end="2016-12-31", actor="test")
    export = tmp_path / "ko_export.csv"
    md.frame.to_csv(export, index_label="date")
    symbol = f"KO{page.viewport_name.upper()}"
    go(page, server, "data")
    page.get_by_text("Upload your own data (CSV or Parquet)").click()
    form = page.locator('[data-testid="stMain"] [data-testid="stForm"]')
    form.locator('input[type="file"]').set_input_files(export)
    form.get_by_role("textbox", name="Symbol").fill(symbol)
    form.get_by_role("textbox", name="Vendor").fill("skfolio KO daily export")
    form.get_by_role("button", name="Upload", exact=True).click()
    settle(page)
    summary = page.locator(".st-key-upload_summary")
    summary.wait_for()
    stored = rest.get(f"/data/symbols/{symbol}", params={"source": "file"}).json()
    assert stored["rows"] == len(md.frame)
    assert stored["sha256"] in summary.inner_text()
    assert "skfolio KO daily export" in summary.inner_text()
    no_overflow(page, tmp_path / "upload.png")


def test_a_refused_request_is_shown_as_a_refusal(page: Any, server: Up, tmp_path: Path):
    go(page, server)
    reply = send(page, "generate fake prices for SPX and train on them")
    alert = reply.locator('[data-testid="stAlert"]', has_text="Refused")
    alert.wait_for()
    assert reply.locator('[class*="st-key-card_"]').count() == 0  # nothing was run
    no_overflow(page, tmp_path / "refused.png")
