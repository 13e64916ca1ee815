#!/usr/bin/env bash
# A desk's shared service on one machine: redis-server (the single-use ledger), the simulated
# Clear Street API (unless an API is configured), two replicas of clearstreet-positions-mcp over
# streamable HTTP with the same configuration, and haproxy spreading requests over them.
# Everything listens on loopback; Ctrl-C (or SIGTERM) stops everything it started.
# deploy/README.md describes every variable; `deploy/run-desk.sh --help` lists them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '/^# --- settings/,/^# --- end/p' "$0" | sed '1d;$d'
    exit 0
fi

# --- settings (environment variables; defaults after :-)
desk_dir="${DESK_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/clearstreet-positions-desk}"  # state, secrets, logs
bind="${DESK_BIND:-127.0.0.1}"                        # where the balancer listens
port="${DESK_PORT:-8080}"                             # the balancer's port: clients use http://BIND:PORT/mcp
replica_ports=("${DESK_REPLICA_A_PORT:-8001}" "${DESK_REPLICA_B_PORT:-8002}")  # the replicas, on 127.0.0.1
redis_port="${DESK_REDIS_PORT:-6390}"                 # redis-server on 127.0.0.1 (not started if POSITIONS_MCP_LEDGER is set)
simulator_port="${DESK_SIMULATOR_PORT:-8765}"         # the simulator (not started if CLEAR_STREET_BASE_URL/_ENVIRONMENT is set)
public_host="${DESK_PUBLIC_HOST:-localhost}"            # one more Host (name:port) the balancer accepts
mcp="${DESK_MCP_COMMAND:-clearstreet-positions-mcp}"  # the server's command
# Secrets: POSITIONS_MCP_TOKEN_SECRET, POSITIONS_MCP_HTTP_TOKEN and DESK_REDIS_PASSWORD from the
# environment, else from DESK_DIR/secrets.env, else generated (32 random bytes, hex) and kept there.
# Every other POSITIONS_MCP_* / CLEAR_STREET_* variable set here reaches both replicas unchanged.
# --- end

say() { printf 'desk: %s\n' "$*"; }
die() { printf 'desk: %s\n' "$*" >&2; exit 1; }

names=()
pids=()
stopping=0

stop_all() {
    # Stop in the reverse order of starting: the balancer first (no new requests), Redis last (the
    # replicas may be completing a confirmed action's ledger writes until they stop).
    [[ $stopping == 1 ]] && return
    stopping=1
    local i pid waited
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        pid="${pids[i]}"
        kill -0 "$pid" 2>/dev/null || continue
        kill -TERM "$pid" 2>/dev/null || true
        waited=0
        while kill -0 "$pid" 2>/dev/null && ((waited < 100)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            say "${names[i]} (pid $pid) did not stop within 10 s: killed"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
        say "stopped ${names[i]} (pid $pid)"
    done
}
trap stop_all EXIT
trap 'say "stopping…"; stop_all; exit 0' INT TERM HUP

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

need_free() {  # port, the variable that moves it
    ! port_open 127.0.0.1 "$1" || die "port $1 is already in use: set $2 to a free port"
}

# Each process runs in a session of its own (setsid), so the terminal's Ctrl-C reaches this script
# alone, which stops them one by one in order (see stop_all).
started() {  # name, pid
    names+=("$1")
    pids+=("$2")
}

wait_ready() {  # name, pid, log, command that succeeds once the process serves
    local name="$1" pid="$2" log="$3" deadline=$((SECONDS + 60))
    shift 3
    until "$@"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            die "$name did not start; the end of its log ($log):"$'\n'"$(tail -n 5 "$log")"
        fi
        ((SECONDS < deadline)) || die "$name did not answer within 60 s: see $log"
        sleep 0.1
    done
}

random_hex() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }

# --- what is needed, where state lives
command -v "$mcp" >/dev/null || die "$mcp not found: 'pip install .' in this repository (a virtualenv's bin on PATH), or set DESK_MCP_COMMAND"
haproxy="$(command -v haproxy || command -v /usr/sbin/haproxy)" || die "haproxy not found: install it (Debian/Ubuntu: apt-get install haproxy)"
mkdir -p "$desk_dir/logs"
chmod 700 "$desk_dir"
secrets="$desk_dir/secrets.env"
if [[ -f "$secrets" ]]; then
    saved_token_secret="$(sed -n 's/^POSITIONS_MCP_TOKEN_SECRET=//p' "$secrets")"
    saved_http_token="$(sed -n 's/^POSITIONS_MCP_HTTP_TOKEN=//p' "$secrets")"
    saved_redis_password="$(sed -n 's/^DESK_REDIS_PASSWORD=//p' "$secrets")"
else
    saved_token_secret="$(random_hex)" saved_http_token="$(random_hex)" saved_redis_password="$(random_hex)"
    (umask 077 && printf 'POSITIONS_MCP_TOKEN_SECRET=%s\nPOSITIONS_MCP_HTTP_TOKEN=%s\nDESK_REDIS_PASSWORD=%s\n' \
        "$saved_token_secret" "$saved_http_token" "$saved_redis_password" >"$secrets")
fi
token_secret="${POSITIONS_MCP_TOKEN_SECRET:-$saved_token_secret}"
redis_password="${DESK_REDIS_PASSWORD:-$saved_redis_password}"
if [[ -n "${POSITIONS_MCP_OAUTH_ISSUER:-}" ]]; then
    http_token="${POSITIONS_MCP_HTTP_TOKEN:-}"  # OAuth: people sign in; no shared token unless one is set
else
    http_token="${POSITIONS_MCP_HTTP_TOKEN:-$saved_http_token}"
fi

case "$bind" in
    127.* | localhost | ::1) ;;
    *) # what the server itself requires of a non-loopback address: the balancer is this desk's one
        if [[ -z "${POSITIONS_MCP_OAUTH_ISSUER:-}" && ${#http_token} -lt 32 ]]; then
            die "refusing to serve on $bind with a POSITIONS_MCP_HTTP_TOKEN under 32 bytes: use e.g. 'openssl rand -hex 32'"
        fi ;;
esac
need_free "$port" DESK_PORT
need_free "${replica_ports[0]}" DESK_REPLICA_A_PORT
need_free "${replica_ports[1]}" DESK_REPLICA_B_PORT
say "state in $desk_dir (secrets.env, logs/)"

# --- the ledger: redis-server with an append-only file synced at every write
if [[ -n "${POSITIONS_MCP_LEDGER:-}" ]]; then
    ledger="$POSITIONS_MCP_LEDGER"
    say "ledger: POSITIONS_MCP_LEDGER as set (no redis-server started here)"
else
    need_free "$redis_port" DESK_REDIS_PORT
    redis_server="$(command -v redis-server)" || die "redis-server not found: install it (Debian/Ubuntu: apt-get install redis-server)"
    mkdir -p "$desk_dir/redis"
    # The password goes in a file of mode 0600, not on the command line (where ps shows it).
    (umask 077 && cat >"$desk_dir/redis/redis.conf" <<EOF
bind 127.0.0.1
port $redis_port
dir $desk_dir/redis
daemonize no
appendonly yes
appendfsync always
save ""
requirepass $redis_password
EOF
    )
    setsid "$redis_server" "$desk_dir/redis/redis.conf" >"$desk_dir/logs/redis.log" 2>&1 </dev/null &
    started redis-server $!
    if command -v redis-cli >/dev/null; then
        redis_ready() { [[ "$(REDISCLI_AUTH="$redis_password" redis-cli -p "$redis_port" ping 2>/dev/null)" == PONG ]]; }
    else
        redis_ready() { port_open 127.0.0.1 "$redis_port"; }
    fi
    wait_ready redis-server "${pids[-1]}" "$desk_dir/logs/redis.log" redis_ready
    ledger="redis://:$redis_password@127.0.0.1:$redis_port/0"
    say "redis-server  pid ${pids[-1]}  127.0.0.1:$redis_port  (append-only, fsync always, password in secrets.env)"
fi

# --- the upstream API: the simulator, one process both replicas share, unless an API is configured
upstream=()
if [[ -n "${CLEAR_STREET_BASE_URL:-}${CLEAR_STREET_ENVIRONMENT:-}" ]]; then
    say "upstream: the API CLEAR_STREET_BASE_URL / CLEAR_STREET_ENVIRONMENT name (no simulator started)"
else
    need_free "$simulator_port" DESK_SIMULATOR_PORT
    setsid "$mcp" simulator --port "$simulator_port" --log-level WARNING >"$desk_dir/logs/simulator.log" 2>&1 </dev/null &
    started simulator $!
    wait_ready simulator "${pids[-1]}" "$desk_dir/logs/simulator.log" port_open 127.0.0.1 "$simulator_port"
    # the simulator takes any non-empty key; its demo accounts are 19816 and 122503
    upstream=(
        "CLEAR_STREET_BASE_URL=http://127.0.0.1:$simulator_port"
        "CLEAR_STREET_API_KEY=${CLEAR_STREET_API_KEY:-desk-simulator}"
        "POSITIONS_MCP_ALLOWED_ACCOUNTS=${POSITIONS_MCP_ALLOWED_ACCOUNTS:-19816,122503}"
        "POSITIONS_MCP_DEFAULT_ACCOUNT=${POSITIONS_MCP_DEFAULT_ACCOUNT:-19816}"
    )
    say "simulator     pid ${pids[-1]}  http://127.0.0.1:$simulator_port  (the simulated Clear Street API)"
fi

# --- two replicas, the same configuration but for the port and the audit log
replica_names=(replica-a replica-b)
replica_pids=()
for i in 0 1; do
    name="${replica_names[i]}"
    mkdir -p "$desk_dir/$name"
    env "${upstream[@]}" \
        POSITIONS_MCP_LEDGER="$ledger" \
        POSITIONS_MCP_TOKEN_SECRET="$token_secret" \
        POSITIONS_MCP_HTTP_TOKEN="$http_token" \
        POSITIONS_MCP_HTTP_STATELESS="${POSITIONS_MCP_HTTP_STATELESS:-true}" \
        POSITIONS_MCP_AUDIT_LOG="$desk_dir/$name/audit.jsonl" \
        setsid "$mcp" --transport streamable-http --host 127.0.0.1 --port "${replica_ports[i]}" \
        >"$desk_dir/logs/$name.log" 2>&1 </dev/null &
    started "$name" $!
    replica_pids+=($!)
done
for i in 0 1; do
    name="${replica_names[i]}"
    wait_ready "$name" "${replica_pids[i]}" "$desk_dir/logs/$name.log" port_open 127.0.0.1 "${replica_ports[i]}"
    say "$name     pid ${replica_pids[i]}  http://127.0.0.1:${replica_ports[i]}/mcp"
done

# --- the balancer
export DESK_BIND="$bind" DESK_PORT="$port" DESK_PUBLIC_HOST="$public_host"
export DESK_REPLICA_A="127.0.0.1:${replica_ports[0]}" DESK_REPLICA_B="127.0.0.1:${replica_ports[1]}"
"$haproxy" -c -q -f "$here/haproxy.cfg" || die "haproxy refused $here/haproxy.cfg (above)"
setsid "$haproxy" -db -f "$here/haproxy.cfg" >"$desk_dir/logs/haproxy.log" 2>&1 </dev/null &
started haproxy $!
wait_ready haproxy "${pids[-1]}" "$desk_dir/logs/haproxy.log" port_open "$bind" "$port"
url="http://$bind:$port/mcp"
say "haproxy       pid ${pids[-1]}  $url  (round robin over both replicas)"
say "ready"
cat <<EOF

Connect an MCP client (streamable HTTP) to
    $url
EOF
if [[ -z "$http_token" ]]; then
    echo "with an access token from the issuer POSITIONS_MCP_OAUTH_ISSUER names."
else
    if [[ -n "${POSITIONS_MCP_HTTP_TOKEN:-}" ]]; then
        token_shown="the POSITIONS_MCP_HTTP_TOKEN you set"
        token_cmd='$POSITIONS_MCP_HTTP_TOKEN'
    else
        token_shown="POSITIONS_MCP_HTTP_TOKEN in $secrets"
        token_cmd="\$(sed -n 's/^POSITIONS_MCP_HTTP_TOKEN=//p' $secrets)"
    fi
    cat <<EOF
sending the header
    Authorization: Bearer <$token_shown>
e.g. Claude Code:
    claude mcp add --transport http clearstreet-desk $url \\
        --header "Authorization: Bearer $token_cmd"
EOF
fi
cat <<EOF
Logs: $desk_dir/logs/ (haproxy.log has one line per request, naming the replica).
Audit: $desk_dir/replica-a/audit.jsonl and replica-b/audit.jsonl.
Ctrl-C stops everything.
EOF

# --- serve until asked to stop, or until one of the processes ends (then stop the rest)
while true; do
    for i in "${!pids[@]}"; do
        if ! kill -0 "${pids[i]}" 2>/dev/null; then
            wait "${pids[i]}" && status=0 || status=$?
            die "${names[i]} (pid ${pids[i]}) exited with status $status: see $desk_dir/logs/; stopping the rest"
        fi
    done
    wait -n || true
done
