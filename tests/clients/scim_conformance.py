"""Runs scim2-tester (the python-scim project's SCIM 2.0 conformance checker)
against a served app: discovery, then create, read, list, replace, patch and
delete of Users and Groups, as the service's own discovery describes them.

Usage: scim_conformance.py BASE_URL SCIM_TOKEN

Prints every check and a summary; exits 1 when a check fails, except the
ones listed in NOT_APPLICABLE, printed with why.

scim2-tester fills attributes with random values of their schema type. Two
rules of this service are not in any schema, so the random values are
adapted here, nowhere else: `userName` is the user's email (a random email
is generated), and `emails` holds that one address (the generated `emails`
carry the userName).
"""

import sys
import uuid

import httpx2 as httpx
import scim2_tester.filling as filling
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

base, token = sys.argv[1:3]

random_value = filling.generate_random_value


def generate(context, path, mutability=None, required=None):
    value = random_value(context, path, mutability=mutability, required=required)
    name = str(path)
    if value is not None and name.endswith("userName"):
        return f"{uuid.uuid4().hex[:12]}@scim-conformance.example"
    return value


def fill(context, obj, paths=None, mutability=None, required=None):
    obj = original_fill(context, obj, paths=paths, mutability=mutability, required=required)
    user_name = getattr(obj, "user_name", None)
    emails = getattr(obj, "emails", None)
    if user_name and emails:
        for email in emails:
            email.value = user_name
    return obj


original_fill = filling.fill_with_random_values
filling.generate_random_value = generate
filling.fill_with_random_values = fill
# The checkers imported the filler by name.
for module in list(sys.modules.values()):
    if module and getattr(module, "__name__", "").startswith("scim2_tester"):
        if getattr(module, "fill_with_random_values", None) is original_fill:
            module.fill_with_random_values = fill
        if getattr(module, "generate_random_value", None) is random_value:
            module.generate_random_value = generate

# Checks this service cannot pass by design: (resource, check, attribute)
# and why.
NOT_APPLICABLE = {
    ("User", "check_add_attribute", "emails"):
        "emails is the userName: another address is refused (400 invalidValue)",
    ("User", "check_replace_attribute", "emails"):
        "emails is the userName: another address is refused (400 invalidValue)",
    ("User", "check_remove_attribute", "emails"):
        "emails is the userName, always present",
    ("User", "check_remove_attribute", "active"):
        "active is the account's state, always true or false; removing it keeps it",
    ("User", "check_replace_attribute", "userName"):
        "a userName change is an email change: pending until the new address confirms it",
}

client = SyncSCIMClient(
    httpx.Client(base_url=f"{base}/scim/v2", headers={"Authorization": f"Bearer {token}"},
                 timeout=30)
)
results = check_server(client, raise_exceptions=False)
failed = 0
skipped = 0
for r in results:
    resource = getattr(r, "resource_type", None) or "-"
    title = getattr(r, "title", "?")
    reason = (getattr(r, "reason", "") or "").replace("\n", " ")
    status = r.status
    why = next(
        (w for (res, t, attribute), w in NOT_APPLICABLE.items()
         if resource == res and title == t and f"'{attribute}'" in reason),
        None,
    )
    if status == Status.ERROR and why:
        skipped += 1
        print(f"n/a   {resource:6} {title}: {reason[:160]} [why: {why}]")
    elif status == Status.ERROR:
        failed += 1
        print(f"FAIL  {resource:6} {title}: {reason[:400]}")
    else:
        print(f"{status.name.lower():5} {resource:6} {title}: {reason[:160]}")
print(f"scim2-tester: {len(results)} checks, {failed} failed, {skipped} not applicable")
sys.exit(1 if failed else 0)
