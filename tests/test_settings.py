"""Settings: parsing, and what production refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from server.settings import Settings, async_url

GOOD_SECRET = "s" * 32


def test_defaults_are_the_embedded_mode(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert settings.port == 2614
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path}/hipster.db"
    assert settings.redis_url is None
    assert settings.event_retention == timedelta(days=7)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3600", timedelta(hours=1)),
        ("15m", timedelta(minutes=15)),
        ("2d", timedelta(days=2)),
        ("P1D", timedelta(days=1)),
    ],
)
def test_durations(monkeypatch, text, expected):
    monkeypatch.setenv("EVENT_RETENTION", text)
    assert Settings().event_retention == expected


def test_redis_cluster_url_lists_seed_nodes(monkeypatch):
    monkeypatch.setenv("REDIS_CLUSTER_URL", "redis://10.0.0.1:7000, rediss://u:p@10.0.0.2:7001/0,")
    settings = Settings()
    assert settings.redis_cluster_url == ["redis://10.0.0.1:7000", "rediss://u:p@10.0.0.2:7001/0"]
    assert settings.fanout == "redis_cluster"
    monkeypatch.setenv("REDIS_CLUSTER_URL", "")
    assert Settings().fanout == "memory"
    assert Settings(redis_url="redis://r:6379/0").fanout == "redis"


@pytest.mark.parametrize(
    ("seeds", "why"),
    [
        ("10.0.0.1:7000", "no redis://host:port"),
        ("http://10.0.0.1:7000", "no redis://host:port"),
        ("redis://10.0.0.1:7000/3", "only database 0"),
    ],
)
def test_bad_redis_cluster_urls_are_refused(monkeypatch, seeds, why):
    monkeypatch.setenv("REDIS_CLUSTER_URL", seeds)
    with pytest.raises(ValidationError, match=why):
        Settings()


def test_redis_url_and_redis_cluster_url_exclude_each_other():
    with pytest.raises(ValidationError, match="not both"):
        Settings(redis_url="redis://r:6379/0", redis_cluster_url=["redis://c:7000"])


def test_zero_retention_is_refused():
    with pytest.raises(ValidationError, match="at least 1 second"):
        Settings(event_retention=0)


def test_lists_are_comma_separated(monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("TRUSTED_PROXY_IPS", "10.0.0.0/8,::1")
    settings = Settings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.trusted_proxy_ips == ["10.0.0.0/8", "::1"]


def test_bad_proxy_cidr_is_refused():
    with pytest.raises(ValidationError):
        Settings(trusted_proxy_ips=["not-an-ip"])


def test_symmetric_oidc_algorithms_are_refused():
    with pytest.raises(ValidationError, match="asymmetric"):
        Settings(oidc_algorithms=["HS256"])


def test_blank_secret_counts_as_unset():
    assert Settings(auth_signing_secret="").auth_signing_secret is None


def test_oidc_issuer_must_differ_from_the_embedded_one():
    with pytest.raises(ValidationError, match="must differ"):
        Settings(oidc_issuer="hipster-timer")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "production needs OIDC_ISSUER or an explicit AUTH_SIGNING_SECRET"),
        ({"auth_signing_secret": "short"}, "at least 32 bytes"),
        ({"auth_signing_secret": GOOD_SECRET, "debug": True}, "DEBUG must be off"),
        (
            {
                "auth_signing_secret": GOOD_SECRET,
                "cors_origins": ["*"],
                "cors_allow_credentials": True,
            },
            "CORS_ORIGINS='\\*'",
        ),
    ],
)
def test_production_refuses_unsafe_settings(overrides, message):
    with pytest.raises(ValidationError, match=message):
        Settings(environment="production", **overrides)


def test_production_accepts_a_safe_configuration():
    settings = Settings(
        environment="production", auth_signing_secret=GOOD_SECRET, cors_origins=["*"]
    )
    assert settings.production_problems() == []


def test_async_url_maps_drivers():
    assert async_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
