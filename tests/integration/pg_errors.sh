#!/usr/bin/env bash
# Bad input and a misbehaving server on the PostgreSQL path: each gives one
# clear error line and the right exit status, a query that was attempted
# leaves an audit record, and the next command (or, in pg_errors_pool, the
# same process) is served again. Cases: a wrong password, an unreachable
# server, a server that went away and came back, a password inside a
# postgresql:// URL or a key=value DSN (refused, never echoed), sslmode and
# sslrootcert reaching libpq, an expired statement timeout; then the C
# program (argument 2) for the pool, a connection killed mid-query and a
# server stopped under a running process.
# The cluster is this test's own: initdb with scram-sha-256 password
# authentication, a unix socket in a temporary directory plus 127.0.0.1 on
# a free port (TLS options only matter over TCP), TLS on with a throwaway
# self-signed certificate when openssl is installed. Removed on exit.
set -u
BUILD=$1
POOL=${2:-$BUILD/tests/pg_errors_pool}
DC=$BUILD/datachat

skip_or_fail() {
    if [ "${CI:-}" = true ]; then echo "FAIL: $*"; exit 1; fi
    echo "$*; skipping"
    exit 77
}
PG_BIN=""
for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && PG_BIN=$d
done
[ -n "$PG_BIN" ] || skip_or_fail "PostgreSQL server binaries (initdb, pg_ctl) not installed"
command -v psql >/dev/null || skip_or_fail "psql missing"
[ -x "$DC" ] || { echo "FAIL: $DC not built"; exit 1; }
[ -x "$POOL" ] || { echo "FAIL: $POOL not built"; exit 1; }
[ -f "$BUILD/plugins/connector-postgres.so" ] || { echo "FAIL: connector-postgres not built"; exit 1; }

AS=""
if [ "$(id -u)" -eq 0 ]; then
    # initdb refuses root: the cluster belongs to an unprivileged user.
    if id postgres >/dev/null 2>&1; then AS=postgres; else AS=nobody; fi
fi
as_owner() { if [ -n "$AS" ]; then runuser -u "$AS" -- "$@"; else "$@"; fi; }

T=$(mktemp -d /tmp/dc-pge.XXXXXX) # short: a socket path stays under ~100 bytes
chmod 755 "$T"
[ -z "$AS" ] || chown "$AS" "$T"
PW="pw-$$-$RANDOM"
stop_server() {
    [ -f "$T/data/postmaster.pid" ] || return 0
    as_owner "$PG_BIN/pg_ctl" -D "$T/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
        as_owner "$PG_BIN/pg_ctl" -D "$T/data" -m immediate -w stop >/dev/null 2>&1
}
cleanup() {
    stop_server
    rm -rf "$T"
}
trap cleanup EXIT

printf '%s\n' "$PW" >"$T/pwfile"
[ -z "$AS" ] || chown "$AS" "$T/pwfile"
if ! as_owner "$PG_BIN/initdb" -D "$T/data" -U datachat --auth=scram-sha-256 \
        --pwfile="$T/pwfile" -E UTF8 --no-sync >"$T/initdb.log" 2>&1; then
    echo "FAIL: initdb"; sed 's/^/    /' "$T/initdb.log"; exit 1
fi
rm -f "$T/pwfile"
# A free TCP port on 127.0.0.1: a random one nothing answers on (pg_ctl
# below fails with its log if another process takes it first).
free_port() {
    local p i
    for i in $(seq 50); do
        p=$((20000 + RANDOM % 40000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    return 1
}
TCP_PORT=$(free_port) || { echo "FAIL: no free TCP port on 127.0.0.1"; exit 1; }
TLS_OPTS=""
if command -v openssl >/dev/null &&
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
            -addext subjectAltName=IP:127.0.0.1 -keyout "$T/server.key" -out "$T/server.crt" \
            >"$T/openssl.log" 2>&1 &&
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca \
            -keyout "$T/other.key" -out "$T/other.crt" >>"$T/openssl.log" 2>&1; then
    chmod 600 "$T/server.key"
    [ -z "$AS" ] || chown "$AS" "$T/server.key"
    TLS_OPTS="-c ssl=on -c ssl_cert_file=$T/server.crt -c ssl_key_file=$T/server.key"
fi
START_CMD="$PG_BIN/pg_ctl -D $T/data -l $T/server.log -w -t 60 -o \"-c listen_addresses=127.0.0.1 -k $T -p $TCP_PORT -c fsync=off $TLS_OPTS\" start"
STOP_CMD="$PG_BIN/pg_ctl -D $T/data -m fast -w -t 30 stop"
if [ -n "$AS" ]; then
    START_CMD="runuser -u $AS -- $START_CMD"
    STOP_CMD="runuser -u $AS -- $STOP_CMD"
fi
eval "$START_CMD" >/dev/null 2>&1 || { echo "FAIL: the server did not start"; sed 's/^/    /' "$T/server.log"; exit 1; }

export PGHOST=$T PGPORT=$TCP_PORT PGUSER=datachat PGDATABASE=postgres PGPASSWORD=$PW
unset PGSSLMODE PGSSLROOTCERT PGSERVICE PGPASSFILE
export DC_PGE_STOP="$STOP_CMD >/dev/null 2>&1" DC_PGE_START="$START_CMD >/dev/null 2>&1"

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { # expect CODE NAME -- CMD...: stdout/stderr in $T/out, $T/err
    local code=$1 name=$2
    shift 3
    timeout 120 "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" -ne "$code" ]; then
        bad "$name: exit $rc, wanted $code"
        sed 's/^/    out: /' "$T/out" | head -5
        sed 's/^/    err: /' "$T/err" | head -5
        return 1
    fi
    ok
}
has() { # has FILE TEXT NAME
    if grep -qF -- "$2" "$1"; then ok; else
        bad "$3: '$2' not in output"
        sed 's/^/    | /' "$1" | head -8
    fi
}
lacks() { # lacks FILE TEXT NAME
    if grep -qF -- "$2" "$1"; then
        bad "$3: '$2' unexpectedly in output"
        sed 's/^/    | /' "$1" | head -8
    else ok; fi
}
one_line() { # one_line NAME: the error is one line (two with a leading "error:" banner at most)
    if [ "$(wc -l <"$T/err")" -le 2 ]; then ok; else
        bad "$1: the error spans $(wc -l <"$T/err") lines"
        sed 's/^/    | /' "$T/err" | head -8
    fi
}
audited() { # audited TEXT NAME: the last audit record mentions TEXT
    if [ -f "$T/audit.jsonl" ] && tail -n 1 "$T/audit.jsonl" | grep -qF -- "$1"; then ok; else
        bad "$2: the last audit record does not mention '$1'"
        tail -n 1 "$T/audit.jsonl" 2>/dev/null | cut -c1-400 | sed 's/^/    | /'
    fi
}

write_config() { # write_config FILE "yaml options of the database" [limits]
    local limits=${3:-"{max_rows: 1000, timeout_ms: 30000}"}
    cat >"$1" <<YAML
version: 1
databases:
  shop: {connector: postgres, user: datachat, dbname: postgres, connect_timeout_s: 3, $2}
pipeline:
  entry: intent
  stages:
    intent: {use: intent, on: {catalog: catalog, sql: reply, metric: reply, tool: reply, clarify: reply, refuse: reply}}
    catalog: {use: catalog, on: {ok: reply, not_found: reply}}
    reply: {use: answer}
audit: {path: audit.jsonl, fsync: always}
limits: $limits
YAML
}
SOCK="host: \"$T\", port: \"$TCP_PORT\""
TCP="host: 127.0.0.1, port: \"$TCP_PORT\""

# ---- the password -----------------------------------------------------------------
export DC_PGE_GOOD_PW=$PW DC_PGE_BAD_PW="not-$PW"
write_config "$T/good.yaml" "$SOCK, password_env: DC_PGE_GOOD_PW"
expect 0 "right password" -- "$DC" --config "$T/good.yaml" sql "SELECT 41 + 1 AS n"
has "$T/out" "42" "right password"
write_config "$T/badpw.yaml" "$SOCK, password_env: DC_PGE_BAD_PW"
expect 1 "wrong password" -- "$DC" --config "$T/badpw.yaml" sql "SELECT 1"
has "$T/err" "password authentication failed" "wrong password"
has "$T/err" "E-DB-AUTH" "wrong password: its own code"
has "$T/err" "password_env" "wrong password: what to do"
lacks "$T/err" "not-$PW" "wrong password: never echoed"
one_line "wrong password"
audited "SELECT 1" "wrong password"
audited "error" "wrong password"
audited "E-DB-AUTH" "wrong password: code audited"

# ---- an unreachable server -------------------------------------------------------
mkdir -p "$T/nosrv"
write_config "$T/unreach.yaml" "host: \"$T/nosrv\", port: \"$TCP_PORT\""
expect 1 "no server at the socket" -- "$DC" --config "$T/unreach.yaml" sql "SELECT 2"
has "$T/err" "cannot connect" "no server at the socket"
has "$T/err" "E-DB-UNREACHABLE" "no server at the socket: its own code"
has "$T/err" "check host and port" "no server at the socket"
one_line "no server at the socket"
audited "SELECT 2" "no server at the socket"

# ---- the server goes away and comes back ---------------------------------------------
eval "$DC_PGE_STOP" || bad "stopping the server"
expect 1 "server stopped" -- "$DC" --config "$T/good.yaml" sql "SELECT 3"
has "$T/err" "cannot connect" "server stopped"
has "$T/err" "E-DB-UNREACHABLE" "server stopped: its own code"
audited "E-DB-UNREACHABLE" "server stopped: code audited"
one_line "server stopped"
audited "SELECT 3" "server stopped"
eval "$DC_PGE_START" || bad "restarting the server"
expect 0 "server back" -- "$DC" --config "$T/good.yaml" sql "SELECT 4 AS n"
has "$T/out" "4" "server back"

# ---- a password inside the DSN is refused and never echoed -----------------------------
write_config "$T/url.yaml" "dsn: \"postgresql://datachat:sekrit$$@/postgres?host=$T&port=$TCP_PORT\""
expect 2 "password in a postgresql:// URL" -- "$DC" --config "$T/url.yaml" sql "SELECT 1"
has "$T/err" "holds a password" "password in a postgresql:// URL"
lacks "$T/err" "sekrit$$" "password in a postgresql:// URL: never echoed"
one_line "password in a postgresql:// URL"
write_config "$T/kv.yaml" "dsn: \"host=$T port=$TCP_PORT password=sekrit$$\""
expect 2 "password in a key=value DSN" -- "$DC" --config "$T/kv.yaml" sql "SELECT 1"
has "$T/err" "holds a password" "password in a key=value DSN"
lacks "$T/err" "sekrit$$" "password in a key=value DSN: never echoed"
URL="postgresql://datachat:sekrit$$@127.0.0.1:$TCP_PORT/postgres"
expect 2 "password in an ad-hoc --db URL" -- "$DC" --db "$URL" sql "SELECT 1"
lacks "$T/err" "sekrit$$" "password in an ad-hoc --db URL: never echoed"
has "$T/err" "password" "password in an ad-hoc --db URL"
# The same URL without the password, the password from the environment: fine.
expect 0 "URL without a password" -- "$DC" --config "$T/good.yaml" --db "postgresql://datachat@127.0.0.1:$TCP_PORT/postgres" sql "SELECT 5 AS n"

# ---- TLS options reach libpq --------------------------------------------------------
tls() { # tls NAME EXIT "yaml options" [TEXT in stderr]
    write_config "$T/tls.yaml" "$TCP, password_env: DC_PGE_GOOD_PW, $3"
    expect "$2" "$1" -- "$DC" --config "$T/tls.yaml" sql "SELECT 8 AS n" || return 0
    if [ "$2" -eq 0 ]; then has "$T/out" "8" "$1"; else
        has "$T/err" "$4" "$1"
        one_line "$1"
    fi
}
if [ -n "$TLS_OPTS" ]; then
    tls "sslmode require over TLS" 0 "sslmode: require"
    tls "verify-full with the server's CA" 0 "sslmode: verify-full, sslrootcert: \"$T/server.crt\""
    tls "verify-ca with another CA" 1 "sslmode: verify-ca, sslrootcert: \"$T/other.crt\"" "certificate verify failed"
    has "$T/err" "check sslmode and sslrootcert" "verify-ca with another CA: what to do"
    tls "sslrootcert that does not exist" 1 "sslmode: verify-full, sslrootcert: \"$T/no-such-ca.pem\"" "no-such-ca.pem"
else
    echo "openssl missing: TLS checked against a server without TLS only"
    tls "sslmode require against a server without TLS" 1 "sslmode: require" "server does not support SSL"
    has "$T/err" "check sslmode and sslrootcert" "sslmode require: what to do"
fi
tls "sslmode that libpq does not know" 1 "sslmode: sometimes" "sometimes"
tls "sslmode disable over TCP" 0 "sslmode: disable"

# ---- pool_size is checked --------------------------------------------------------------
# A config error (exit 2) with the file and line, before any connection.
for n in 0 65; do
    write_config "$T/pool$n.yaml" "$SOCK, password_env: DC_PGE_GOOD_PW, pool_size: $n"
    expect 2 "pool_size $n" -- "$DC" --config "$T/pool$n.yaml" sql "SELECT 1"
    has "$T/err" "pool$n.yaml:" "pool_size $n: file"
    has "$T/err" "E-CFG-RANGE" "pool_size $n: code"
    has "$T/err" "pool_size is $n, outside 1..64" "pool_size $n: what"
done

# ---- an expired statement timeout ----------------------------------------------------------
write_config "$T/slow.yaml" "$SOCK, password_env: DC_PGE_GOOD_PW" "{max_rows: 1000, timeout_ms: 300}"
expect 1 "statement timeout" -- "$DC" --config "$T/slow.yaml" sql "SELECT count(*) FROM generate_series(1, 2000000000)"
has "$T/err" "E-GATE-TIMEOUT" "statement timeout"
one_line "statement timeout"
audited "E-GATE-TIMEOUT" "statement timeout"
expect 0 "after the timeout" -- "$DC" --config "$T/slow.yaml" sql "SELECT 7 AS n"

echo "pg_errors (CLI): $pass passed, $fail failed"

# ---- in one process: the pool, a killed connection, the server going away ----------------
"$POOL" "$BUILD"
prc=$?
[ "$prc" -eq 0 ] || bad "pg_errors_pool exited $prc"
[ "$fail" -eq 0 ]
