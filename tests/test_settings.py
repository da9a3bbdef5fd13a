"""Settings: defaults, typed conversion and clear errors from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings, SettingsError


def test_defaults_use_sqlite_under_the_instance_folder():
    settings = Settings.from_env({"MODQUEUE_INSTANCE_PATH": "/srv/mq"})
    assert settings.database_url == "sqlite:////srv/mq/modqueue.db"
    assert settings.instance_path == Path("/srv/mq")
    assert settings.redis_url is None
    assert settings.toxicity_model == "original"


def test_values_are_converted_to_their_types():
    settings = Settings.from_env({"MODQUEUE_BATCH_SIZE": "64", "MODQUEUE_BATCH_INTERVAL_SECONDS": "0.5"})
    assert (settings.batch_size, settings.batch_interval_seconds) == (64, 0.5)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"MODQUEUE_TOXICITY_MODEL": "gpt"}, "MODQUEUE_TOXICITY_MODEL"),
        ({"MODQUEUE_BATCH_SIZE": "many"}, "MODQUEUE_BATCH_SIZE"),
        ({"MODQUEUE_LOG_FORMAT": "xml"}, "MODQUEUE_LOG_FORMAT"),
    ],
)
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_settings_are_read_only():
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.batch_size = 3


def test_unix_socket_redis_url_is_spelled_for_each_client():
    settings = Settings.from_env({"MODQUEUE_REDIS_URL": "unix:///tmp/r.sock"})
    assert settings.redis_client_url == "unix:///tmp/r.sock"
    assert settings.broker_url == "redis+socket:///tmp/r.sock"


def test_missing_redis_url_is_explained():
    with pytest.raises(SettingsError, match="MODQUEUE_REDIS_URL"):
        Settings.from_env({}).broker_url
