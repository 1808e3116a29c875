#!/usr/bin/env bash
# Runs schemathesis against the app served by the test host on a loopback
# port, once per API family with that family's credential. Operations that
# would end the run's own credential (sign-out, revoke, password change,
# logout) are left out. Bounded: 10 examples an operation.
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${ONBOARD_SCHEMATHESIS_PORT:-3456}
base="http://127.0.0.1:$port"
admin_key="schemathesis-admin-key"
cargo build --quiet -p onboard-test-host --bin onboard-test-host
SPIN_VARIABLE_ADMIN_KEY=$admin_key \
SPIN_VARIABLE_TOKEN_KEYS="t1:schemathesis-token-key-0123456789" \
SPIN_VARIABLE_PASSWORD_HASH_PARAMS="m=64,t=1,p=1" \
  ./target/debug/onboard-test-host serve --port "$port" > target/schemathesis-serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf "$base/health" > /dev/null && break
  sleep 1
done
creds=$(python3 tests/clients/schemathesis_bootstrap.py "$base" "$admin_key")
get() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$creds" "$1"; }
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance
run() {
  schemathesis run "$base/openapi.json" --url "$base" --max-examples 10 --checks "$checks" \
    --seed 1 --no-color "$@"
}
status=0
run --include-tag clone -H "Authorization: Basic $(get clone)" \
  --exclude-path /auth/sign_out --exclude-path /auth/sign_in \
  --exclude-path /v2/user/revoke_access_token --exclude-path /v2/user/generate_access_token \
  --exclude-path /v2/user/change_password || status=1
run --include-tag cloudcockpit -H "Authorization: Bearer $(get cc)" -H "X-Tenant: 127.0.0.1" \
  --exclude-path /oauth2/token || status=1
run --include-tag apiculus -H "x-access-token: $(get apiculus)" --exclude-path /auth/logout || status=1
run --include-tag gcore -H "Authorization: Bearer $(get gcore)" || status=1
run --include-tag admin --include-tag service -H "Authorization: Bearer $admin_key" -H "X-Tenant: st" \
  || status=1
exit $status
