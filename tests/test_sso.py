"""Single sign-on beside local passwords (issue 11): the IdP identity opens nothing by itself.

No identity provider is reached: these tests check the configuration path (``.streamlit/secrets.toml``), the
mapping of the IdP's claims to a local user and role (an unknown user gets no access until an administrator
creates it with a role), the sign-in form with single sign-on, and that sign-out also clears the IdP identity.
"""

from __future__ import annotations

import asyncio

import pytest
from streamlit.testing.v1 import AppTest

from core import settings
from core.trust.audit import list_entries
from core.trust.auth import create_user, disable_user
from core.trust.sso import SsoConfig, config_from_secrets, config_problems, map_identity
from tests._trust_data import build_store, use_fast_hasher

GOOD = "Zhihui-2026!x"
ISSUER = "https://sso.gaj.local"
SECRETS = {
    "auth": {
        "redirect_uri": "https://hotspots.gaj.local/oauth2callback",
        "cookie_secret": "k" * 40,
        "bureau": {"client_id": "hotspots", "client_secret": "s3cret",
                   "server_metadata_url": f"{ISSUER}/.well-known/openid-configuration"},
    },
    "hh_sso": {"username_claim": "police_id", "issuer": ISSUER},
}


@pytest.fixture()
def engine(tmp_path, monkeypatch):
    use_fast_hasher(monkeypatch)
    engine = build_store(tmp_path / "s.sqlite")
    create_user(engine, "cmd", GOOD, role="commander")
    monkeypatch.setattr(settings, "DB_URL", str(engine.url))
    return engine


def test_no_auth_section_means_no_single_sign_on_and_an_incomplete_one_says_what_is_missing():
    assert config_from_secrets({}) is None
    assert config_from_secrets({"auth": {"redirect_uri": "x"}}) is None  # no [auth.bureau]: passwords only
    cfg = config_from_secrets(SECRETS)
    assert cfg == SsoConfig(username_claim="police_id", issuer=ISSUER)
    broken = {"auth": {"redirect_uri": "http://hotspots.gaj.local/login", "cookie_secret": "short",
                       "bureau": {"client_id": "hotspots"}}}
    problems = " ".join(config_problems(broken))
    for missing in ("oauth2callback", "cookie_secret", "client_secret", "server_metadata_url"):
        assert missing in problems
    with pytest.raises(ValueError, match="统一身份认证配置不完整"):
        config_from_secrets(broken)
    plain_http = {**SECRETS, "auth": {**SECRETS["auth"], "redirect_uri": "http://hotspots.gaj.local/oauth2callback"}}
    assert any("https" in p for p in config_problems(plain_http))


def _actions(engine) -> list[str]:
    return list(list_entries(engine)["action"])


def test_an_idp_user_maps_to_the_local_user_and_role_and_an_unknown_one_gets_nothing(engine):
    cfg = config_from_secrets(SECRETS)
    ok = map_identity(engine, {"iss": ISSUER, "sub": "a1", "police_id": "cmd"}, cfg, source="10.0.0.5")
    assert (ok.status, ok.username) == ("ok", "cmd")
    unknown = map_identity(engine, {"iss": ISSUER, "sub": "b2", "police_id": "newcomer"}, cfg)
    assert (unknown.status, unknown.username) == ("pending", None) and "管理员" in unknown.message
    entries = list_entries(engine)
    pending = entries[entries["action"] == "sso_pending"]
    assert list(pending["username"]) == ["newcomer"]  # the administrator sees who asked
    # The administrator assigns a role by creating the user: the same identity now signs in with that role.
    create_user(engine, "newcomer", GOOD, role="liaison")
    assert map_identity(engine, {"iss": ISSUER, "sub": "b2", "police_id": "newcomer"}, cfg).username == "newcomer"


@pytest.mark.parametrize("claims", [
    {"iss": "https://evil.example", "sub": "x", "police_id": "cmd"},  # another issuer
    {"iss": ISSUER, "sub": "x", "preferred_username": "cmd"},  # not the configured claim
    {"iss": ISSUER, "sub": "x", "police_id": ""},
])
def test_a_foreign_or_nameless_identity_is_refused(engine, claims):
    res = map_identity(engine, claims, config_from_secrets(SECRETS))
    assert res.status == "refused" and res.username is None
    assert _actions(engine)[0] == "sso_refused"


def test_disabled_and_demo_accounts_cannot_sign_in_by_single_sign_on(engine):
    cfg = SsoConfig()
    create_user(engine, "demo_x", GOOD, role="commander", demo=True)
    disable_user(engine, "cmd")
    for name in ("cmd", "demo_x"):
        res = map_identity(engine, {"sub": "z", "preferred_username": name}, cfg)
        assert res.status == "refused" and res.username is None, name


def _app():
    import streamlit as st

    from dashboard.session import require_login

    scope = require_login()
    st.write(f"ROLE={scope.role}")


def _form(monkeypatch, claims: dict | None) -> AppTest:
    import dashboard.session as ds

    monkeypatch.setattr(ds, "sso_config", lambda: config_from_secrets(SECRETS))
    monkeypatch.setattr(ds, "_sso_claims", lambda: claims)
    at = AppTest.from_function(_app, default_timeout=30)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _shown(at) -> str:
    return " ".join(str(m.value) for m in at.markdown)


def test_the_sign_in_form_offers_single_sign_on_beside_passwords(engine, monkeypatch):
    at = _form(monkeypatch, None)
    assert any(b.label == "统一身份认证登录" for b in at.button)
    assert at.text_input(key="login_password") is not None  # local passwords stay
    assert "ROLE=" not in _shown(at)


def test_an_unknown_idp_user_sees_why_and_is_not_signed_in(engine, monkeypatch):
    at = _form(monkeypatch, {"iss": ISSUER, "sub": "q", "police_id": "stranger"})
    assert "ROLE=" not in _shown(at)
    assert any("尚未开通" in w.value for w in at.warning)
    at.run()  # a rerun of the form does not audit the same request again
    assert _actions(engine).count("sso_pending") == 1


def test_a_known_idp_user_gets_a_server_session_with_the_local_role(engine, monkeypatch):
    at = _form(monkeypatch, {"iss": ISSUER, "sub": "a1", "police_id": "cmd"})
    assert "ROLE=commander" in _shown(at)
    assert "sso_signin" in _actions(engine)


def test_logout_of_a_single_sign_on_user_also_clears_the_identity_cookie(engine):
    from core.trust import sessions
    from dashboard.serve import SSO_COOKIE, logout
    from tests.test_sessions import _request

    token = sessions.create(engine, "cmd")
    resp = asyncio.run(logout(_request("/auth/logout", cookie=f"{settings.SESSION_COOKIE}={token}; {SSO_COOKIE}=x")))
    cleared = " ".join(v.decode() for k, v in resp.raw_headers if k == b"set-cookie")
    assert f"{settings.SESSION_COOKIE}=" in cleared and f"{SSO_COOKIE}=" in cleared
    assert sessions.resolve(engine, token) is None
