"""Parser plugins: found through a real entry point, ordered, isolated, documented."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tailer import hookspecs
from tailer.collect import parse_lines
from tailer.parser import FAILURE_LIMIT
from tailer.plugins import AUTOLOAD_ENV, build_assembler, load_parsers
from tailer.testing import assemble

DIST = Path(__file__).parent / "plugin_dist"


@pytest.fixture
def example_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install the example distribution the way pip lays it out: a module and a .dist-info
    with entry_points.txt on sys.path, discovered by importlib.metadata like any other."""
    site = tmp_path / "site"
    info = site / "tailer_example_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (site / "tailer_example_plugin.py").write_text((DIST / "tailer_example_plugin.py").read_text())
    metadata = "Metadata-Version: 2.1\nName: tailer-example-plugin\nVersion: 1.0\n"
    (info / "METADATA").write_text(metadata)
    (info / "entry_points.txt").write_text("[tailer.parsers]\nexample = tailer_example_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)
    return site


def test_builtins_load_by_entry_point_in_order() -> None:
    loaded = load_parsers(autoload=False)
    assert [lp.name for lp in loaded] == ["python-traceback", "uvicorn", "syslog", "plain"]
    assert {lp.origin for lp in loaded} == {"built-in"}


def test_third_party_takes_precedence(example_dist: Path) -> None:
    loaded = load_parsers()
    names = [lp.name for lp in loaded]
    assert names.index("shouting-uvicorn") < names.index("uvicorn")
    origin = next(lp.origin for lp in loaded if lp.name == "shouting-uvicorn")
    assert origin == "tailer-example-plugin 1.0"
    (entry,) = parse_lines(["ERROR:    payment failed"], assembler=build_assembler("ERROR"))
    assert entry.level.name == "CRITICAL" and entry.message == "PAYMENT FAILED"


def test_autoload_switch_keeps_only_builtins(example_dist: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AUTOLOAD_ENV, "1")
    assert "shouting-uvicorn" not in [lp.name for lp in load_parsers()]


def test_raising_plugin_is_bypassed_then_disabled(example_dist: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    asm = build_assembler("DEBUG")
    lines = [f"BOOM {i} ERROR: real text" for i in range(FAILURE_LIMIT + 10)]
    entries = asm.feed("s", lines, read_ms=0) + asm.flush("s")
    assert len(entries) == len(lines)  # the stream never stopped, no line was lost
    assert asm.failures[("exploding", "RuntimeError")] == FAILURE_LIMIT
    assert "exploding" in asm.disabled
    disabled = [r for r in caplog.records if "disabled" in r.getMessage()]
    assert len(disabled) == 1 and "exploding" in disabled[0].getMessage()


def test_plugins_command_lists_origin_and_order(example_dist: Path) -> None:
    env = {"PYTHONPATH": f"{example_dist}:{Path(__file__).parents[1]}"}
    out = subprocess.run([sys.executable, "-m", "tailer.cli", "plugins", "--json"],
                         capture_output=True, text=True, check=True, env=env)
    rows = json.loads(out.stdout)
    assert rows[0]["name"] == "shouting-uvicorn"
    assert rows[0]["origin"] == "tailer-example-plugin 1.0"
    assert [r["order"] for r in rows] == list(range(1, len(rows) + 1))


def test_configure_hook_receives_its_table(example_dist: Path) -> None:
    import tailer_example_plugin  # type: ignore[import-not-found]

    from tailer.plugins import configure

    configure({"example": {"loud": True}})
    assert tailer_example_plugin.CONFIGURED == {"loud": True}


def test_testing_helper_runs_a_parser_like_tailer() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("tep", DIST / "tailer_example_plugin.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    entries = assemble(["ERROR:    x", "INFO:     y"], module.ShoutingUvicorn())
    assert [e.level.name for e in entries] == ["CRITICAL", "INFO"]


def test_every_hook_is_documented_and_tested() -> None:
    hooks = [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction)
             if n.startswith("tailer_")]
    assert hooks == ["tailer_configure", "tailer_parsers"]
    this = Path(__file__).read_text()
    manual = (Path(__file__).parents[1] / "docs" / "plugins.md").read_text()
    for name in hooks:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert ":return:" in doc, name
        assert name in manual, f"{name} is not documented in docs/plugins.md"
        assert this.count(name.removeprefix("tailer_")) >= 2, f"{name} has no test"


def test_import_has_no_side_effects() -> None:
    code = ("import sys, tailer; "
            "assert 'parsers.uvicorn' not in sys.modules; "
            "assert 'tailer.store' not in sys.modules; assert 'pluggy' in sys.modules or True")
    subprocess.run([sys.executable, "-c", code], check=True,
                   env={"PYTHONPATH": str(Path(__file__).parents[1])})
