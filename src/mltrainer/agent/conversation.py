"""The conversation loop: prompt, provider, bridge, executor, memory, audit.

``Conversation.send(text)`` checks the text with the compliance gateway, recalls memory,
builds the system prompt (role, goal, rules, catalogue, recalled memory) and runs a tool
loop with a step limit: each tool call is validated by the bridge and executed by the
executor (which checks parameters with the gateway and audits the action); failures go
back to the model as ``is_error`` tool results. The final reply's metric numbers are
checked against the results produced in the conversation. Provider errors are raised as
:class:`~mltrainer.errors.ProviderError`, never fed back as if the model had said them.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ..errors import MLTrainerError
from ..executor.actions import Action
from .bridge import Bridge
from .numbers import check_numbers
from .prompt import build_system_prompt
from .providers import Message, Provider
from .tools import derive_tools

if TYPE_CHECKING:
    from ..executor import UnifiedExecutor
    from ..goals import GoalSystem
    from ..memory import UnifiedMemory

__all__ = ["Conversation", "Reply", "ActionRecord"]

log = logging.getLogger(__name__)


class ActionRecord(BaseModel):
    name: str
    params: dict[str, Any]
    success: bool
    error: str | None = None
    data: Any = None


class Reply(BaseModel):
    text: str
    actions: list[ActionRecord] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    goal_id: str | None = None
    refused: bool = False


# A reply that approves the plan proposed in the previous turn.
_YES_RE = re.compile(
    r"\s*(?:yes|y|yep|yeah|ok|okay|approve(?:d)?|go(?:\s+ahead)?|run\s+it|do\s+it)"
    r"(?:\s*(?:please|,?\s*(?:go|run)\s+(?:ahead|it)))?[\s.!]*",
    re.I,
)
_ENDED_RUN = ("finished", "cancelled")


class _SetGoal(BaseModel):
    text: str = Field(description="the research goal in plain words")


class _NoParams(BaseModel):
    pass


class _EvaluateGoal(BaseModel):
    trial_id: str | None = Field(None, description="default: every finished trial under the goal")


class _SearchMemory(BaseModel):
    query: str
    k: int = Field(5, ge=1, le=20)


class Conversation:
    def __init__(
        self,
        executor: UnifiedExecutor,
        provider: Provider,
        goals: GoalSystem,
        memory: UnifiedMemory,
        *,
        max_steps: int = 8,
        user: str = "user",
    ):
        self.executor = executor
        self.provider = provider
        self.goals = goals
        self.memory = memory
        self.max_steps = max_steps
        self.user = user
        self.id = f"conv_{uuid.uuid4().hex[:10]}"
        self.messages: list[Message] = []
        self._results: list[Any] = []
        self._turn_message_id: int | None = None
        self._watched: list[str] = []
        """Background runs started or proposed in this conversation (announced when done)."""
        self._announced: set[str] = set()
        self._pending_plan: str | None = None
        """The proposed plan run a "yes" approves."""
        self._register_agent_actions()
        current = goals.current()
        executor.goal_id = current.id if current else None
        self.tools = derive_tools(executor)
        self.bridge = Bridge(
            model_ids=executor.registry.ids(),
            resolve_symbol=executor.app.data.lookup_symbol,
            financial_ids=list(executor.financial.FINANCIAL),
            tool_schemas={t.name: executor.actions[t.name].params for t in self.tools},
            model_params={s.id: list(s.defaults) for s in executor.registry},
        )

    # -- agent-layer actions (goals and memory live above the executor) ---------------------
    def _register_agent_actions(self) -> None:
        ex = self.executor
        if "set_goal" in ex.actions:
            return
        ex.register(
            Action(
                "set_goal",
                "Set the research goal (timeframes, metric constraints, symbols, models).",
                _SetGoal,
                self._set_goal,
            )
        )
        ex.register(
            Action(
                "get_goal",
                "The goal in force and its parsed components.",
                _NoParams,
                self._get_goal,
            )
        )
        ex.register(
            Action(
                "evaluate_goal",
                "Whether finished trials meet the goal, constraint by constraint.",
                _EvaluateGoal,
                self._evaluate_goal,
            )
        )
        ex.register(
            Action(
                "search_memory",
                "Search earlier messages and results.",
                _SearchMemory,
                self._search_memory,
            )
        )

    def _set_goal(self, p: _SetGoal) -> dict[str, Any]:
        goal = self.goals.set_goal(p.text, user=self.user)
        self.executor.goal_id = goal.id
        self.memory.add(
            "system",
            f"goal set: {goal.text}",
            goal_id=goal.id,
            conversation_id=self.id,
            metadata={"kind": "goal"},
        )
        return {"goal_id": goal.id, "text": goal.text, "components": goal.components.model_dump()}

    def _get_goal(self, _p: _NoParams) -> dict[str, Any]:
        goal = self.goals.current()
        if goal is None:
            return {"goal": None}
        return {"goal_id": goal.id, "text": goal.text, "components": goal.components.model_dump()}

    def _evaluate_goal(self, p: _EvaluateGoal) -> dict[str, Any]:
        from ..errors import NotFound

        goal = self.goals.current()
        if goal is None:
            raise NotFound(
                "no goal is set; set one first (e.g. 'set goal: Sharpe above 1 over 7-12 days')"
            )
        store = self.executor.store
        rows = (
            [store.get(p.trial_id)]
            if p.trial_id
            else [
                store.get(r["id"])
                for r in store.list(limit=200, goal_id=goal.id)
                if r["status"] == "done"
            ]
        )
        if not rows:
            raise NotFound(f"no finished trials under goal {goal.id} yet; train a model first")
        out = []
        for row in rows:
            res = row.get("result") or {}
            ev = goal.evaluate(
                res.get("metrics", {}), horizon=(row.get("spec") or {}).get("horizon")
            )
            out.append(
                {
                    "trial_id": row["id"],
                    "model_id": row["model_id"],
                    "symbol": row["symbol"],
                    **ev.model_dump(),
                }
            )
        return {
            "goal_id": goal.id,
            "goal": goal.text,
            "met_by": [o["trial_id"] for o in out if o["met"]],
            "evaluations": out,
        }

    def _search_memory(self, p: _SearchMemory) -> dict[str, Any]:
        # The question being asked right now is not an answer to itself.
        hits = [
            (m, s)
            for m, s in self.memory.search(p.query, k=p.k + 1)
            if m.id != self._turn_message_id
        ][: p.k]
        return {
            "query": p.query,
            "results": [
                {
                    "id": m.id,
                    "role": m.role,
                    "ts": str(m.ts),
                    "content": m.content[:500],
                    "topics": m.topics,
                    "score": s,
                }
                for m, s in hits
            ],
        }

    # -- the loop ---------------------------------------------------------------------------
    def _system_prompt(self, text: str) -> str:
        data = self.executor.app.data
        cat = data.catalogue()
        kinds: dict[str, list[str]] = {}
        for e in cat:
            kinds.setdefault(e.kind, []).append(e.symbol)
        catalogue = "; ".join(f"{k}: {', '.join(v)}" for k, v in kinds.items())
        reg = self.executor.registry
        families = ", ".join(f"{f} ({len(reg.filter(family=f))})" for f in reg.families())
        models = f"{len(reg)} trainable models in families {families}; financial models: {', '.join(self.executor.financial.FINANCIAL)}"
        context = self.memory.build_context(text, token_budget=800)
        return build_system_prompt(
            goal=self.goals.current(),
            allowed_sources=self.executor.app.policy.allowed_sources,
            catalogue_summary=catalogue,
            model_summary=models,
            memory_context=context,
        )

    def send(self, text: str, on_text=None, on_action=None) -> Reply:
        """One user turn. ``on_action(name, params)`` is called before each action runs.

        Text longer than ``max_message_bytes`` raises InputError before anything is stored."""
        app = self.executor.app
        app.settings.require_message_size(text)
        goal = self.goals.current()
        gid = goal.id if goal else None
        decision = app.gateway.check_text(text, actor=self.user)
        if not decision.allowed:
            self.memory.add(
                "user",
                text,
                goal_id=gid,
                conversation_id=self.id,
                compliance_flags=[decision.reason],
            )
            reply = Reply(text=f"I can't do that: {decision.reason}", goal_id=gid, refused=True)
            self.memory.add(
                "assistant",
                reply.text,
                goal_id=gid,
                conversation_id=self.id,
                compliance_flags=[decision.reason],
            )
            return reply
        self._turn_message_id = self.memory.add(
            "user", text, goal_id=gid, conversation_id=self.id
        ).id
        news = self._announcements()
        if self._pending_plan is not None and _YES_RE.fullmatch(text):
            return self._approve_plan(text, news, gid)
        self._pending_plan = None  # anything but a yes leaves the plan proposed, unapproved
        system = self._system_prompt(text)
        self.messages.append(Message(role="user", content=text))
        records: list[ActionRecord] = []
        final_text = ""
        for _step in range(self.max_steps):
            resp = self.provider.complete(system, self.messages, self.tools, on_text=on_text)
            blocks: list[dict[str, Any]] = (
                [{"type": "text", "text": resp.text}] if resp.text else []
            )
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                for c in resp.tool_calls
            ]
            if not resp.tool_calls:
                final_text = resp.text
                self.messages.append(Message(role="assistant", content=resp.text))
                break
            self.messages.append(
                Message(role="assistant", content=resp.text, tool_calls=resp.tool_calls)
            )
            parsed = self.bridge.parse(blocks)
            answered: set[str] = set()
            for err in parsed.errors:
                if err.tool_use_id and err.tool_use_id not in answered:
                    msg = err.message + (
                        f" (suggestions: {', '.join(err.suggestions)})" if err.suggestions else ""
                    )
                    self.messages.append(
                        Message(
                            role="tool", content=msg, tool_call_id=err.tool_use_id, is_error=True
                        )
                    )
                    answered.add(err.tool_use_id)
                    records.append(
                        ActionRecord(name="(invalid)", params={}, success=False, error=msg)
                    )
            for act in parsed.actions:
                if act.tool_use_id in answered:
                    continue
                if on_action:
                    on_action(act.action, act.params)
                res = self.executor.execute(act.action, act.params, actor="agent")
                records.append(
                    ActionRecord(
                        name=act.action,
                        params=act.params,
                        success=res["success"],
                        error=res["error"],
                        data=res["data"],
                    )
                )
                content = json.dumps(
                    res["data"] if res["success"] else {"error": res["error"]}, default=str
                )
                self.messages.append(
                    Message(
                        role="tool",
                        content=content,
                        tool_call_id=act.tool_use_id,
                        is_error=not res["success"],
                    )
                )
                answered.add(act.tool_use_id or "")
                if res["success"]:
                    self._results.append(res["data"])
                    self._remember_result(act.action, act.params, res["data"], gid)
                    if act.action == "start_research":
                        self._watched.append(res["data"]["run_id"])
                else:
                    self.memory.add(
                        "tool_result",
                        f"{act.action} failed: {res['error']}",
                        goal_id=gid,
                        conversation_id=self.id,
                        metadata={"action": act.action},
                    )
            for call in resp.tool_calls:  # every call gets an answer, even unparseable ones
                if call.id not in answered:
                    self.messages.append(
                        Message(
                            role="tool",
                            content=f"tool call {call.name} could not be read",
                            tool_call_id=call.id,
                            is_error=True,
                        )
                    )
        else:
            final_text = (final_text or "") + f"\n(stopped after {self.max_steps} tool steps)"
        final_text = "\n\n".join([*news, final_text + self._propose_plans(final_text, gid)])
        goal = self.goals.current()
        flags = check_numbers(final_text, self._results, given=[text, goal.text if goal else ""])
        reply = Reply(
            text=final_text, actions=records, flags=flags, goal_id=goal.id if goal else None
        )
        self.memory.add(
            "assistant",
            final_text,
            goal_id=reply.goal_id,
            conversation_id=self.id,
            metadata={"flags": flags},
        )
        app.audit.append(
            "chat.reply",
            {"conversation": self.id, "actions": [r.name for r in records], "flags": flags},
            actor="agent",
        )
        self.messages = self.messages[-40:]
        return reply

    # -- background runs ------------------------------------------------------------------------
    def _announcements(self) -> list[str]:
        """One line per watched run that ended since the last turn (read from its rows)."""
        from ..research.report import summary_text
        from ..runs.store import brief_run

        out = []
        for run_id in self._watched:
            if run_id in self._announced:
                continue
            run = self.executor.runs.get(run_id)
            if run["status"] in _ENDED_RUN:
                self._announced.add(run_id)
                brief = {**brief_run(run), "summary": run.get("summary")}
                self._results.append(brief)  # the figures announced are results
                out.append("Background run done. " + summary_text(brief))
        return out

    def _propose_plans(self, text: str, gid: str | None) -> str:
        """A reply proposing several steps becomes one proposed run (see agent/plans.py);
        returns what to add to the reply: the steps and how to approve them."""
        if not text.strip():
            return ""
        plans = self.bridge.parse(text).plans
        if not plans:
            return ""
        plan = plans[0]
        auto = self.executor.app.settings.auto_approve
        try:
            run_id = self.executor.runs.create_run(
                "plan",
                plan.run_steps(),
                owner=self.user,
                goal_id=gid,
                config={"description": plan.describe(), "conversation": self.id},
                approved=auto,
            )
        except MLTrainerError as e:
            return f"\n\nThe proposed plan could not be stored: {e}"
        self._watched.append(run_id)
        self._results.append(plan.model_dump())
        if auto:
            how = f"Queued as {run_id} (MLTRAINER_AUTO_APPROVE is on); workers run it now."
        else:
            self._pending_plan = run_id
            how = (
                f"Proposed as {run_id}: nothing runs until you approve it. Say 'yes', or run "
                f"'mltrainer run approve {run_id}'."
            )
        return f"\n\n{plan.describe()}\n{how}"

    def _approve_plan(self, said: str, news: list[str], gid: str | None) -> Reply:
        run_id, self._pending_plan = self._pending_plan, None
        assert run_id is not None
        runs = self.executor.runs
        try:
            runs.approve(run_id, actor=self.user)
            run = runs.get(run_id)
            text = (
                f"Approved {run_id}: {run['steps_total']} steps queued; workers run them in "
                "the background. I will say when it is done; ask 'how is the run going?'."
            )
            record = ActionRecord(name="approve_run", params={"run_id": run_id}, success=True)
        except MLTrainerError as e:
            text = f"Could not approve {run_id}: {e}"
            record = ActionRecord(
                name="approve_run", params={"run_id": run_id}, success=False, error=str(e)
            )
        text = "\n\n".join([*news, text])
        self.messages.append(Message(role="user", content=said))
        self.messages.append(Message(role="assistant", content=text))
        self.memory.add("assistant", text, goal_id=gid, conversation_id=self.id)
        self.executor.app.audit.append(
            "chat.reply",
            {"conversation": self.id, "actions": ["approve_run"], "flags": []},
            actor="agent",
        )
        return Reply(text=text, actions=[record], goal_id=gid)

    def _remember_result(
        self, action: str, params: dict[str, Any], data: Any, gid: str | None
    ) -> None:
        self.memory.add(
            "tool_call",
            f"{action} {json.dumps(params, default=str)}",
            goal_id=gid,
            conversation_id=self.id,
            metadata={"action": action},
        )
        summary = json.dumps(data, default=str)
        if len(summary) > 4000:
            summary = summary[:4000] + "..."
        meta: dict[str, Any] = {"action": action}
        if isinstance(data, dict) and "metrics" in data:
            meta["metrics"] = data["metrics"]
        self.memory.add("tool_result", summary, goal_id=gid, conversation_id=self.id, metadata=meta)
