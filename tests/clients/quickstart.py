"""The README's quick start, step by step, against a served app.

Usage: quickstart.py BASE_URL ADMIN_KEY. Bootstraps the tenant `acme` on the
host 127.0.0.1 with the operator ops@acme.example, signs in, creates a
customer through seed 000 and reads it back through the Location it answers.
Exits non-zero (with the answer that differed) on the first mismatch.
"""

import sys

import httpx

base, admin_key = sys.argv[1:3]

health = httpx.get(f"{base}/health")
assert health.status_code == 200, health.text

r = httpx.post(
    f"{base}/admin/tenants",
    headers={"Authorization": f"Bearer {admin_key}"},
    json={
        "id": "acme",
        "name": "Acme Cloud",
        "domains": ["127.0.0.1"],
        "operator": {"email": "ops@acme.example", "password": "a-long-password"},
    },
)
assert r.status_code == 201, r.text
app_key = r.json()["application_key"]
assert app_key.startswith("oak_"), app_key

r = httpx.post(
    f"{base}/auth/sign_in",
    headers={"x-api-key": app_key},
    json={"username": "ops@acme.example", "password": "a-long-password"},
)
assert r.status_code == 200, r.text
token = r.json()["token"]
auth = {"Authorization": f"Bearer {token}"}

r = httpx.post(
    f"{base}/v2/users/create_customer",
    headers=auth,
    json={
        "customer": {
            "organization": {"name": "Acme"},
            "user": {
                "email": "joe@acme.example",
                "password": "password123",
                "password_confirmation": "password123",
            },
        }
    },
)
assert r.status_code == 201, r.text
location = r.headers["location"]
assert location.startswith("/v2/users/"), location

r = httpx.get(f"{base}{location}", headers=auth)
assert r.status_code == 200, r.text
user = r.json()["data"]
assert user["type"] == "users", user
assert user["attributes"]["email"] == "joe@acme.example", user
print("quick start: ok")
