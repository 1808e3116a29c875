"""Sets up a tenant and a credential of every family for schemathesis.

Usage: schemathesis_bootstrap.py BASE_URL ADMIN_KEY. Prints a JSON object:
clone (a Basic access token), cc (a CloudCockpit bearer), apiculus (an
x-access-token), gcore (a Gcore access JWT), scim (a SCIM connection's
token for a customer organization).
"""

import json
import sys

import httpx

base, admin_key = sys.argv[1:3]
admin = {"Authorization": f"Bearer {admin_key}"}
r = httpx.post(f"{base}/admin/tenants", headers=admin, json={"id": "st", "name": "ST", "domains": ["127.0.0.1"],
    "operator": {"email": "op@st.test", "password": "operator-password-1"}})
assert r.status_code == 201, r.text
app_key = r.json()["application_key"]
r = httpx.post(f"{base}/auth/sign_in", headers={"x-api-key": app_key}, json={"username": "op@st.test", "password": "operator-password-1"})
assert r.status_code == 200, r.text
session = r.json()["token"]
r = httpx.put(f"{base}/v2/user/generate_access_token", headers={"Authorization": f"Bearer {session}"})
assert r.status_code == 200, r.text
basic = r.json()["token"]
r = httpx.post(f"{base}/admin/api-clients", headers={"Authorization": f"Basic {basic}"}, json={"name": "csp"})
assert r.status_code == 201, r.text
cid, secret = r.json()["client_id"], r.json()["client_secret"]
r = httpx.post(f"{base}/oauth2/token", data={"grant_type": "client_credentials", "client_id": cid, "client_secret": secret})
assert r.status_code == 200, r.text
cc = r.json()["access_token"]
r = httpx.post(f"{base}/auth/login", json={"email": "op@st.test", "password": "operator-password-1"})
assert r.status_code == 200, r.text
apiculus = r.json()["result"]["token"]
r = httpx.post(f"{base}/iam/auth/jwt/login", json={"username": "op@st.test", "password": "operator-password-1"})
assert r.status_code == 200, r.text
gcore = r.json()["access"]
r = httpx.post(f"{base}/v2/users/create_customer", headers={"Authorization": f"Basic {basic}"},
    json={"customer": {"organization": {"name": "SCIM Co"}, "user": {"email": "admin@scim.st.test"}}})
assert r.status_code == 201, r.text
user = r.headers["location"].rsplit("/", 1)[-1]
r = httpx.get(f"{base}/v2/users/{user}", headers={"Authorization": f"Basic {basic}"})
org = r.json()["data"]["attributes"]["organization"]["id"]
# Made with the platform admin key, so no user stands behind it: the other
# families' fuzzing may disable or demote the operator, which would end a
# connection the operator made.
r = httpx.post(f"{base}/admin/scim-connections", headers={**admin, "X-Tenant": "st"},
    json={"organization_id": org, "name": "schemathesis"})
assert r.status_code == 201, r.text
scim = r.json()["token"]
print(json.dumps({"clone": basic, "cc": cc, "apiculus": apiculus, "gcore": gcore, "scim": scim}))
