"""Configuration: the shipped example is valid and means the documented defaults; every bad
key or value stops start-up with a message naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tailer.config import (
    EXAMPLE_CONFIG,
    Config,
    ConfigError,
    FilesConfig,
    JournalConfig,
    LimitsConfig,
    load_config,
    parse_config,
)
from tailer.records import Level


def test_example_file_is_the_documented_defaults() -> None:
    config = load_config(EXAMPLE_CONFIG)
    assert config.store is None and config.min_level is Level.ERROR
    assert config.flush_timeout == 1.0 and config.dedup_window == 1.0
    assert config.journal == JournalConfig()
    assert config.files == (FilesConfig(paths=("/var/log/*.log",)),)
    assert config.limits == LimitsConfig()
    assert config.parsers == {}


def test_empty_file_means_defaults() -> None:
    config = parse_config({})
    assert config == Config(source="<dict>")


def test_files_as_array_of_tables(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        'min_level = "warn"\ndedup_window = 0\n'
        '[[files]]\npath = "/srv/a.log"\nstart_at_end = false\n'
        '[[files]]\npaths = ["/srv/b/*.log", "~/c.log"]\n'
        '[journal]\nenabled = true\nnamespace = "app"\nunits = ["web"]\n'
        '[parsers.uvicorn]\nanything = 1\n'
    )
    config = load_config(path)
    assert config.min_level is Level.WARNING and config.dedup_window is None
    assert config.files[0] == FilesConfig(paths=("/srv/a.log",), start_at_end=False)
    assert config.files[1].paths[0] == "/srv/b/*.log"
    assert not config.files[1].paths[1].startswith("~")
    assert config.journal.enabled is True and config.journal.units == ("web",)
    assert config.parsers == {"uvicorn": {"anything": 1}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[files]\npaths = ["a", "b", 3]\n', "files.paths[2]: expected a string, got 3"),
        ('flush_timout = 2\n', "flush_timout: unknown key"),
        ('flush_timeout = "1s"\n', "flush_timeout: expected a number, got '1s'"),
        ('flush_timeout = 0\n', "flush_timeout: must be between 0.01 and 3600.0, got 0"),
        ('min_level = "LOUD"\n', "min_level: unknown level 'LOUD'"),
        ('[journal]\nenabled = "yes"\n', 'journal.enabled: expected true, false or "auto"'),
        ('[journal]\nunit = ["a"]\n', "journal.unit: unknown key"),
        ('[journal]\nmatches = ["unit=a"]\n', "journal.matches[0]: 'unit=a' is not FIELD=value"),
        ('[journal]\nnamespace = "a"\ndirectory = "/x"\n', "journal: give at most one"),
        ('[limits]\nqueue_batches = 0\n', "limits.queue_batches: must be at least 1, got 0"),
        ('[limits]\nread_size = true\n', "limits.read_size: expected an integer, got true"),
        ('[[files]]\npaths = "x"\nfoo = 1\n', "files[0].foo: unknown key"),
        ('files = 3\n', "files: expected a table or an array of tables, got 3"),
        ('journal = []\n', "journal: expected a table, got an array"),
        ('store = 1\n', "store: expected a string, got 1"),
    ],
)
def test_bad_key_or_value_is_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_unreadable_or_invalid_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read configuration .*missing\.toml"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("store = \n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(bad)


def test_a_stage_section_is_validated_by_its_model_and_named_in_errors() -> None:
    """``[name]`` sections of later stages go through their pydantic model: defaults filled,
    types and ranges checked, unknown keys refused, the key named in the error."""
    from pydantic import BaseModel, ConfigDict, Field

    from tailer import config as cfg

    class Demo(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        port: int = Field(8750, ge=1, le=65535)

    cfg.SECTIONS["demo"] = Demo
    try:
        assert cfg.parse_config({}).sections["demo"] == Demo()
        assert cfg.parse_config({"demo": {"port": 9000}}).sections["demo"].port == 9000
        with pytest.raises(cfg.ConfigError, match=r"^demo\.port: Input should be less"):
            cfg.parse_config({"demo": {"port": 70000}})
        with pytest.raises(cfg.ConfigError, match=r"^demo\.colour: Extra inputs"):
            cfg.parse_config({"demo": {"colour": "red"}})
    finally:
        del cfg.SECTIONS["demo"]
