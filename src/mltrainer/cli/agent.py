"""``mltrainer chat|ask|goal|memory|bridge``: talking to the mlTrainer agent."""

from __future__ import annotations

import sys

import typer
from rich.panel import Panel
from rich.table import Table

from ..errors import MLTrainerError
from ._common import (
    add_row,
    console,
    err_console,
    fold_progress,
    make_app,
    plain,
    print_json,
    require_message_size,
    safe,
)

goal_app = typer.Typer(help="The research goal.", no_args_is_help=True)
memory_app = typer.Typer(help="The unified memory.", no_args_is_help=True)
bridge_app = typer.Typer(
    help="Check what the bridge reads from a model's reply.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)
    app.command("ask")(ask)
    app.add_typer(goal_app, name="goal")
    app.add_typer(memory_app, name="memory")
    app.add_typer(bridge_app, name="bridge")


def _conversation():
    from ..agent.session import open_conversation

    return open_conversation(make_app())


def _show_reply(reply) -> None:
    from rich.markdown import Markdown  # markdown-it: loaded only when a reply is shown

    console.print(
        Panel(
            Markdown(plain(reply.text) or "(no reply)", hyperlinks=False),
            title="mlTrainer",
            border_style="cyan",
        )
    )
    for f in reply.flags:
        console.print(f"[yellow]unverified number:[/] {safe(f)}")


def _send(conv, text: str):
    """Send one message, showing the model's text as it streams in and a progress bar
    over the folds of any trial it runs (a transient display on stderr); the finished
    reply is then printed whole by the caller."""
    from rich.console import Group
    from rich.live import Live
    from rich.text import Text

    prog = fold_progress()
    task = prog.add_task("thinking", total=None)
    streamed: list[str] = []

    def view() -> Group:
        text_so_far = "".join(streamed)
        if not text_so_far:
            return Group(prog)
        return Group(Panel(Text(plain(text_so_far)), title="mlTrainer", border_style="dim"), prog)

    with Live(view(), console=err_console, transient=True, refresh_per_second=8) as live:

        def on_text(delta: str) -> None:
            streamed.append(delta)
            live.update(view())

        def on_action(name: str, params: dict) -> None:
            label = params.get("model_id") or ", ".join(params.get("model_ids") or [])
            desc = f"{name} {label} {params.get('symbol', '')}".strip()
            prog.update(task, description=desc, completed=0, total=None)
            streamed.append("\n")

        def on_fold(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        conv.executor.on_fold = on_fold
        try:
            return conv.send(text, on_action=on_action, on_text=on_text)
        finally:
            conv.executor.on_fold = None


def _ensure_workers(conv, quiet: bool = False) -> None:
    """Queued run steps and no live worker: start one in the background (it exits when
    idle), so chat/ask need no second command. MLTRAINER_EMBEDDED_WORKERS=false: never."""
    from ..runs.worker import ensure_workers

    try:
        pid = ensure_workers(conv.executor.app)
    except Exception as e:  # the reply is already shown; workers can be started by hand
        err_console.print(f"[yellow]no background worker started:[/] {safe(e)}")
        return
    if pid is not None and not quiet:
        err_console.print(
            f"started a background worker (pid {pid}) for the queued run steps; "
            f"log in {safe(conv.executor.app.settings.home / 'logs')}"
        )


def chat() -> None:
    """Interactive chat with the agent (type 'exit' to leave). Reads lines from standard
    input when it is not a terminal, so it can be scripted."""
    conv = _conversation()
    prov = getattr(conv.provider, "name", type(conv.provider).__name__)
    goal = conv.goals.current()
    console.print(
        Panel(
            f"mlTrainer agent ({safe(prov)} provider). Goal: {safe(goal.text) if goal else 'none yet'}\n"
            "Try: 'which symbols can I use?', 'train a random forest on AAPL with a 10 day horizon', "
            "'set goal: momentum model for SPX with Sharpe above 1 over 7-12 days'. Type 'exit' to quit.",
            border_style="green",
        )
    )
    interactive = sys.stdin.isatty()
    while True:
        try:
            text = console.input("[bold green]you> [/]") if interactive else sys.stdin.readline()
        except EOFError:
            break
        if not interactive and text == "":
            break
        text = text.strip()
        if not text:
            continue
        if text.lower() in ("exit", "quit", ":q"):
            break
        if not interactive:
            console.print(f"[bold green]you>[/] {safe(text)}")
        try:
            _show_reply(_send(conv, text))
            _ensure_workers(conv)
        except MLTrainerError as e:  # a provider or data failure ends the turn, not the chat
            err_console.print(f"[bold red]error:[/] {safe(e)}")


def ask(
    text: str = typer.Argument(..., help="One message to the agent."),
    as_json: bool = typer.Option(
        False, "--json", help="Print the reply, actions and results as JSON."
    ),
) -> None:
    """One-shot question to the agent. Exit 0 when answered, 1 when the request was
    refused (as ``compliance check``), 2 when it is longer than MLTRAINER_MAX_MESSAGE_BYTES."""
    require_message_size(text)
    conv = _conversation()
    if as_json:
        reply = conv.send(text)
        print_json(reply.model_dump(mode="json"))
        _ensure_workers(conv, quiet=True)
    else:
        reply = _send(conv, text)
        _show_reply(reply)
        _ensure_workers(conv)
    raise typer.Exit(1 if reply.refused else 0)


def _goals():
    from ..goals import GoalSystem

    app = make_app()
    return GoalSystem(app.engine, app.gateway, app.audit, resolve_symbol=app.data.lookup_symbol)


@goal_app.command("set")
def goal_set(text: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Set the goal, e.g. 'momentum on SPX, Sharpe above 1.5, drawdown under 5%, 7-12 days'."""
    require_message_size(text, "goal")
    g = _goals().set_goal(text, user="cli")
    if as_json:
        print_json(g.model_dump(mode="json"))
        return
    console.print(f"[green]goal set[/] {safe(g.id)}: {safe(g.text)}")
    for line in g.components.describe():
        console.print(f"  {safe(line)}")


@goal_app.command("show")
def goal_show(as_json: bool = typer.Option(False, "--json")) -> None:
    """The goal in force."""
    g = _goals().current()
    if as_json:
        print_json(g.model_dump(mode="json") if g else None)
        return
    if g is None:
        console.print("no goal set; use: mltrainer goal set '...'")
        return
    console.print(
        f"[bold]{safe(g.id)}[/] (set {g.created_at} by {safe(g.created_by)}): {safe(g.text)}"
    )
    for line in g.components.describe():
        console.print(f"  {safe(line)}")


@goal_app.command("history")
def goal_history(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every goal, newest first."""
    hist = _goals().history()
    if as_json:
        print_json([g.model_dump(mode="json") for g in hist])
        return
    t = Table(title=f"{len(hist)} goals")
    for c in ("id", "status", "created", "text"):
        t.add_column(c, overflow="fold")
    for g in hist:
        add_row(t, g.id, g.status, str(g.created_at)[:19], g.text)
    console.print(t)


def _memory():
    from ..memory import UnifiedMemory
    from ..models.registry import build_registry

    app = make_app()
    return UnifiedMemory(
        app.engine,
        known_models=build_registry().ids(),
        resolve_symbol=app.data.lookup_symbol,
        scrub=app.scrub,
    )


@memory_app.command("search")
def memory_search(
    query: str,
    k: int = typer.Option(10, "-k", min=1, max=1000, help="How many results (1-1000)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Full-text search over every stored message (BM25 ranking)."""
    require_message_size(query, "query")
    hits = _memory().search(query, k=k)
    if as_json:
        print_json([{**m.model_dump(mode="json"), "score": s} for m, s in hits])
        return
    t = Table(title=f"{len(hits)} results for '{safe(query)}'")
    for c in ("score", "role", "ts", "content", "topics"):
        t.add_column(c, overflow="fold")
    for m, s in hits:
        add_row(t, f"{s:.3f}", m.role, str(m.ts)[:19], m.content[:200], ", ".join(m.topics[:6]))
    console.print(t)


@memory_app.command("stats")
def memory_stats(as_json: bool = typer.Option(False, "--json")) -> None:
    """Counts by role and topic, and the importance distribution."""
    st = _memory().stats()
    if as_json:
        print_json(st)
        return
    for k, v in st.items():
        console.print(f"[bold]{safe(k)}[/]: {safe(v)}")


@bridge_app.command("parse")
def bridge_parse() -> None:
    """Read a model reply on standard input; print the parsed actions and errors as JSON."""
    from ..agent.bridge import Bridge
    from ..models.registry import build_registry

    text = sys.stdin.read()
    if not text.strip():
        err_console.print("[red]error:[/] nothing on standard input")
        raise typer.Exit(2)
    app = make_app()
    from ..financial import FINANCIAL

    res = Bridge(
        model_ids=build_registry().ids(),
        resolve_symbol=app.data.lookup_symbol,
        financial_ids=list(FINANCIAL),
    ).parse(text)
    print_json(res.model_dump(mode="json"))
