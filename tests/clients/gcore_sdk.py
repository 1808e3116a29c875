"""Gcore's official Python SDK (gcore==0.59.0) against Onboard.

Run by tests/tests/it/clients.rs with the base URL of a served test host and
an account's email and password. Exits non-zero (with a traceback) on the
first mismatch.
"""

import base64
import json
import sys

import gcore
import httpx
from gcore import Gcore

base, email, password = sys.argv[1:4]

# The SDK has no login method: the JWT endpoints are called as documented.
login = httpx.post(f"{base}/iam/auth/jwt/login", json={"username": email, "password": password})
assert login.status_code == 200, login.text
access = login.json()["access"]
payload = access.split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
client_id = claims["client_id"]
assert claims["token_type"] == "access"

# Issue a first API token with the bearer, then use the SDK with it.
made = httpx.post(
    f"{base}/iam/v2/clients/{client_id}/tokens",
    headers={"Authorization": f"Bearer {access}"},
    json={"name": "bootstrap", "exp_date": None, "client_user": {"role": {"id": 1, "name": "Administrators"}}},
)
assert made.status_code == 200, made.text
client = Gcore(api_key=made.json()["token"], base_url=base, max_retries=0)

overview = client.iam.get_account_overview()
assert overview.id == client_id, overview
assert overview.current_user == claims["user_id"], overview

created = client.iam.api_tokens.create(
    client_id,
    name="sdk",
    description="made by the SDK",
    exp_date=None,
    client_user={"role": {"id": 2, "name": "Users"}},
)
assert created.token.startswith(f"{created.id}_"), created
assert created.client_user.role.name == "Users", created

listed = client.iam.api_tokens.list(client_id)
assert sorted(t.name for t in listed) == ["bootstrap", "sdk"], listed
only_users = client.iam.api_tokens.list(client_id, role="Users")
assert [t.name for t in only_users] == ["sdk"], only_users

fetched = client.iam.api_tokens.get(created.id, client_id=client_id)
assert fetched.description == "made by the SDK", fetched

sdk_user = Gcore(api_key=created.token, base_url=base, max_retries=0)
assert sdk_user.iam.get_account_overview().id == client_id

client.iam.api_tokens.delete(created.id, client_id=client_id)
try:
    sdk_user.iam.get_account_overview()
    raise AssertionError("a deleted token still works")
except gcore.AuthenticationError:
    pass
try:
    client.iam.api_tokens.get(created.id, client_id=client_id)
    raise AssertionError("a deleted token is still listed")
except gcore.NotFoundError:
    pass
try:
    client.iam.api_tokens.create(client_id, name="x", exp_date=None, client_user={"role": {"name": "RoleName"}})
    raise AssertionError("an invalid role was accepted")
except gcore.BadRequestError as e:
    assert e.body == {"errors": {"client_user": {"role": ["Invalid role: RoleName"]}}}, e.body

# Users: create one with its client (the reseller endpoint the SDK has no
# method for), then list, get, update, invite and remove through the SDK.
made = client.post(
    "/iam/users",
    body={
        "email": "sdk.user@example.com",
        "password": "Sdk-user-password-1",
        "company": "SDK Co",
        "user_type": "common",
        "name": "Sdk User",
        "phone": "+15550100",
        "services": [{"product_name": "CDN", "available": True}],
        "lang": "de",
        "custom_id": "ext-42",
        "country_code": "PT",
        "is_test": True,
    },
    cast_to=object,
)
assert made["email"] == "sdk.user@example.com" and made["groups"] == [{"id": 1, "name": "Administrators"}], made
uid, new_client = made["id"], made["client"]
listed = [u.id for u in client.iam.users.list(limit=2)]
assert uid in listed and len(listed) == len(set(listed)), listed
got = client.iam.users.get(uid)
assert (got.email, got.name, got.lang, got.company) == ("sdk.user@example.com", "Sdk User", "de", "SDK Co"), got
updated = client.iam.users.update(uid, name="Renamed", lang="en", phone=None)
assert (updated.name, updated.lang, updated.phone) == ("Renamed", "en", None), updated
assert updated.client_and_roles[0].client_id == new_client, updated
invited = client.iam.users.invite(
    client_id=new_client, email="invited@example.com", user_role={"id": 2, "name": "Users"}, lang="en", name="Invitee"
)
assert invited.status == "sent" and invited.user_id > 0, invited
assert client.iam.users.get(invited.user_id).activated is False
client.iam.users.delete(invited.user_id, client_id=new_client)
try:
    client.iam.users.get(invited.user_id)
    raise AssertionError("a removed user is still there")
except gcore.NotFoundError:
    pass
try:
    client.post("/iam/users", body={"email": "sdk.user@example.com", "password": "Sdk-user-password-1", "company": "Again"}, cast_to=object)
    raise AssertionError("a taken email was accepted")
except gcore.BadRequestError as e:
    assert e.body == {"errors": {"email": ["user with this email already exists."]}}, e.body

print("gcore sdk: ok")
