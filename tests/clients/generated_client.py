"""A client generated from the served OpenAPI document, used as an integrator would.

Usage: generated_client.py BASE_URL ADMIN_KEY

Fetches BASE_URL/openapi.json, generates a Python client from it with
openapi-python-client (the generation must be clean: a warning means part of
the document could not be turned into code), imports it, and through its
generated models and functions only:
- makes a tenant (POST /admin/tenants) and signs its operator in;
- creates a customer with seed 000's example (POST /v2/users/create_customer);
- updates the customer's user with seed 002's fields (PUT /v2/users/{id});
- reads the user back (GET /v2/users/{id}) and checks the update.

The tenant is `gen-<random>`, served on the host `gen-<random>.localhost`
(sent as `Host`), so the script runs beside the other clients on one app, and
again on the same one.
"""

import importlib
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

base, admin_key = sys.argv[1:3]
name = f"gen-{secrets.token_hex(4)}"
host = {"Host": f"{name}.localhost"}

work = Path(tempfile.mkdtemp(prefix="onboard-client-"))
doc = work / "openapi.json"
doc.write_text(httpx.get(f"{base}/openapi.json").raise_for_status().text)
gen = subprocess.run(
    ["openapi-python-client", "generate", "--path", str(doc), "--meta", "none",
     "--output-path", str(work / "onboard_client")],
    capture_output=True, text=True)
print(gen.stdout.strip())
assert gen.returncode == 0, gen.stderr
assert "warning" not in (gen.stdout + gen.stderr).lower(), f"generation was not clean:\n{gen.stdout}{gen.stderr}"
sys.path.insert(0, str(work))


def module(name):
    return importlib.import_module(f"onboard_client.{name}")


client_mod = module("client")
models = module("models")
admin_client = client_mod.AuthenticatedClient(base_url=base, token=admin_key, headers=host)
anonymous = client_mod.Client(base_url=base, headers=host)


def ok(response, status):
    assert response.status_code == status, f"{response.status_code}: {response.content!r}"
    return response.parsed


# A tenant whose operator signs in with the tenant's application key.
tenant = ok(module("api.admin.post_admin_tenants").sync_detailed(
    client=admin_client,
    body=models.PostAdminTenantsBody.from_dict({
        "id": name, "name": "Generated", "domains": [f"{name}.localhost"],
        "operator": {"email": "ops@gen.example", "password": "a-long-password"}})), 201)
app_key = tenant.application_key
signed_in = ok(module("api.clone.post_auth_sign_in").sync_detailed(
    client=client_mod.Client(base_url=base, headers={**host, "x-api-key": app_key}),
    # One of three shapes (password, second factor, recovery code): the
    # generated function takes it as a plain object.
    body={"username": "ops@gen.example", "password": "a-long-password"}), 200)
operator = client_mod.AuthenticatedClient(base_url=base, token=signed_in.token, headers=host)

# Seed 000: organization, user and plan in one call.
created = module("api.clone.post_v2_users_create_customer").sync_detailed(
    client=operator,
    body=models.PostV2UsersCreateCustomerBody.from_dict({"customer": {
        "organization": {"name": "Organization name", "description": "Organization description",
                         "company_name": "Company name", "skip_default_subscription": False},
        "user": {"email": "user@gen.example", "first_name": "Joe", "last_name": "Doe",
                 "locale": "en", "timezone": "UTC", "phone": "2353032211",
                 "password": "Password123", "password_confirmation": "Password123"},
        "plans": [{"plan": "pci_plan", "partner": False, "interval": "yearly",
                   "start_date": "2025-01-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}]}}))
assert created.status_code == 201, created.content
user_id = created.headers["location"].rsplit("/", 1)[-1]

# Seed 002: a partial profile update.
updated = module("api.clone.put_v2_users_id").sync_detailed(
    id=user_id, client=operator,
    body=models.PutV2UsersIdBody.from_dict({"user": {
        "first_name": "Jane", "last_name": "Roe", "locale": "el", "timezone": "Europe/Athens",
        "phone": "2103032211", "title": "Software Engineer", "city": "Athens", "country": "Greece"}}))
assert updated.status_code == 200, updated.content

read = ok(module("api.clone.get_v2_users_id").sync_detailed(id=user_id, client=operator), 200)
attributes = read.to_dict()["data"]["attributes"]
want = {"email": "user@gen.example", "first_name": "Jane", "last_name": "Roe", "locale": "el",
        "timezone": "Europe/Athens", "phone": "2103032211"}
got = {k: attributes.get(k) for k in want}
assert got == want, json.dumps(attributes, indent=1)
print(f"generated client: tenant {name}, customer user {user_id} created (seed 000) and updated (seed 002)")
shutil.rmtree(work)
