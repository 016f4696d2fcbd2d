#!/usr/bin/env bash
# Start a throwaway server, run bench/run.py against it, stop everything.
#
#   bench/serve.sh [postgres|sqlite|node-oidc-provider] [bench/run.py options...]
#
#   postgres            (default) a throwaway PostgreSQL (scripts/with-postgres), `idp migrate`,
#                       `idp serve --workers 2` (BENCH_WORKERS to change): production-like.
#   sqlite              a SQLite file in a temp directory, `idp serve --workers 1`.
#   node-oidc-provider  the peer in bench/peer/node-oidc-provider (npm install on first use),
#                       one Node.js process, in-memory storage.
#
# Everything lives in a temp directory (database, KEK, signing keys, server log) and listens on
# 127.0.0.1 on a free port. On exit, error or signal the server's whole process group is stopped
# (TERM, then KILL after 5 s), PostgreSQL is stopped by scripts/with-postgres, and the temp
# directory is removed. The results go to bench/results/MODE-TIMESTAMP.json unless --json is
# given. Examples:
#
#   bench/serve.sh postgres --scenario all --duration 20 --concurrency 8
#   bench/serve.sh sqlite --scenario client_credentials --duration 10
#   bench/serve.sh node-oidc-provider --scenario client_credentials --duration 10
set -euo pipefail

prog=bench/serve.sh
die() { echo "$prog: $*" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"
PY=${BENCH_PYTHON:-$root/.venv/bin/python}
IDP=${BENCH_IDP:-$root/.venv/bin/idp}
[[ -x $PY ]] || die "no $PY: run 'make venv' first"

mode=postgres
if [[ $# -gt 0 && $1 != -* ]]; then
    mode=$1
    shift
fi
case $mode in
    postgres | sqlite | node-oidc-provider) ;;
    *) die "unknown mode '$mode' (postgres, sqlite, node-oidc-provider)" ;;
esac

# PostgreSQL: run this same script again inside scripts/with-postgres, which owns the database.
# It runs in the background so that any INT/TERM/HUP sent to us alone (not only a terminal's
# Ctrl-C to the whole group) becomes a TERM that with-postgres forwards to the inner script,
# whose cleanup stops the server before with-postgres stops PostgreSQL.
if [[ $mode == postgres && -z ${IDP_TEST_POSTGRES_URL:-} ]]; then
    pg_pid=""
    forward() {
        trap '' INT TERM HUP
        [[ -n $pg_pid ]] && kill -TERM "$pg_pid" 2>/dev/null
        wait "$pg_pid" 2>/dev/null || true
        exit "$1"
    }
    trap 'forward 130' INT
    trap 'forward 143' TERM
    trap 'forward 129' HUP
    "$root/scripts/with-postgres" "$here/serve.sh" postgres "$@" &
    pg_pid=$!
    set +e
    wait "$pg_pid"
    rc=$?
    set -e
    exit "$rc"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/idp-bench.XXXXXX")
server_pgid=""
bench_pid=""

stop_server() {
    local i
    [[ -n $server_pgid ]] || return 0
    if kill -0 -- "-$server_pgid" 2>/dev/null; then
        kill -TERM -- "-$server_pgid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 -- "-$server_pgid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 -- "-$server_pgid" 2>/dev/null; then
            echo "$prog: server did not stop in 5 s; killing it" >&2
            kill -KILL -- "-$server_pgid" 2>/dev/null || true
        fi
    fi
    server_pgid=""
}
cleanup() {
    local rc=$?
    # Ignore further signals (scripts/with-postgres forwards one more TERM) so that cleanup
    # always finishes; it takes at most a few seconds.
    trap - EXIT
    trap '' INT TERM HUP
    if [[ -n $bench_pid ]] && kill -0 "$bench_pid" 2>/dev/null; then
        kill -TERM "$bench_pid" 2>/dev/null || true
        wait "$bench_pid" 2>/dev/null || true
    fi
    stop_server
    rm -rf -- "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

port=$("$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()')
url="http://127.0.0.1:$port"

# Start "$@" in the background as the leader of its own process group (job control on for
# just this line), so that stop_server reaches every process it forks (uvicorn's workers).
start_group() {
    local log=$1
    shift
    set -m
    "$@" >"$log" 2>&1 </dev/null &
    server_pgid=$!
    set +m
    [[ $(ps -o pgid= -p "$server_pgid" | tr -d ' ') == "$server_pgid" ]] \
        || die "server is not in its own process group"
}

wait_ready() {
    local probe=$1 log=$2 i
    for ((i = 0; i < 300; i++)); do
        if curl -fsS --noproxy '*' --max-time 2 -o /dev/null "$url$probe" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$server_pgid" 2>/dev/null; then
            cat "$log" >&2
            die "the server exited during start-up"
        fi
        sleep 0.2
    done
    tail -n 50 "$log" >&2
    die "the server was not ready within 60 s"
}

run_args=()
watch=()
case $mode in
    postgres | sqlite)
        export IDP_VAR_DIR=$tmp/var IDP_ISSUER=$url
        # Required on PostgreSQL outside dev mode: one key-encryption key for every worker.
        IDP_KEY_ENCRYPTION_KEY=$("$PY" -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')
        export IDP_KEY_ENCRYPTION_KEY
        # Dev mode only because the server listens on plain http on loopback, which start-up
        # refuses outside it (idp.startup_checks); nothing measured differs (it adds the dev
        # mailbox and /api/docs, and keeps messages in the database; none are sent here).
        export IDP_DEV_MODE=true
        if [[ $mode == postgres ]]; then
            export IDP_DATABASE_URL=$IDP_TEST_POSTGRES_URL
            workers=${BENCH_WORKERS:-2}
            postmaster=$(head -n 1 "$IDP_TEST_PG_DATADIR/postmaster.pid")
            watch+=(--watch-pid "postgres=$postmaster")
        else
            export IDP_DATABASE_URL="sqlite+aiosqlite:///$tmp/idp.db"
            workers=1
        fi
        label="idp-$mode-${workers}w"
        "$IDP" migrate --json >/dev/null
        start_group "$tmp/server.log" "$IDP" serve --host 127.0.0.1 --port "$port" \
            --workers "$workers" --no-access-log --log-level warning
        wait_ready /readyz "$tmp/server.log"
        watch+=(--watch-pid "idp=$server_pgid")
        ;;
    node-oidc-provider)
        peer=$here/peer/node-oidc-provider
        command -v node >/dev/null || die "node is not installed"
        if [[ ! -d $peer/node_modules/oidc-provider || ! -d $peer/node_modules/argon2 ]]; then
            echo "$prog: installing the peer's npm packages ..." >&2
            (cd "$peer" && npm ci --no-audit --no-fund >&2)
        fi
        client_id=bench-$("$PY" -c 'import secrets; print(secrets.token_hex(4))')
        client_secret=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(32))')
        login=$("$PY" -c 'import secrets; print("+7999%07d" % secrets.randbelow(10**7))')
        password="Bq$("$PY" -c 'import secrets; print(secrets.token_hex(8))')7Z"
        label=node-oidc-provider-1p
        start_group "$tmp/server.log" env PORT="$port" BENCH_CLIENT_ID="$client_id" \
            BENCH_CLIENT_SECRET="$client_secret" BENCH_LOGIN="$login" BENCH_PASSWORD="$password" \
            NODE_ENV=production node "$peer/server.mjs"
        wait_ready /.well-known/openid-configuration "$tmp/server.log"
        watch+=(--watch-pid "node=$server_pgid")
        run_args+=(--client-id "$client_id" --client-secret "$client_secret"
            --login "$login" --password "$password")
        ;;
esac

has_json=0
for arg in "$@"; do
    [[ $arg == --json || $arg == --json=* ]] && has_json=1
done
if [[ $has_json -eq 0 ]]; then
    mkdir -p "$here/results"
    run_args+=(--json "$here/results/$label-$(date -u +%Y%m%dT%H%M%SZ).json")
fi

echo "$prog: $label at $url" >&2
# In the background + wait: a TERM/INT/HUP reaches our trap at once (bash runs traps only after
# a foreground command ends), and cleanup stops run.py and the server.
"$PY" "$here/run.py" --url "$url" --label "$label" "${watch[@]}" "${run_args[@]}" "$@" &
bench_pid=$!
set +e
wait "$bench_pid"
rc=$?
set -e
bench_pid=""
if grep -qiE 'error|traceback' "$tmp/server.log"; then
    echo "$prog: the server logged errors (last lines):" >&2
    grep -iE -A3 'error|traceback' "$tmp/server.log" | tail -n 20 >&2
fi
exit "$rc"
