"""Single sign-on through the bureau's OpenID Connect identity provider, beside local passwords (issue 11).

The dashboard signs in with Streamlit's ``st.login`` (Authlib does the OIDC code flow; Streamlit keeps the IdP
identity in its own signed cookie). That identity alone opens nothing: :func:`map_identity` maps it to a **local**
user, whose role and hospital this system keeps, and only then does the dashboard start its own server-side
session (:mod:`core.trust.sessions`, the HttpOnly cookie) as for a password sign-in.

* The claim that names the local user is ``username_claim`` (default ``preferred_username``; e.g. the 警号 claim
  of the bureau's IdP). Its value must be exactly a local user name.
* An identity without a local user gets **no access**: it is recorded (``sso_pending``) so an administrator sees
  who asked, and the administrator assigns a role by creating that user
  (``python -m planning users add NAME --role officer --hospital bj001``).
* A disabled user, a demo account, a token from another issuer (when ``issuer`` is set) or one without the claim
  is refused (``sso_refused``).

Configuration lives in ``.streamlit/secrets.toml`` (never in the repository), see docs/deployment.md::

    [auth]
    redirect_uri = "https://hotspots.gaj.local/oauth2callback"
    cookie_secret = "…long random…"

    [auth.bureau]
    client_id = "hotspots"
    client_secret = "…"
    server_metadata_url = "https://sso.gaj.local/.well-known/openid-configuration"

    [hh_sso]                      # optional
    username_claim = "preferred_username"
    issuer = "https://sso.gaj.local"
    label = "统一身份认证登录"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from sqlalchemy.engine import Engine

#: Name of the provider section ``[auth.bureau]`` (Streamlit forbids underscores in provider names).
PROVIDER = "bureau"
DEFAULT_USERNAME_CLAIM = "preferred_username"
DEFAULT_LABEL = "统一身份认证登录"
#: Our own section of secrets.toml (Streamlit passes ``[auth]`` to Authlib, so our keys live apart).
SECTION = "hh_sso"


@dataclass(frozen=True)
class SsoConfig:
    """Where the dashboard's single sign-on goes and how an identity names a local user."""

    provider: str = PROVIDER
    username_claim: str = DEFAULT_USERNAME_CLAIM
    issuer: str = ""
    label: str = DEFAULT_LABEL


@dataclass(frozen=True)
class SsoResult:
    """Outcome of :func:`map_identity`: ``username`` is set only when the identity may sign in."""

    status: str  # "ok", "pending" (no local user yet) or "refused"
    username: str | None
    message: str


def _authlib_installed() -> bool:
    try:
        import authlib  # noqa: F401
    except ImportError:
        return False
    return True


def config_problems(secrets: Mapping) -> list[str]:
    """What is missing or wrong in the single sign-on part of ``secrets`` (empty when it is usable).

    ``secrets`` is the parsed ``.streamlit/secrets.toml`` (``st.secrets`` or a plain dict).
    """
    auth = secrets.get("auth")
    if not isinstance(auth, Mapping):
        return ["secrets.toml 中没有 [auth] 段"]
    problems = []
    redirect = str(auth.get("redirect_uri", ""))
    if not redirect:
        problems.append("[auth] 缺少 redirect_uri")
    elif not redirect.endswith("/oauth2callback"):
        problems.append("[auth] redirect_uri 必须以 /oauth2callback 结尾")
    elif urlparse(redirect).scheme != "https" and urlparse(redirect).hostname not in ("localhost", "127.0.0.1"):
        problems.append("[auth] redirect_uri 必须使用 https（本机测试除外）")
    if len(str(auth.get("cookie_secret", ""))) < 32:
        problems.append("[auth] cookie_secret 缺少或太短（至少 32 个字符的随机串）")
    provider = auth.get(PROVIDER)
    if not isinstance(provider, Mapping):
        problems.append(f"secrets.toml 中没有 [auth.{PROVIDER}] 段（身份提供方）")
    else:
        for key in ("client_id", "client_secret", "server_metadata_url"):
            if not provider.get(key):
                problems.append(f"[auth.{PROVIDER}] 缺少 {key}")
    if not _authlib_installed():
        problems.append("未安装 Authlib（pip install Authlib）")
    return problems


def config_from_secrets(secrets: Mapping) -> SsoConfig | None:
    """The single sign-on configuration, or None when ``secrets`` does not configure one.

    Raises
    ------
    ValueError
        When ``[auth.bureau]`` is there but the configuration is incomplete (the Chinese reasons, joined).
    """
    auth = secrets.get("auth")
    if not isinstance(auth, Mapping) or PROVIDER not in auth:
        return None
    problems = config_problems(secrets)
    if problems:
        raise ValueError("统一身份认证配置不完整：" + "；".join(problems) + "。")
    ours = secrets.get(SECTION) or {}
    return SsoConfig(
        username_claim=str(ours.get("username_claim") or DEFAULT_USERNAME_CLAIM),
        issuer=str(ours.get("issuer") or ""),
        label=str(ours.get("label") or DEFAULT_LABEL),
    )


def map_identity(engine: Engine, claims: Mapping, config: SsoConfig, *, source: str = "") -> SsoResult:
    """Map the identity provider's ``claims`` (``st.user``) to a local user that may sign in.

    Every outcome is audited: ``sso_signin`` (mapped), ``sso_pending`` (no local user: an administrator has to
    create it with a role), ``sso_refused`` (disabled, demo account, other issuer, no claim).
    """
    from core.trust.audit import record
    from core.trust.auth import get_user

    where = f"，来源 {source}" if source else ""
    issuer = str(claims.get("iss") or "")
    subject = str(claims.get("sub") or "")
    who = f"身份提供方用户 sub={subject[:64]}"
    if config.issuer and issuer.rstrip("/") != config.issuer.rstrip("/"):
        record("sso_refused", detail=f"{who}：签发方 {issuer[:100]!r} 不是配置的身份提供方{where}", engine=engine)
        return SsoResult("refused", None, "登录被拒绝：身份凭据不是本局身份认证系统签发的。")
    raw = claims.get(config.username_claim)
    name = str(raw).strip() if isinstance(raw, (str, int)) else ""
    if not name or len(name) > 64:
        record("sso_refused", detail=f"{who}：缺少用户名声明 {config.username_claim}{where}", engine=engine)
        return SsoResult("refused", None, f"登录被拒绝：身份凭据中没有用户名（{config.username_claim}），请联系管理员。")
    user = get_user(engine, name)
    if user is None:
        record("sso_pending", username=name, detail=f"{who}：本系统尚无此用户，待管理员分配角色{where}",
               engine=engine)
        return SsoResult("pending", None, f"账户“{name}”尚未开通：请联系系统管理员分配角色后再登录。")
    if not user.active or user.demo:
        why = "账户已停用" if not user.active else "演示账户不能通过统一身份认证登录"
        record("sso_refused", username=name, detail=f"{who}：{why}{where}", engine=engine)
        return SsoResult("refused", None, f"登录被拒绝：{why}。")
    record("sso_signin", username=name, detail=f"{who}，统一身份认证登录{where}", engine=engine)
    return SsoResult("ok", name, "")
