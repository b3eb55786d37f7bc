"""Chat with the mlTrainer agent: the reply streams in as it is written, each action is a
compact card (a trial links to its page), unverified numbers and refusals are shown as such.

The conversation id and the turns shown live in ``st.session_state`` (per browser tab).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from .. import nav
from ..client import ApiClient, ApiError
from ..common import api, code, guard, literal, model_markdown, num, pct
from ..schemas import ActionEvent, ChatAction, ChatReply, ProgressEvent, ReplyEvent, TextDelta

__all__ = ["render", "action_card"]

HISTORY = "chat_history"
CONVERSATION = "conversation_id"
EXAMPLE = "train ridge on SPX from 2010 to 2016"


def _trial_line(d: dict[str, Any]) -> str:
    m = d.get("metrics") or {}
    return " · ".join(
        [
            f"**{literal(d.get('model_id', '?'))}** on **{literal(d.get('symbol', '?'))}**",
            f"Sharpe {literal(num(m.get('sharpe')))}",
            f"max drawdown {literal(pct(m.get('max_drawdown')))}",
        ]
    )


def _trial_link(trial_id: str) -> None:
    st.caption(literal(trial_id))
    st.page_link(
        nav.page("trials"),
        label="Open the trial",
        icon=":material/open_in_new:",
        query_params={"trial": trial_id},
        help="Metrics, provenance, the equity chart and replay",
    )


def action_card(a: ChatAction, key: str) -> None:
    """One action the agent ran, in a few lines: what, on what, the headline numbers."""
    with st.container(border=True, key=f"card_{key}"):
        status = "done" if a.success else "failed"
        st.markdown(f"{code(a.name)} · {status}")
        d = a.data if isinstance(a.data, dict) else {}
        if not a.success:
            st.error(literal(a.error or "the action failed"))
        elif d.get("trial_id") and isinstance(d.get("metrics"), dict):
            st.markdown(_trial_line(d))
            _trial_link(str(d["trial_id"]))
        elif isinstance(d.get("ranking"), list):
            for i, row in enumerate(d["ranking"][:10]):
                if isinstance(row, dict) and row.get("trial_id"):
                    st.markdown(f"{i + 1}. {_trial_line(row)}")
                    _trial_link(str(row["trial_id"]))
        elif d.get("run_id"):
            st.markdown(
                f"run **{literal(d['run_id'])}** · {literal(d.get('status', ''))}"
                + (f" · {literal(d['symbol'])}" if d.get("symbol") else "")
            )
            st.page_link(
                nav.page("research"),
                label="Follow it on the Research page",
                icon=":material/science:",
                query_params={"run": str(d["run_id"])},
            )
        elif d:
            with st.expander("result"):
                st.json(d, expanded=False)


def _goal_caption(reply: ChatReply, goal_text: str | None) -> None:
    if reply.goal_id:
        shown = f"{goal_text} ({reply.goal_id})" if goal_text else reply.goal_id
        st.caption("Goal in context: " + literal(shown))


def show_reply(reply: ChatReply, goal_text: str | None, key: str, text_shown: bool) -> None:
    if not text_shown:
        st.markdown(model_markdown(reply.text))
    if reply.refused:
        st.error("Refused: this request was not carried out.", icon=":material/block:")
    for flag in reply.flags:
        st.warning("Unverified number: " + literal(flag), icon=":material/warning:")
    for i, a in enumerate(reply.actions):
        action_card(a, f"{key}_{i}")
    _goal_caption(reply, goal_text)


def _goal_text(client: ApiClient, goal_id: str | None) -> str | None:
    if not goal_id:
        return None
    try:
        g = client.goal()
        if g is not None and g.id == goal_id:
            return g.text
        for h in client.goal_history(limit=50).data:
            if h.id == goal_id:
                return h.text
    except ApiError:
        pass  # the caption then names the goal by id only
    return None


def _stream(client: ApiClient, prompt: str, conv_id: str | None) -> ChatReply:
    """Send ``prompt``; the text is written as it streams in, then replaced by the final
    reply's text (what the API stored, checked and scrubbed)."""
    activity = st.empty()
    got: dict[str, ChatReply] = {}

    def deltas() -> Any:
        for ev in client.chat_stream(prompt, conv_id):
            if isinstance(ev, TextDelta) and ev.delta:
                yield model_markdown(ev.delta)
            elif isinstance(ev, ActionEvent):
                activity.caption(f"running {literal(ev.name)}…")
            elif isinstance(ev, ProgressEvent):
                frac = min(1.0, ev.done / ev.total) if ev.total else 0.0
                activity.progress(frac, text=f"walk-forward folds {ev.done}/{ev.total}")
            elif isinstance(ev, ReplyEvent):
                got["reply"] = ev.reply

    text = st.empty()
    with text.container():
        st.write_stream(deltas())
    activity.empty()
    if "reply" not in got:
        raise ApiError(502, "incomplete reply", "the chat stream ended without a reply; try again")
    text.markdown(model_markdown(got["reply"].text))
    return got["reply"]


def _past_conversations(client: ApiClient) -> None:
    with st.expander("Past conversations"), guard("conversations"):
        convs = client.conversations().data
        if not convs:
            st.caption("None yet.")
            return
        by_id = {c.id: c for c in convs}

        def label(cid: str) -> str:
            c = by_id[cid]
            when = (c.last_at or "")[:16].replace("T", " ")
            return f"{c.id} · {c.messages} messages · {when}" + ("" if c.open else " · closed")

        chosen = st.selectbox("Conversation", list(by_id), format_func=label)
        if st.button("Show it", key="load_conversation") and chosen:
            msgs = client.conversation_messages(chosen).data
            st.session_state[HISTORY] = [
                {"role": m.role, "text": m.content, "flags": m.flags}
                for m in msgs
                if m.role in ("user", "assistant")
            ]
            # a closed one (the server restarted) is shown; the next message starts anew
            if by_id[chosen].open:
                st.session_state[CONVERSATION] = chosen
            else:
                st.session_state.pop(CONVERSATION, None)
            st.rerun()


def _replay_history() -> None:
    for i, entry in enumerate(st.session_state[HISTORY]):
        with st.chat_message(entry["role"]):
            if entry["role"] == "user":
                st.text(entry["text"])
            elif "reply" in entry:
                show_reply(
                    ChatReply.model_validate(entry["reply"]),
                    entry.get("goal_text"),
                    f"h{i}",
                    text_shown=False,
                )
            else:  # a message of an earlier conversation, as stored
                st.markdown(model_markdown(entry["text"]))
                for flag in entry.get("flags") or []:
                    st.warning("Unverified number: " + literal(flag), icon=":material/warning:")


def _send(client: ApiClient, prompt: str) -> None:
    history = st.session_state[HISTORY]
    history.append({"role": "user", "text": prompt})
    with st.chat_message("user"):
        st.text(prompt)
    with st.chat_message("assistant"), guard():
        conv_id = st.session_state.get(CONVERSATION)
        try:
            reply = _stream(client, prompt, conv_id)
        except ApiError as e:
            if not (e.status == 404 and conv_id and conv_id in e.detail):
                raise
            st.info("That conversation is no longer open on the server; starting a new one.")
            reply = _stream(client, prompt, None)
        st.session_state[CONVERSATION] = reply.conversation_id
        goal_text = _goal_text(client, reply.goal_id)
        key = f"h{len(history)}"
        show_reply(reply, goal_text, key, text_shown=True)
        history.append(
            {"role": "assistant", "reply": reply.model_dump(mode="json"), "goal_text": goal_text}
        )


def render() -> None:
    client = api()
    st.session_state.setdefault(HISTORY, [])
    head, new = st.columns([4, 1], vertical_alignment="bottom")
    head.title("Chat", anchor=False)
    if new.button("New", icon=":material/add:", help="Start a new conversation"):
        st.session_state[HISTORY] = []
        st.session_state.pop(CONVERSATION, None)
        st.rerun()
    # the input is pinned to the bottom wherever it is called; read it first so the
    # hint below is not shown on the run that sends the first message
    prompt = st.chat_input(f"Message mlTrainer, e.g. {EXAMPLE}", key="chat_prompt")
    _past_conversations(client)
    if not st.session_state[HISTORY] and not prompt:
        st.caption(f"Try: “{EXAMPLE}”, “what is my goal?”, or “compare ridge and lasso on KO”.")
    _replay_history()
    if prompt and prompt.strip():
        _send(client, prompt.strip())
