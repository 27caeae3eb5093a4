"""The configuration reference: generated from the Settings classes, and current in the docs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ops import configdoc
from tests.conftest import ROOT


class ExampleSettings(BaseSettings):
    """Example settings.

    More text that is not shown."""

    model_config = SettingsConfigDict(env_prefix="EX_")

    # Where to look,
    # in two lines.
    where_path: Path = Path("a/b.toml")
    count: int = 3  # how many
    token: SecretStr | None = None

    plain: str = ""


class ChildSettings(ExampleSettings):
    extra_s: float = 1.5  # seconds | with a pipe


def test_table_of_a_class() -> None:
    assert configdoc.class_table(ExampleSettings) == (
        "### `ExampleSettings` (tests/test_configdoc.py)\n\nExample settings.\n\n"
        "| variable | type | default | meaning |\n|---|---|---|---|\n"
        "| `EX_WHERE_PATH` | Path | `a/b.toml` | Where to look, in two lines. |\n"
        "| `EX_COUNT` | int | `3` | how many |\n"
        "| `EX_TOKEN` | SecretStr \\| None | unset |  |\n"
        '| `EX_PLAIN` | str | `""` |  |\n')


def test_a_subclass_lists_only_what_it_adds() -> None:
    table = configdoc.class_table(ChildSettings)
    assert "`EX_EXTRA_S` | float | `1.5` | seconds \\| with a pipe |" in table
    assert "EX_COUNT" not in table
    assert "Example settings" not in table  # the parent's docstring is not the child's


def test_every_settings_module_is_covered() -> None:
    modules = configdoc.settings_modules()
    assert modules[:2] == ["core.settings", "mqtt.access"]
    assert "ingest.settings" in modules
    names = [c.__name__ for c in configdoc.settings_classes(modules)]
    assert names[:2] == ["CommonSettings", "BrokerAuthSettings"]
    assert "IngestSettings" in names


def test_the_operations_guide_holds_the_current_reference() -> None:
    doc = (ROOT / "docs" / "operations.md").read_text()
    expected = configdoc.replace_between_markers(doc, configdoc.reference())
    assert doc == expected, ("docs/operations.md is out of date: run "
                             "`python -m ops.configdoc --write docs/operations.md`")


def test_write_replaces_only_the_marked_part(tmp_path: Path) -> None:
    f = tmp_path / "doc.md"
    f.write_text(f"before\n{configdoc.BEGIN}\nSTALE TEXT\n{configdoc.END}\nafter\n")
    assert configdoc.main(["--write", str(f)]) == 0
    text = f.read_text()
    assert text.startswith(f"before\n{configdoc.BEGIN}\n\nEvery service reads")
    assert text.endswith(f"\n{configdoc.END}\nafter\n")
    assert "STALE TEXT" not in text


@pytest.mark.parametrize(("annotation", "name"), [
    (int, "int"), (str | None, "str | None"), (Path, "Path"), (SecretStr | None,
                                                               "SecretStr | None"),
])
def test_type_names(annotation: object, name: str) -> None:
    assert configdoc.type_name(annotation) == name
