#!/bin/sh
# ABI 1.3 capabilities: what a plugin declares is what its host table holds.
#
#   plugins_caps.sh SRC BUILD
#
# Builds one probe stage that calls ctx_query, three ways: declaring no
# capability, declaring db.query, and against the frozen ABI 1.0 headers
# (no declaration at all). Checks that `plugins check`, `info`, `list
# --json` and `install` show what each declares; that the first one's query
# fails with E-PLUGIN-CAPABILITY naming the plugin and the capability (a
# clear error, exit 1, no crash); and that the other two run the query.
# A tool built with DC_CAP_NONE that calls ctx_schema gets the same error
# through `tools call`. Finally a small program on the SDK test kit checks
# that dc_test_use_descriptor gives a plugin's unit tests the same table.
# Exit 77 only when cc or sqlite3 is missing.
set -eu

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

[ $# -eq 2 ] || fail "usage: $0 SRC BUILD"
src=$1
build=$2
dc=$build/datachat
[ -x "$dc" ] || fail "$dc is not built"
for t in cc sqlite3; do
    command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t is not installed" >&2; exit 77; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dc-caps.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
chmod 0700 "$tmp"
mkdir "$tmp/p13" "$tmp/p10" "$tmp/cand"

cat >"$tmp/probe.c" <<'EOF2'
#include <stddef.h>
#include <datachat/host.h>

static const struct dc_host *host;
static const char *const probe_outcomes[] = {"ok", NULL};

static int probe_init(const struct dc_host *h, const struct dc_opts *o, void **st, char *err,
                      size_t errlen)
{
    (void)o; (void)err; (void)errlen;
    host = h;
    *st = NULL;
    return DC_OK;
}

static void probe_fini(void *st) { (void)st; }

static int probe_run(void *st, struct dc_ctx *ctx, const char **outcome)
{
    (void)st;
    struct dc_result *r = NULL;
    int rc = host->ctx_query(ctx, NULL, "SELECT count(*) FROM t", NULL, 0, &r);
    if (rc != DC_OK)
        return rc;
    const struct dc_value *v = host->result_get(r, 0, 0);
    host->ctx_set(ctx, "answer", v && v->type == DC_INT && v->v.i == 3 ? "probe counted 3"
                                                                       : "probe miscounted");
    host->result_free(r);
    *outcome = "ok";
    return DC_OK;
}

static const struct dc_stage_vtable probe_vtable = {
    sizeof(struct dc_stage_vtable), NULL, probe_outcomes, probe_init, probe_fini, probe_run};

#if defined(PROBE_CAPS)
DC_PLUGIN_DEFINE_CAPS(DC_KIND_STAGE, PROBE_NAME, "1.0.0", "MIT", "capability probe",
                      &probe_vtable, PROBE_CAPS)
#else
DC_PLUGIN_DEFINE(DC_KIND_STAGE, PROBE_NAME, "1.0.0", "MIT", "capability probe", &probe_vtable)
#endif
EOF2

cat >"$tmp/schematool.c" <<'EOF2'
#include <stddef.h>
#include <datachat/host.h>

static const struct dc_host *host;

static int st_init(const struct dc_host *h, const struct dc_opts *o, void **st, char *err,
                   size_t errlen)
{
    (void)o; (void)err; (void)errlen;
    host = h;
    *st = NULL;
    return DC_OK;
}

static void st_fini(void *st) { (void)st; }

static int st_invoke(void *st, struct dc_ctx *ctx)
{
    (void)st;
    const struct dc_schema *s = host->ctx_schema(ctx, NULL);
    if (!s)
        return DC_EDENIED;
    return host->ctx_set(ctx, "result", "{\"tables\":1}");
}

static const struct dc_tool_vtable st_vtable = {
    sizeof(struct dc_tool_vtable), NULL, "counts tables", "{\"type\":\"object\"}", 1,
    st_init, st_fini, st_invoke};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_TOOL, "schema-peek", "1.0.0", "MIT", "needs db.schema",
                      &st_vtable, DC_CAP_NONE)
EOF2

mk() { # mk OUT.so INCLUDE-DIR CFLAGS...
    out=$1
    inc=$2
    shift 2
    cc -shared -fPIC -fvisibility=hidden -Wall -Werror -I"$inc" "$@" -o "$out" "$tmp/probe.c" ||
        fail "cc could not build $out"
}
mk "$tmp/p13/stage-probe-none.so" "$src/sdk/include" -DPROBE_NAME='"probe-none"' -DPROBE_CAPS=DC_CAP_NONE
mk "$tmp/p13/stage-probe-query.so" "$src/sdk/include" -DPROBE_NAME='"probe-query"' -DPROBE_CAPS=DC_CAP_DB_QUERY
mk "$tmp/p10/stage-probe-old.so" "$src/tests/abi/1.0" -DPROBE_NAME='"probe-old"'
cc -shared -fPIC -fvisibility=hidden -Wall -Werror -I"$src/sdk/include" \
    -o "$tmp/p13/tool-schema-peek.so" "$tmp/schematool.c" || fail "cc could not build the tool"
mk "$tmp/cand/stage-probe-inst.so" "$src/sdk/include" -DPROBE_NAME='"probe-inst"' \
    -DPROBE_CAPS='DC_CAP_DB_QUERY|DC_CAP_RETRIEVE'

echo "== plugins check shows what each declares"
"$dc" plugins check "$tmp/p13/stage-probe-none.so" | grep -q "uses     none$" ||
    fail "check does not say the probe declares none"
"$dc" plugins check "$tmp/p13/stage-probe-query.so" | grep -q "uses     db.query$" ||
    fail "check does not say the probe declares db.query"
out=$("$dc" plugins check "$tmp/p10/stage-probe-old.so") || fail "the ABI 1.0 probe was refused"
echo "$out" | grep -q "abi      1.0 " || fail "the old probe is not ABI 1.0: $out"
echo "$out" | grep -q "uses     undeclared (all)$" || fail "the ABI 1.0 probe is not shown as undeclared (all): $out"
"$dc" plugins check --json "$tmp/p10/stage-probe-old.so" | grep -q '"capabilities_declared": false' ||
    fail "check --json does not say the ABI 1.0 probe declares nothing"

sqlite3 "$tmp/demo.db" "CREATE TABLE t(a INTEGER); INSERT INTO t VALUES (1),(2),(3);" ||
    fail "sqlite3 failed"
config() { # config STAGE-PLUGIN
    cat >"$tmp/datachat.yaml" <<YAML
version: 1
plugins: { dirs: [$tmp/p13, $tmp/p10, $tmp/installed] }
databases:
  demo: { connector: sqlite, path: $tmp/demo.db }
pipeline:
  entry: probe
  stages:
    probe: { use: $1 }
tools:
  peek: { use: schema-peek }
audit: { path: $tmp/audit.jsonl }
YAML
}

echo "== info and list --json show the declared capabilities"
config probe-none
dcx() { "$dc" --config "$tmp/datachat.yaml" "$@"; }
dcx plugins info probe-query | grep -q "uses     db.query$" || fail "info does not show db.query"
dcx plugins info probe-old | grep -q "uses     undeclared (all)$" || fail "info does not show undeclared (all)"
dcx plugins list --json >"$tmp/list.json" || fail "plugins list --json failed"
grep -q '"uses": "none"' "$tmp/list.json" || fail "list --json does not show the probe's none"
grep -q '"db.query"' "$tmp/list.json" || fail "list --json does not list db.query"

echo "== an undeclared capability is a clear error, not a crash"
rc=0
dcx query "how many rows" >"$tmp/out" 2>&1 || rc=$?
cat "$tmp/out"
[ "$rc" -eq 1 ] || fail "the query through probe-none exited $rc, wanted 1"
grep -q "E-PLUGIN-CAPABILITY" "$tmp/out" || fail "no E-PLUGIN-CAPABILITY error"
grep -q "plugin 'probe-none' called ctx_query" "$tmp/out" || fail "the error does not name the plugin and entry"
grep -q '"db.query"' "$tmp/out" || fail "the error does not name the capability"

echo "== a declared capability, and an ABI 1.0 plugin, keep working"
for p in probe-query probe-old; do
    config $p
    out=$(dcx query "how many rows" 2>&1) || { echo "$out" >&2; fail "$p failed"; }
    echo "$out" | grep -q "probe counted 3" || fail "$p did not run its query: $out"
done

echo "== a tool without db.schema"
rc=0
dcx tools call peek '{}' >"$tmp/out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "the tool without db.schema succeeded"
[ "$rc" -lt 128 ] || fail "the tool call crashed (exit $rc)"
grep -q "E-PLUGIN-CAPABILITY.*schema-peek.*ctx_schema.*\"db.schema\"" "$tmp/out" ||
    { cat "$tmp/out" >&2; fail "the tool's error does not name plugin, entry and capability"; }

echo "== install shows what it declares"
dcx plugins install "$tmp/cand/stage-probe-inst.so" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "install failed"; }
grep -q "uses   db.query, retrieve$" "$tmp/out" || { cat "$tmp/out" >&2; fail "install does not show the capabilities"; }

echo "== the test kit gives unit tests the same table"
lib=$build/sdk/libdatachat-sdk-testing.so
[ -f "$lib" ] || fail "$lib is not built"
cat >"$tmp/kit.c" <<'EOF2'
#include <stdio.h>
#include <string.h>
#include <datachat/testing.h>

const struct dc_plugin_descriptor *dc_plugin_describe(void);

int main(void)
{
    struct dc_test_host *t = dc_test_host_new();
    if (!t || dc_test_use_descriptor(t, dc_plugin_describe()) != DC_OK)
        return 10;
    const struct dc_host *h = dc_test_host_table(t);
    const struct dc_stage_vtable *vt = dc_plugin_describe()->vtable;
    void *st = NULL;
    char err[64];
    const char *outcome = NULL;
    if (vt->init(h, dc_test_opts(t), &st, err, sizeof(err)) != DC_OK)
        return 11;
    int rc = vt->run(st, dc_test_ctx(t), &outcome);
    const char *code = dc_test_fail_code(t), *msg = dc_test_fail_message(t);
    printf("rc %d code %s: %s\n", rc, code ? code : "-", msg ? msg : "-");
    if (rc != DC_EDENIED || !code || strcmp(code, "E-PLUGIN-CAPABILITY") != 0 ||
        !strstr(msg, "'probe-none'") || !strstr(msg, "\"db.query\"") || dc_test_nqueries(t) != 0)
        return 12;
    if (h->retrieve == NULL || h->log == NULL)
        return 13;
    dc_test_host_free(t);
    return 0;
}
EOF2
cc -Wall -Werror -I"$src/sdk/include" -DPROBE_NAME='"probe-none"' -DPROBE_CAPS=DC_CAP_NONE \
    -o "$tmp/kit" "$tmp/kit.c" "$tmp/probe.c" "$lib" -Wl,-rpath,"$(dirname "$lib")" ||
    fail "cannot build the test-kit program"
"$tmp/kit" || fail "the test kit did not enforce the declared capabilities (exit $?)"
echo "PASS"
