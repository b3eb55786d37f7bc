"""Turn a language-model reply into validated action requests.

The bridge never executes anything. :meth:`Bridge.parse` returns data -- a list of
:class:`ActionRequest` and a list of :class:`BridgeError` -- and the caller decides what
to run.

Parsing order
-------------
A reply is read in tiers. The first tier that yields anything (an action *or* an error)
wins and later tiers are not consulted, so one trial written twice (a JSON block and a
sentence describing it) never turns into two actions:

1. **Tool calls**: Anthropic ``tool_use`` blocks, OpenAI ``tool_calls`` and the older
   ``function_call``. When a reply has tool calls its text is returned but not parsed.
2. **JSON**: fenced `````json`` blocks, labelled objects (``TRIAL_CONFIG = {...}``,
   ``TRIAL_CONFIGURATION {...}``, ``TRIAL_PARAMETERS: {...}``) and bare ``{...}``
   objects. A small tokenizer accepts ``//`` and ``/* */`` comments, trailing commas,
   single-quoted strings, unquoted keys and Python literals, rewrites them as strict
   JSON and hands that to :func:`json.loads`. Nothing is evaluated.
3. **key: value lines**: ``Symbol: AAPL``, ``Model: random_forest``, ``Horizon: 10 days``.
4. **Prose**: "a trial on AAPL using the LSTM model", "set the train_ratio to 0.75",
   "compare lightgbm, ridge and random forest on SPX".

A JSON or key/value block that gives parameters but lacks the symbol or the model may
borrow it from the prose around it, and only if the prose names exactly one.

Why prose matching is conservative
----------------------------------
The predecessor read the symbol ``FOR`` out of "for AAPL" and the model ``on`` out of a
sentence, and users trained nonsense. Here prose only ever yields:

* symbols: upper-case tokens that the catalogue resolver knows. Stop words (FOR, THE, ON,
  USING, I, A...) and model names (LSTM, GARCH...) are never looked up, and other
  upper-case words are ignored without comment;
* models: registry ids and a small alias table, matched on whole words (longest first),
  or the name in a phrase such as "using the XYZ model";
* an action only when the text also shows intent (trial, train, backtest, compare...),
  and names exactly one symbol and one model (or, for "compare", several models).

Anything ambiguous becomes a :class:`BridgeError` rather than a guess. Values given
explicitly (tool input, JSON, key: value) are held to a stricter standard: an unknown
symbol or model there is always an error with suggestions.

Two more guards keep reports from turning into requests: a sentence that pairs a metric
with a past-tense verb ("the ridge trial on SPX finished with a Sharpe of 0.4") shows no
intent, and a JSON object or key: value block with result keys (sharpe, metrics...) is
skipped. Code fences in a programming language (```python) are not read as key: value
lines or prose; JSON inside them still is.

Parameters are normalised the same way in every tier: ``train_ratio`` and ``stop_loss``
are fractions in (0, 1) ("1.5%" -> 0.015; 75 is refused with the hint 0.75), ``lookback``,
``epochs`` and ``horizon`` positive whole numbers of days/bars, dates ISO strings (a bare
year means 1 January / 31 December), timeframes ``[{"min", "max", "unit"}]``. When a tool
schema is given it has the last word; model hyper-parameters it does not declare
(lookback, epochs, learning_rate) are moved into its ``params`` mapping if it has one.

Modules
-------
One module per input form, and one for the readers they share with the offline planner:
:mod:`.tool_calls` (tier 1 and the shapes a reply comes in), :mod:`.json_blocks` (tier 2),
:mod:`.key_value` (tier 3), :mod:`.prose` (tier 4), :mod:`.fields` (the keys of one
mapping, shared by tiers 1-3), :mod:`.readers` (symbols, models, numbers, dates) and
:mod:`.core` (the :class:`Bridge` that runs the tiers).
"""

from .core import Bridge
from .readers import Invalid, Vocabulary
from .results import KNOWN_ACTIONS, ActionRequest, BridgeError, ParseResult

__all__ = [
    "KNOWN_ACTIONS",
    "ActionRequest",
    "BridgeError",
    "ParseResult",
    "Bridge",
    "Vocabulary",
    "Invalid",
]
