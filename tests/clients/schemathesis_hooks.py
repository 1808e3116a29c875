"""Live values for the cases schemathesis generates (loaded by schemathesis.sh
through SCHEMATHESIS_HOOKS).

Some rules of a request are not about its shape but about what is stored:
a token is one the service mailed and has not spent, an organization or a
group exists and is in reach, a plan is in the tenant's catalog, a state is
one of the chosen country's, a date is still ahead, an organization to
delete has no users left. The document says these in descriptions; no
schema can make a generator meet them, so without help every schema-valid
case of such an operation is refused and its success path never runs.

The first schema-valid case of each test phase of those operations, and
half of the others, get the live values a real client would have (from an
email, from an earlier answer, from the tenant's reference data) just
before they are sent: fresh tokens and organizations are made through the
API as the run goes. Only the fields
that name stored state are replaced; the rest of the case stays as
generated, but for two equalities between fields that no schema states
(a SCIM user's `emails` is its `userName`; seed 000's
`password_confirmation` is its `password`). Cases generated to be invalid
are never touched. A fill whose setup fails (a fuzzed operation may have
disabled what it builds on) leaves its case as generated.

Every value comes from `target/schemathesis/live.json`, which
schemathesis_bootstrap.py writes.
"""

import datetime
import itertools
import json
import pathlib
import random
import sys
import uuid

import httpx
import schemathesis
from schemathesis import GenerationMode

LIVE = json.loads(pathlib.Path("target/schemathesis/live.json").read_text())
BASE = LIVE["base"]
ADMIN = {"Authorization": f"Bearer {LIVE['admin_key']}", "X-Tenant": "st"}
CLONE = {"Authorization": f"Bearer {LIVE['clone']}"}
CC = {"Authorization": f"Bearer {LIVE['cc']}", "X-Tenant": "127.0.0.1"}
APP = {"x-api-key": LIVE["app_key"]}
SCIM = {"Authorization": f"Bearer {LIVE['scim']}", "Content-Type": "application/scim+json"}
PASSWORD = LIVE["password"]
# Seeded like the run (--seed 1): the same cases get live values each run.
RNG = random.Random(1)
SERIAL = itertools.count()
# Each schemathesis process of a run loads this module afresh against the
# same server: the emails it makes differ by process.
NONCE = uuid.uuid4().hex[:8]
http = httpx.Client(base_url=BASE, timeout=30)


def made(r, status=201):
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r


def unique(label):
    return f"{label}{next(SERIAL)}-{NONCE}@live.st.test"


def outbox_token(kind, to):
    messages = made(http.get("/admin/outbox", headers=ADMIN), 200).json()["messages"]
    for m in reversed(messages):
        if m["kind"] == kind and m["to"] == to:
            return m["token"]
    raise LookupError(f"no {kind} message to {to} in the outbox")


def new_customer(password=None, parent=None):
    """A customer organization and its administrator: (user id, organization id, email)."""
    email = unique("customer")
    user = {"email": email}
    if password:
        user |= {"password": password, "password_confirmation": password}
    org = {"name": f"Live {next(SERIAL)} Co"}
    if parent:
        org["parent_organization"] = parent
    r = made(http.post("/v2/users/create_customer", headers=CLONE,
                       json={"customer": {"organization": org, "user": user}}))
    user_id = r.headers["location"].rsplit("/", 1)[-1]
    got = made(http.get(f"/v2/users/{user_id}", headers=CLONE), 200).json()
    return user_id, got["data"]["attributes"]["organization"]["id"], email


def invitation():
    _, _, email = new_customer()
    return outbox_token("invitation", email)


def confirmation():
    _, _, email = new_customer(password=PASSWORD)
    return outbox_token("confirmation", email)


def reset():
    """Sent by the admin API: the fuzzed `POST /auth/password` spends that route's budget."""
    email = unique("reset")
    account = made(http.post("/admin/accounts", headers=ADMIN, json={"email": email, "password": PASSWORD,
                   "role": "user", "organization_id": LIVE["customer"]})).json()
    made(http.post(f"/admin/accounts/{account['id']}/password_reset", headers=ADMIN), 200)
    return outbox_token("password_reset", email)


def body(case):
    return case.body if isinstance(case.body, dict) else None


def set_passwords(b, password):
    b["password"] = password
    if "password_confirmation" in b:
        b["password_confirmation"] = password


def invitation_accept(case):
    if (b := body(case)) is not None:
        b["invitation_token"] = invitation()
        set_passwords(b, "live-password-1")


def confirmation_confirm(case):
    if (b := body(case)) is not None:
        b["confirmation_token"] = confirmation()


def password_reset(case):
    if (b := body(case)) is not None:
        b["reset_password_token"] = reset()
        set_passwords(b, "live-password-2")


def peek(name, pool):
    def fill(case):
        case.query = {**(case.query or {}), name: LIVE[pool]}
    return fill


def enable_2fa(case):
    if (b := body(case)) is not None:
        b["password"] = PASSWORD


def subscribe(case):
    """A plan of the catalog, on a fresh organization (which holds only the default plan)."""
    b = body(case)
    if b is None:
        return
    r = made(http.post("/v2/organizations", headers=CLONE, json={"organization": {
        "name": f"Live {next(SERIAL)} Org"}}))
    case.path_parameters = {**case.path_parameters, "id": r.json()["data"]["id"]}
    b["plan"] = RNG.choice(LIVE["plans"])
    if b["plan"] not in LIVE["open_plans"]:
        b.pop("features", None)
    in_order(b)


def create_customer(case):
    """A new email, the confirmation equal to the password, organizations that exist, plans of the catalog."""
    b = body(case)
    customer = b.get("customer") if b is not None else None
    if not isinstance(customer, dict):
        return
    if isinstance(user := customer.get("user"), dict):
        user["email"] = unique("clone")
        if "password_confirmation" in user and isinstance(user.get("password"), str):
            user["password_confirmation"] = user["password"]
    if "organization_id" in customer:
        customer["organization_id"] = LIVE["customer"]
    if isinstance(org := customer.get("organization"), dict) and "parent_organization" in org:
        org["parent_organization"] = LIVE["reseller"]
    for plan in customer.get("plans") or []:
        if isinstance(plan, dict):
            plan["plan"] = RNG.choice(LIVE["plans"])
            in_order(plan)


def instant(text):
    """A date or date-time as the service reads it (no zone: UTC)."""
    value = datetime.datetime.fromisoformat(text.replace(" ", "T", 1))
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


def in_order(b):
    """`end_date` not before `start_date` (dates Python cannot read, such as year 0 or a leap second, stay)."""
    if isinstance(b.get("start_date"), str) and isinstance(b.get("end_date"), str):
        try:
            swap = instant(b["end_date"]) < instant(b["start_date"])
        except ValueError:
            return
        if swap:
            b["start_date"], b["end_date"] = b["end_date"], b["start_date"]


def clone_user_update(case):
    """A customer's user, moved (if the case moves it) into another customer."""
    b = body(case)
    user_id, _, _ = new_customer()
    case.path_parameters = {**case.path_parameters, "id": user_id}
    if b is not None and isinstance(b.get("user"), dict) and "organization_id" in b["user"]:
        b["user"]["organization_id"] = new_customer()[1]


def cc_customer_user(case):
    """A customer of the reseller, and the reseller's group (customers hold none)."""
    case.path_parameters = {**case.path_parameters, "customerId": LIVE["resold"]}
    named_reseller(case)
    cc_new_user(case, LIVE["reseller_group"])


def cc_reseller_user(case):
    cc_new_user(case, LIVE["reseller_group"])


def cc_new_user(case, group):
    """An email no user holds, an `id` (the operation's key) not used before, and a group that exists."""
    if (b := body(case)) is None:
        return
    b["email"] = unique("cc")
    if "id" in b:
        b["id"] = str(uuid.UUID(int=RNG.getrandbits(128), version=4))
    in_group(b, group)


def in_group(b, group):
    """Every group the body names is `group`."""
    if isinstance(b.get("groups"), list):
        b["groups"] = [{**g, "id": group} if isinstance(g, dict) else g for g in b["groups"]]


def cc_delete_customer(case):
    """A customer with no users yet (one with users is kept, 400), made by the
    CSP client itself under the reseller; a `resellerId` the case names is
    that reseller (another is 403). No other family's credential is involved:
    their fuzzing, which runs before, may have ended any of them."""
    r = made(http.post("/v1/Customers", headers=CC, json={
        "companyName": f"Live {next(SERIAL)} Empty", "country": "PT", "addressLine1": "Rua 1",
        "city": "Lisboa", "state": "Lisboa", "zip": "1000-001", "firstName": "Ana",
        "lastName": "Silva", "email": unique("csp"), "phone": "+351000000", "role": {},
        "resellerId": LIVE["reseller"]}))
    case.path_parameters = {**case.path_parameters, "customerId": r.json()}
    named_reseller(case)


def named_reseller(case):
    """A `resellerId` the case names is the reseller of what it reaches (another is 403)."""
    if case.query and "resellerId" in case.query:
        case.query["resellerId"] = LIVE["reseller"]


def cc_user_by_email(case):
    """A user of a customer of the reseller, made by the CSP client itself (as
    for DELETE /v1/Customers); the body's `id`, if any, is that user's."""
    email = unique("ccuser")
    user_id = made(http.post(f"/v1/customer/{LIVE['resold']}/users", headers=CC, json={
        "firstName": "Ana", "lastName": "Silva", "email": email, "role": {},
        "groups": [{"id": LIVE["reseller_group"]}]})).json()
    case.path_parameters = {**case.path_parameters, "email": email}
    named_reseller(case)
    if (b := body(case)) is None:
        return
    if "id" in b:
        b["id"] = user_id
    if "email" in b:
        b["email"] = unique("cc")
    in_group(b, LIVE["reseller_group"])


def scim_new_user():
    """A User the SCIM connection makes: its id."""
    return made(http.post("/scim/v2/Users", headers=SCIM, json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": unique("member")})).json()["id"]


def scim_replace_user(case):
    """A User that exists, replaced as `scim_user` makes one."""
    case.path_parameters = {**case.path_parameters, "id": scim_new_user()}
    scim_user(case)


def scim_user(case):
    """A userName no user holds yet; `emails` holds it, the one address a user has."""
    b = body(case)
    if b is None or not isinstance(b.get("userName"), str):
        return
    b["userName"] = unique("scim")
    if isinstance(b.get("emails"), list) and b["emails"]:
        first = b["emails"][0] if isinstance(b["emails"][0], dict) else {}
        b["emails"] = [{**first, "value": b["userName"]}]
    if "password" in b:
        b["password"] = "live-password-3"


def scim_group(case):
    """A displayName no group holds yet; its members a User the connection just made."""
    b = body(case)
    if b is None or not isinstance(b.get("displayName"), str):
        return
    b["displayName"] = f"Live group {next(SERIAL)}-{RNG.randrange(10**9)}"
    if isinstance(b.get("members"), list) and b["members"]:
        member = scim_new_user()
        b["members"] = [{**m, "value": member} if isinstance(m, dict) else m for m in b["members"]]


def apiculus_user(case):
    """The tenant's reference data (a state of the country, its currency, tax types, a reseller), and a new email."""
    if (b := body(case)) is not None:
        b.update({key: value for key, value in LIVE["apiculus"].items() if key in b}, email=unique("apiculus"))


def gcore_user(case):
    """An email no user holds yet, and (if the case names one) a seller that exists."""
    if (b := body(case)) is not None:
        b["email"] = unique("gcore")
        if "seller" in b:
            b["seller"] = LIVE["seller"]


def gcore_token(case):
    if (b := body(case)) is not None and isinstance(b.get("exp_date"), str):
        ahead = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=RNG.randrange(1, 365))
        b["exp_date"] = ahead.strftime("%Y-%m-%dT%H:%M:%SZ")


def end_impersonation(case):
    """A fresh impersonation of the customer's administrator: its session, and its revert token."""
    r = made(http.post(f"/auth/impersonate?uuid={LIVE['impersonated_user']}", headers=CLONE), 200).json()
    if case.headers is None:
        case.headers = {}
    case.headers["Authorization"] = f"Bearer {r['token']}"
    if (b := body(case)) is not None:
        b["impersonator_revert_token"] = r["impersonator_revert_token"]
    else:
        case.query = {**(case.query or {}), "impersonator_revert_token": r["impersonator_revert_token"]}


def sign_in(name_field, account):
    """The credentials of an account the bootstrap made."""
    def fill(case):
        if (b := body(case)) is not None:
            b[name_field] = account
            b["password"] = PASSWORD
    return fill


def admin_account(case):
    """An organization the role belongs in: none for an operator."""
    b = body(case)
    if b is None:
        return
    home = {"reseller_admin": LIVE["reseller"], "customer_admin": LIVE["customer"], "user": LIVE["customer"]}
    if b.get("role") in home:
        b["organization_id"] = home[b["role"]]
    elif b.get("role") == "operator":
        b.pop("organization_id", None)


LIVE_VALUES = {
    "GET /auth/invitation": peek("invitation_token", "invitation_peek"),
    "PUT /auth/invitation": invitation_accept,
    "GET /auth/confirmation": peek("confirmation_token", "confirmation_peek"),
    "POST /auth/confirmation": confirmation_confirm,
    "PUT /auth/password": password_reset,
    "PUT /v2/user/enable_2fa": enable_2fa,
    "POST /v2/organizations/{id}/subscribe": subscribe,
    "POST /v2/users/create_customer": create_customer,
    "PUT /v2/users/{id}": clone_user_update,
    "POST /v1/customer/{customerId}/users": cc_customer_user,
    "POST /v1/reseller/{resellerId}/users": cc_reseller_user,
    "DELETE /v1/Customers/{customerId}": cc_delete_customer,
    "PATCH /v1/users/{email}": cc_user_by_email,
    "POST /scim/v2/Users": scim_user,
    "PUT /scim/v2/Users/{id}": scim_replace_user,
    "POST /scim/v2/Groups": scim_group,
    "PUT /scim/v2/Groups/{id}": scim_group,
    "POST /api/pass/createNewUser": apiculus_user,
    "POST /iam/users": gcore_user,
    "POST /iam/v2/clients/{clientId}/tokens": gcore_token,
    "POST /admin/accounts": admin_account,
    "DELETE /auth/impersonate": end_impersonation,
    "POST /iam/auth/jwt/login": sign_in("username", "gcore@st.test"),
    "POST /auth/login": sign_in("email", "apiculus@st.test"),
}


# (operation, phase) pairs that have had a case with live values: the first
# schema-valid case of each phase always gets them, since a phase may make
# only one or two.
FILLED = set()


@schemathesis.hook
def before_call(context, case, **kwargs):
    label = f"{case.method.upper()} {case.operation.path}"
    fill = LIVE_VALUES.get(label)
    meta = case.meta
    if fill is None or meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return
    phase = (label, str(meta.phase.name))
    if phase not in FILLED or RNG.random() < 0.5:
        try:
            fill(case)
        except Exception as e:  # noqa: BLE001 - any failed setup leaves the case as generated
            print(f"schemathesis_hooks: no live values for {label}: {e!r}", file=sys.stderr)
            return
        FILLED.add(phase)
