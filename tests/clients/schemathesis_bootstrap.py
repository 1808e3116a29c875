"""Sets up a tenant and the credentials schemathesis fuzzes each family with.

Usage: schemathesis_bootstrap.py BASE_URL ADMIN_KEY. Prints a JSON object:
app_key (the tenant's x-api-key), reseller (a reseller's id), clone (a Clone session bearer), impersonated
(a Clone session impersonating a customer's administrator), cc (a CloudCockpit
bearer), apiculus (an x-access-token), gcore (a Gcore access JWT), scim (a
SCIM connection's token for a customer organization). It also writes the
dictionaries schemathesis.toml names, under target/schemathesis/.

Each family fuzzes with an operator account of its own, made with the platform
admin key: one family's fuzzing may move, disable or delete what it reaches,
and it must not end another family's credential mid-run.
"""

import json
import pathlib
import sys

import httpx
from totp import totp

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
# A reseller, for the one operation whose path names a reseller (an unknown
# one is 403 there, as a missing relationship is).
# An organization with a user and a child is not deleted, so Clone's
# fuzzing, which runs before CloudCockpit's, leaves it in place.
reseller_made = ok(httpx.post(f"{base}/admin/resellers", headers=admin, json={"name": "ST Reseller", "code": "STR"}), 201)
reseller = reseller_made["id"]
ok(httpx.post(f"{base}/admin/accounts", headers=admin, json={"email": "reseller@st.test", "password": password,
    "role": "reseller_admin", "organization_id": reseller}), 201)
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
r = httpx.post(f"{base}/v2/users/create_customer", headers=bearer, json={"customer": {
    "organization": {"name": "Reseller's Co", "parent_organization": reseller},
    "user": {"email": "admin@resold.st.test"}}})
ok(r, 201)
resold = ok(httpx.get(f"{base}{r.headers['location']}", headers=bearer))["data"]["attributes"]["organization"]["id"]
impersonation = ok(httpx.post(f"{base}/auth/impersonate?uuid={customers['impersonated'][0]}", headers=bearer))
impersonated = impersonation["token"]

# Values schemathesis draws from dictionaries (schemathesis.toml) for the
# pre-login flows: a token or a credential is either the real one or refused,
# so with generated values alone every case would be. One file per
# dictionary, libFuzzer's format (a quoted value a line).
# The operations that only read a token (`peek`) draw from their own pool,
# since those that spend one may run first.
for pool in ["peek", "spend"]:
    for i in range(3):
        ok(httpx.post(f"{base}/v2/users/create_customer", headers=bearer, json={"customer": {
            "organization": {"name": f"invited {pool} {i} Co"},
            "user": {"email": f"invited{i}@{pool}.tokens.st.test"}}}), 201)
        ok(httpx.post(f"{base}/v2/users/create_customer", headers=bearer, json={"customer": {
            "organization": {"name": f"unconfirmed {pool} {i} Co"},
            "user": {"email": f"unconfirmed{i}@{pool}.tokens.st.test", "password": password,
                     "password_confirmation": password}}}), 201)
for i in range(3):
    ok(httpx.post(f"{base}/admin/accounts", headers=admin,
        json={"email": f"reset{i}@spend.tokens.st.test", "password": password, "role": "user",
              "organization_id": customers["impersonated"][1]}), 201)
    ok(httpx.post(f"{base}/auth/password", headers={"x-api-key": app_key},
        json={"email": f"reset{i}@spend.tokens.st.test"}))
messages = ok(httpx.get(f"{base}/admin/outbox", headers=admin))["messages"]


def tokens(kind, pool):
    return [m["token"] for m in messages if m["kind"] == kind and m["to"].endswith(f"@{pool}.tokens.st.test")]


# Pending two-factor sign-ins, for `POST /auth/sms_otp`: the account enrolls
# its mobile phone with the factor, so a real state gets a code sent.
ok(httpx.post(f"{base}/admin/accounts", headers=admin, json={"email": "twofactor@spend.tokens.st.test",
    "password": password, "role": "user", "organization_id": customers["impersonated"][1]}), 201)
app = {"x-api-key": app_key}
session = ok(httpx.post(f"{base}/auth/sign_in", headers=app,
    json={"username": "twofactor@spend.tokens.st.test", "password": password}))["token"]
ok(httpx.put(f"{base}/v2/user/me", headers={"Authorization": f"Bearer {session}"},
    json={"user": {"mobile_phone": "+15550100", "current_password": password}}))
secret = ok(httpx.put(f"{base}/v2/user/enable_2fa", headers={"Authorization": f"Bearer {session}"},
    json={"password": password}))["secret"]
ok(httpx.put(f"{base}/v2/user/verify_2fa_installation", headers={"Authorization": f"Bearer {session}"},
    json={"otp_attempt": totp(secret)}))
otp_states = [ok(httpx.post(f"{base}/auth/sign_in", headers=app,
    json={"username": "twofactor@spend.tokens.st.test", "password": password}))["otp_session_state"]
    for _ in range(3)]
# A group of the reseller, for the users CloudCockpit makes there (a
# generated group id is never one of its groups).
group = ok(httpx.post(f"{base}/v1/users/groups", headers={"Authorization": f"Bearer {cc}", "X-Tenant": "127.0.0.1"},
    json={"name": "ST Engineers", "organizationId": reseller}), 201)
refresh = ok(httpx.post(f"{base}/iam/auth/jwt/login", json={"username": "gcore@st.test", "password": password}))["refresh"]
dictionaries = {
    "invitation_peek": tokens("invitation", "peek"), "invitation": tokens("invitation", "spend"),
    "confirmation_peek": tokens("confirmation", "peek"), "confirmation": tokens("confirmation", "spend"),
    "reset": tokens("password_reset", "spend"), "refresh": [refresh], "otp_state": otp_states,
    "revert": [impersonation["impersonator_revert_token"]],
    "operators": ["apiculus@st.test", "gcore@st.test"], "password": [password],
    "groups": [group], "organizations": [customers["impersonated"][1]],
}
out = pathlib.Path("target/schemathesis")
out.mkdir(parents=True, exist_ok=True)
# What schemathesis_hooks.py gives half the schema-valid cases whose rules
# are about stored state: the credentials to make fresh tokens and
# organizations with, and the tenant's live ids and reference data.
live = {
    "base": base, "admin_key": admin_key, "app_key": app_key, "clone": clone, "cc": cc, "scim": scim,
    "password": password,
    "invitation_peek": dictionaries["invitation_peek"][0], "confirmation_peek": dictionaries["confirmation_peek"][0],
    "customer": customers["impersonated"][1], "reseller": reseller,
    "impersonated": impersonated, "impersonated_user": customers["impersonated"][0], "seller": reseller_made["number"],
    "resold": resold, "reseller_group": group,
    # The catalog's plans but the default one, which a new organization holds.
    "plans": ["vrms_plan", "pci_plan", "pci-open"], "open_plans": ["pci-open"],
    # Seed 003's example, which the default reference data accepts, with
    # this tenant's reseller.
    "apiculus": {"countryCode": "91", "mobileNumber": "9876543210", "password": "UserSam@178",
                 "acsRegion": "noida", "state": "Karnataka", "country": "IN", "currency": "INR",
                 "tax_category": "Taxable", "tax_type1": "CNPJ", "taxation_id1": "3453242343234",
                 "tax_type2": "GSTIN", "taxation_id2": "1234567890", "tax_type3": "", "taxation_id3": "",
                 "resellerCode": "STR"},
}
(out / "live.json").write_text(json.dumps(live))
for name, values in dictionaries.items():
    assert values, f"no {name} value for the dictionaries"
    (out / f"{name}.dict").write_text("".join(json.dumps(v) + "\n" for v in values))

print(json.dumps({"app_key": app_key, "reseller": reseller, "clone": clone, "impersonated": impersonated, "cc": cc,
    "apiculus": apiculus, "gcore": gcore, "scim": scim}))
