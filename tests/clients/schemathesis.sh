#!/usr/bin/env bash
# Runs schemathesis against a served app (a real `spin up`, see
# tests/real-spin.sh), once per API family with that family's credential, and
# scim2-tester (tests/clients/scim_conformance.py) on the SCIM routes.
# Operations that would end the run's own credential (sign-out, revoke,
# password change, logout) are left out. Bounded: 10 examples an operation.
#
#   bash tests/clients/schemathesis.sh BASE_URL ADMIN_KEY
#
# The app must be fresh: the bootstrap makes the tenant `st` on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
base=$1
admin_key=$2
creds=$(python3 tests/clients/schemathesis_bootstrap.py "$base" "$admin_key")
# The dictionaries hold live tokens and passwords: gone when the run ends.
trap 'rm -rf target/schemathesis' EXIT
get() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$creds" "$1"; }
# Live values for the cases whose rules are about stored state (tokens,
# organizations, reference data): schemathesis_hooks.py.
export PYTHONPATH="tests/clients${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=schemathesis_hooks
# Read by schemathesis.toml.
ONBOARD_RESELLER_ID=$(get reseller)
export ONBOARD_RESELLER_ID
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance
# No example database: a run replays nothing an earlier one found, so a
# fresh CI machine and a developer's checkout generate the same cases.
run() {
  schemathesis --config-file tests/clients/schemathesis.toml run "$base/openapi.json" --url "$base" --max-examples 10 --checks "$checks" \
    --seed 1 --generation-database none --no-color "$@"
}
status=0
# Each family fuzzes with an account of its own, and the families whose
# verbs reach furthest go last: Clone's operator may delete a peer operator
# and CloudCockpit's CSP client a user by email, either of which ends another
# family's credential. SCIM before them: its connection provisions a customer any
# of them may delete. A real client's conformance suite (scim2-tester), then
# the fuzzing.
# The one verb only an impersonated session calls, ending the impersonation,
# goes first: any family's fuzzing may disable or delete the impersonated
# customer's administrator, and with it the session. The run passes no
# credential: the cases schemathesis_hooks.py fills carry a fresh
# impersonation each (a case that ended a shared one would leave every later
# case a 401); the others are refused as unauthenticated.
run --include-name "DELETE /auth/impersonate" || status=1
echo "== scim2-tester"
python3 tests/clients/scim_conformance.py "$base" "$(get scim)" || status=1
run --include-tag scim -H "Authorization: Bearer $(get scim)" || status=1
run --include-tag apiculus -H "x-access-token: $(get apiculus)" --exclude-path /auth/logout || status=1
run --include-tag gcore -H "Authorization: Bearer $(get gcore)" || status=1
# Clone: the operator's session, and the tenant's application key for the
# pre-login flows (sign-in and sign-out, which would end the session, aside).
run --include-tag clone -H "Authorization: Bearer $(get clone)" -H "x-api-key: $(get app_key)" \
  --exclude-path /auth/sign_out --exclude-path /auth/sign_in \
  --exclude-path /v2/user/revoke_access_token --exclude-path /v2/user/generate_access_token \
  --exclude-path /v2/user/change_password --exclude-name "DELETE /auth/impersonate" || status=1
run --include-tag cloudcockpit -H "Authorization: Bearer $(get cc)" -H "X-Tenant: 127.0.0.1" \
  --exclude-path /oauth2/token || status=1
run --include-tag admin --include-tag service -H "Authorization: Bearer $admin_key" -H "X-Tenant: st" \
  || status=1
exit $status
