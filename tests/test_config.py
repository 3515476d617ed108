from __future__ import annotations

import pytest

from fortium_metrics.config import describe, load_settings
from fortium_metrics.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ("FORTIUM_DATABASE_URL", "FORTIUM_SECRET_KEY", "FORTIUM_MODE", "FORTIUM_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FORTIUM_DATA_DIR", str(tmp_path))


@pytest.mark.parametrize("variable, value", [
    ("FORTIUM_PORT", "not-a-port"),
    ("FORTIUM_PORT", "70000"),
    ("FORTIUM_MODE", "staging"),
    ("FORTIUM_DATABASE_URL", "mysql://x"),
    ("FORTIUM_LOG_LEVEL", "loud"),
])
def test_bad_value_fails_naming_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()


def test_production_mode_requires_a_secret_key(monkeypatch):
    monkeypatch.setenv("FORTIUM_MODE", "production")
    with pytest.raises(ConfigError, match="FORTIUM_SECRET_KEY"):
        load_settings()


def test_short_secret_key_is_refused(monkeypatch):
    monkeypatch.setenv("FORTIUM_SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="at least 32"):
        load_settings()


def test_local_mode_generates_a_key_once_and_keeps_it(tmp_path):
    first = load_settings().secret_key.get_secret_value()
    second = load_settings().secret_key.get_secret_value()
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_defaults_to_a_sqlite_file_in_the_data_dir(tmp_path):
    settings = load_settings()
    assert settings.is_sqlite
    assert settings.effective_database_url.endswith(str(tmp_path / "fortium.db"))


def test_cli_flags_override_the_environment(monkeypatch):
    monkeypatch.setenv("FORTIUM_PORT", "9000")
    assert load_settings(port=9100).port == 9100


def test_config_show_masks_secrets(monkeypatch):
    monkeypatch.setenv("FORTIUM_SECRET_KEY", "s3cret-" * 6)
    monkeypatch.setenv("FORTIUM_DATABASE_URL", "postgresql+psycopg://app:hunter2@db/fortium")
    shown = {name: value for name, value, _ in describe(load_settings())}
    assert shown["FORTIUM_SECRET_KEY"] == "********"
    assert "hunter2" not in shown["FORTIUM_DATABASE_URL"] and "app:***@db" in shown["FORTIUM_DATABASE_URL"]
    assert all(meaning for name, _, meaning in describe(load_settings()) if name.startswith("FORTIUM_"))
