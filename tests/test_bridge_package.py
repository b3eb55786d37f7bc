"""The bridge as a package (one module per input form, one shared readers module) and the
agent's import graph: no circle between the offline planner and the providers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import mltrainer.agent.bridge as bridge_pkg

AGENT = Path(bridge_pkg.__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    """Modules imported anywhere in ``path`` (relative imports as written, ``.x``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            out.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_the_public_names_are_importable_from_the_package():
    from mltrainer.agent.bridge import (  # noqa: F401
        KNOWN_ACTIONS,
        ActionRequest,
        Bridge,
        BridgeError,
        ParseResult,
    )

    assert set(bridge_pkg.__all__) >= {
        "KNOWN_ACTIONS",
        "ActionRequest",
        "BridgeError",
        "ParseResult",
        "Bridge",
    }


def test_the_bridge_is_split_by_input_form_with_one_readers_module():
    here = Path(bridge_pkg.__file__).parent
    modules = {p.stem for p in here.glob("*.py")}
    assert {"tool_calls", "json_blocks", "key_value", "prose", "readers"} <= modules
    assert not (AGENT / "bridge.py").exists()


def test_the_planner_reads_with_the_bridge_readers():
    planner = AGENT / "planner"
    users = [p.name for p in planner.glob("*.py") if "..bridge.readers" in _imports(p)]
    assert users, "the planner must reuse mltrainer.agent.bridge.readers"
    for form in ("tool_calls", "json_blocks", "key_value", "prose"):
        assert ".readers" in _imports(AGENT / "bridge" / f"{form}.py")


def test_offline_and_providers_do_not_import_each_other_at_module_level():
    offline = _imports(AGENT / "offline.py")
    assert ".providers" not in offline
    assert ".messages" in offline
    tree = ast.parse((AGENT / "providers.py").read_text())
    top_level = {
        "." * n.level + (n.module or "") for n in tree.body if isinstance(n, ast.ImportFrom)
    }
    assert ".offline" not in top_level


def test_the_transcript_types_are_the_same_objects_from_both_modules():
    from mltrainer.agent import messages, providers

    for name in ("Message", "ToolCall", "ToolSpec", "ProviderResponse", "Provider"):
        assert getattr(providers, name) is getattr(messages, name)


def test_importing_the_planner_loads_no_scikit_learn():
    code = (
        "import sys; import mltrainer.agent.offline, mltrainer.agent.planner; "
        "print(any(m == 'sklearn' or m.startswith('sklearn.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_training_corpus_ships_inside_the_package():
    corpus = AGENT / "planner" / "corpus"
    files = sorted(p.name for p in corpus.glob("*.txt"))
    from mltrainer.agent.planner import INTENTS

    assert files == sorted(f"{i}.txt" for i in INTENTS)
    # files under src/mltrainer go into the wheel unless excluded: none of these is
    root = AGENT.parents[2]
    pyproject = (root / "pyproject.toml").read_text()
    assert 'packages = ["src/mltrainer"]' in pyproject
    assert "exclude" not in pyproject.split("[tool.hatch.build.targets.wheel]")[1].split("[")[0]
