"""Sign-in, rotating refresh tokens, reuse detection, sign-out, lockout and JWT validation."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from fortium_metrics import audit, users
from fortium_metrics.accounts import Accounts, set_password
from fortium_metrics.config import load_settings
from fortium_metrics.errors import RateLimited, Unauthorized
from fortium_metrics.jwt_tokens import TokenKeys
from fortium_metrics.login_guard import LoginGuard
from fortium_metrics.principal import Principal
from fortium_metrics.store.models import User

pytestmark = pytest.mark.anyio
PASSWORD = "correct horse battery staple"
SECRET = "s" * 48


def build(store, tmp_path, **overrides) -> Accounts:
    settings = load_settings(**{"data_dir": tmp_path, "secret_key": SECRET, **overrides})
    return Accounts(store, TokenKeys.from_settings(settings), LoginGuard(settings), timedelta(days=30))


@pytest.fixture
async def accounts(store, people, tmp_path):
    async with store.unit_of_work(people.alice) as uow:
        await set_password(uow, "alice@a.test", PASSWORD)
        await set_password(uow, "bob@a.test", PASSWORD)
    return build(store, tmp_path)


async def test_login_gives_tokens_whose_principal_has_the_users_role(accounts, people):
    pair = await accounts.login("Alice@A.test", PASSWORD, "1.2.3.4", people.slug_a)
    principal = await accounts.principal_for_access_token(pair.access_token)
    assert (principal.organization_id, principal.user_id, principal.role) == (people.org_a, people.alice.user_id, "admin")
    claims = jwt.decode(pair.access_token, options={"verify_signature": False})
    assert set(claims) >= {"sub", "org", "role", "exp", "iat", "jti", "iss", "aud", "sid"}


@pytest.mark.parametrize("email, password", [("alice@a.test", "wrong password!!"), ("nobody@a.test", PASSWORD)])
async def test_failures_are_generic_and_audited_only_where_the_account_exists(accounts, store, people, email, password):
    with pytest.raises(Unauthorized) as failure:
        await accounts.login(email, password, "1.2.3.4", people.slug_a)
    assert failure.value.message == "invalid e-mail or password"
    async with store.unit_of_work(people.alice) as uow:
        actions = [e.action for e in await audit.list_entries(uow)]
    assert actions.count("login.failed") == (1 if email.startswith("alice") else 0)


async def test_repeated_failures_lock_out_the_failing_client_even_with_the_right_password_not_the_owner(accounts, people):
    for _ in range(5):
        with pytest.raises(Unauthorized):
            await accounts.login("alice@a.test", "wrong password!!", "1.2.3.4", people.slug_a)
    with pytest.raises(RateLimited, match="too many failed sign-ins"):
        await accounts.login("alice@a.test", PASSWORD, "1.2.3.4", people.slug_a)
    # A stranger's guesses do not lock the owner out (tests/test_auth_api.py has the ceiling).
    assert (await accounts.login("alice@a.test", PASSWORD, "5.6.7.8", people.slug_a)).user_id == people.alice.user_id


async def test_unknown_emails_lock_the_same_way(accounts, people):
    for _ in range(5):
        with pytest.raises(Unauthorized):
            await accounts.login("ghost@a.test", "whatever-password", "1.2.3.4", people.slug_a)
    with pytest.raises(RateLimited):
        await accounts.login("ghost@a.test", "whatever-password", "1.2.3.4", people.slug_a)


async def test_refresh_rotates_and_a_replayed_token_revokes_the_family(accounts, store, people):
    first = await accounts.login("alice@a.test", PASSWORD, "ip", people.slug_a)
    second = await accounts.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    await accounts.principal_for_access_token(second.access_token)
    with pytest.raises(Unauthorized, match="already used"):
        await accounts.refresh(first.refresh_token)  # the replay
    with pytest.raises(Unauthorized):
        await accounts.refresh(second.refresh_token)  # the family is gone
    with pytest.raises(Unauthorized, match="signed out"):
        await accounts.principal_for_access_token(second.access_token)
    async with store.unit_of_work(people.alice) as uow:
        assert "token.reuse" in [e.action for e in await audit.list_entries(uow)]


async def test_logout_revokes_refresh_and_access_tokens(accounts, people):
    pair = await accounts.login("alice@a.test", PASSWORD, "ip", people.slug_a)
    await accounts.logout(pair.refresh_token)
    with pytest.raises(Unauthorized):
        await accounts.refresh(pair.refresh_token)
    with pytest.raises(Unauthorized, match="signed out"):
        await accounts.principal_for_access_token(pair.access_token)


async def test_a_deactivated_user_is_refused(accounts, store, people):
    pair = await accounts.login("bob@a.test", PASSWORD, "ip", people.slug_a)
    async with store.unit_of_work(people.alice) as uow:
        (await users.get_user(uow, "bob@a.test")).active = False
    with pytest.raises(Unauthorized, match="deactivated"):
        await accounts.principal_for_access_token(pair.access_token)
    with pytest.raises(Unauthorized):
        await accounts.refresh(pair.refresh_token)


async def test_a_role_change_applies_to_existing_tokens(accounts, store, people):
    pair = await accounts.login("bob@a.test", PASSWORD, "ip", people.slug_a)
    async with store.unit_of_work(people.alice) as uow:
        (await users.get_user(uow, "bob@a.test")).role = "manager"
    assert (await accounts.principal_for_access_token(pair.access_token)).role == "manager"


def _claims(people, **changes) -> dict:
    now = datetime.now(timezone.utc)
    claims = {"sub": str(people.alice.user_id), "org": str(people.org_a), "role": "admin", "sid": str(uuid.uuid4()),
              "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=5)).timestamp()),
              "jti": "j", "iss": "fortium-metrics", "aud": "fortium-metrics"}
    return {**claims, **changes}


async def test_forged_and_wrong_tokens_are_refused(accounts, people):
    keys = accounts.keys
    kid = next(iter(keys.verifying))
    good = jwt.encode(_claims(people), keys.signing, algorithm="HS256", headers={"kid": kid})
    assert (await accounts.principal_for_access_token(good)).user_id == people.alice.user_id
    header, payload, signature = good.split(".")
    tampered = ".".join([header, jwt.utils.base64url_encode(b'{"sub":"x"}').decode(), signature])
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forgeries = {
        "expired": jwt.encode(_claims(people, exp=1), keys.signing, algorithm="HS256", headers={"kid": kid}),
        "tampered": tampered,
        "none": jwt.encode(_claims(people), None, algorithm="none", headers={"kid": kid}),
        "rs256": jwt.encode(_claims(people), private, algorithm="RS256", headers={"kid": kid}),
        "other key": jwt.encode(_claims(people), b"k" * 32, algorithm="HS256", headers={"kid": kid}),
        "unknown kid": jwt.encode(_claims(people), keys.signing, algorithm="HS256", headers={"kid": "nope"}),
        "audience": jwt.encode(_claims(people, aud="someone-else"), keys.signing, algorithm="HS256", headers={"kid": kid}),
        "issuer": jwt.encode(_claims(people, iss="evil"), keys.signing, algorithm="HS256", headers={"kid": kid}),
        "no sid": jwt.encode({k: v for k, v in _claims(people).items() if k != "sid"}, keys.signing, algorithm="HS256", headers={"kid": kid}),
    }
    for name, token in forgeries.items():
        with pytest.raises(Unauthorized):
            await accounts.principal_for_access_token(token)
            pytest.fail(f"{name} token accepted")


async def test_key_rotation_keeps_old_tokens_valid_only_when_configured(store, people, tmp_path, accounts):
    pair = await accounts.login("alice@a.test", PASSWORD, "ip", people.slug_a)
    rotated = build(store, tmp_path, secret_key="n" * 48, previous_secret_keys=[SECRET])
    assert (await rotated.principal_for_access_token(pair.access_token)).user_id == people.alice.user_id
    forgotten = build(store, tmp_path, secret_key="n" * 48)
    with pytest.raises(Unauthorized, match="unknown key"):
        await forgotten.principal_for_access_token(pair.access_token)


async def test_passwords_are_stored_as_argon2id(accounts, store, people):
    async with store.unit_of_work(people.alice) as uow:
        stored = await uow.session.scalar(select(User.password_hash).where(User.email == "alice@a.test"))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


async def test_an_email_in_two_organisations_needs_the_organisation(accounts, store, people):
    async with store.unit_of_work(Principal.org_admin(people.org_b)) as uow:
        await users.create_user(uow, "alice@a.test", "Other Alice", "developer")
        await set_password(uow, "alice@a.test", PASSWORD)
    with pytest.raises(Exception, match="several organisations"):
        await accounts.login("alice@a.test", PASSWORD, "ip")
    pair = await accounts.login("alice@a.test", PASSWORD, "ip", people.slug_b)
    assert pair.organization_id == people.org_b
