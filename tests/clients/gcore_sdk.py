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

print("gcore sdk: ok")
