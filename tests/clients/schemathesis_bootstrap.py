"""Sets up a tenant and the credentials schemathesis fuzzes each family with.

Usage: schemathesis_bootstrap.py BASE_URL ADMIN_KEY. Prints a JSON object:
app_key (the tenant's x-api-key), clone (a Clone session bearer), impersonated
(a Clone session impersonating a customer's administrator), cc (a CloudCockpit
bearer), apiculus (an x-access-token), gcore (a Gcore access JWT), scim (a
SCIM connection's token for a customer organization).

Each family fuzzes with an operator account of its own, made with the platform
admin key: one family's fuzzing may move, disable or delete what it reaches,
and it must not end another family's credential mid-run.
"""

import json
import sys

import httpx

base, admin_key = sys.argv[1:3]
admin = {"Authorization": f"Bearer {admin_key}", "X-Tenant": "st"}
password = "operator-password-1"


def ok(r, status=200):
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else None


tenant = ok(httpx.post(f"{base}/admin/tenants", headers={"Authorization": f"Bearer {admin_key}"}, json={
    "id": "st", "name": "ST", "domains": ["127.0.0.1"],
    "operator": {"email": "clone@st.test", "password": password}}), 201)
app_key = tenant["application_key"]
for family in ["apiculus", "gcore"]:
    ok(httpx.post(f"{base}/admin/accounts", headers=admin,
        json={"email": f"{family}@st.test", "password": password, "role": "operator"}), 201)

# Clone: a session (the second-factor and impersonation verbs want one; an
# access token is refused there by design).
clone = ok(httpx.post(f"{base}/auth/sign_in", headers={"x-api-key": app_key},
    json={"username": "clone@st.test", "password": password}))["token"]
bearer = {"Authorization": f"Bearer {clone}"}
apiculus = ok(httpx.post(f"{base}/auth/login", json={"email": "apiculus@st.test", "password": password}))["result"]["token"]
gcore = ok(httpx.post(f"{base}/iam/auth/jwt/login", json={"username": "gcore@st.test", "password": password}))["access"]
client = ok(httpx.post(f"{base}/admin/api-clients", headers=admin, json={"name": "csp"}), 201)
cc = ok(httpx.post(f"{base}/oauth2/token", data={"grant_type": "client_credentials",
    "client_id": client["client_id"], "client_secret": client["client_secret"]}))["access_token"]

# A customer for SCIM, and one whose administrator the Clone operator
# impersonates (for the one verb only an impersonated session calls).
customers = {}
for name in ["scim", "impersonated"]:
    r = httpx.post(f"{base}/v2/users/create_customer", headers=bearer,
        json={"customer": {"organization": {"name": f"{name} Co"}, "user": {"email": f"admin@{name}.st.test"}}})
    ok(r, 201)
    user = r.headers["location"].rsplit("/", 1)[-1]
    org = ok(httpx.get(f"{base}/v2/users/{user}", headers=bearer))["data"]["attributes"]["organization"]["id"]
    customers[name] = (user, org)
scim = ok(httpx.post(f"{base}/admin/scim-connections", headers=admin,
    json={"organization_id": customers["scim"][1], "name": "schemathesis"}), 201)["token"]
impersonated = ok(httpx.post(f"{base}/auth/impersonate?uuid={customers['impersonated'][0]}", headers=bearer))["token"]

print(json.dumps({"app_key": app_key, "clone": clone, "impersonated": impersonated, "cc": cc,
    "apiculus": apiculus, "gcore": gcore, "scim": scim}))
