#!/bin/sh
# `datachat plugins install|list|info|remove` and the lock file pins.
#
#   plugins_install.sh SRC BUILD
#
# Builds a good tool plugin (sdk/examples/hello-tool) and a set of broken
# ones with cc, then checks: a good install copies the file with mode 0755,
# records it in datachat.lock and the tool answers; a changed installed file
# is refused with the re-install hint and re-installing accepts it; remove
# undoes the install; every bad candidate (a directory, a symlink elsewhere,
# a non-ELF file, a foreign-architecture ELF, a NULL descriptor, the symbol
# exported twice (two symbol versions), a plugin
# that crashes, hangs or calls exit while loading, a name clash, a
# malformed lock file) fails with its own message, exit 2, and leaves the
# plugin directory and the lock file exactly as they were.
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

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dc-plugins.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
chmod 0700 "$tmp"
mkdir "$tmp/cand"

mkplugin() { # mkplugin OUT.so SOURCE-FILE
    cc -shared -fPIC -fvisibility=hidden -I"$src/sdk/include" -o "$1" "$2" ||
        fail "cc could not build $1"
}

mkplugin "$tmp/cand/tool-hello.so" "$src/sdk/examples/hello-tool/hello.c"

# Broken plugins: each is the hello tool plus one defect at load time.
cat >"$tmp/crash.c" <<'EOF'
#include <signal.h>
__attribute__((constructor)) static void boom(void) { raise(SIGSEGV); }
EOF
cat >"$tmp/hang.c" <<'EOF'
#include <unistd.h>
__attribute__((constructor)) static void wait_forever(void) { for (;;) pause(); }
EOF
cat >"$tmp/exit.c" <<'EOF'
#include <stdlib.h>
__attribute__((constructor)) static void leave(void) { exit(0); }
EOF
cat >"$tmp/nulldesc.c" <<'EOF'
#include <datachat/plugin.h>
DC_EXPORT const struct dc_plugin_descriptor *dc_plugin_describe(void);
DC_EXPORT const struct dc_plugin_descriptor *dc_plugin_describe(void) { return NULL; }
EOF
for b in crash hang exit; do
    cat "$src/sdk/examples/hello-tool/hello.c" "$tmp/$b.c" >"$tmp/$b-full.c"
    mkplugin "$tmp/cand/$b.so" "$tmp/$b-full.c"
done
mkplugin "$tmp/cand/nulldesc.so" "$tmp/nulldesc.c"
# The symbol exported twice: two versions of dc_plugin_describe (one the
# default) through .symver and a version script, each its own descriptor.
cat >"$tmp/twice.c" <<'EOF'
#include <datachat/plugin.h>
static const char *const outs[] = {"ok", NULL};
static int run(void *s, struct dc_ctx *c, const char **o) { (void)s; (void)c; *o = "ok"; return 0; }
static const struct dc_stage_vtable vt = {sizeof(struct dc_stage_vtable), NULL, outs, NULL, NULL, run};
#define DESC(n) {DC_PLUGIN_MAGIC, sizeof(struct dc_plugin_descriptor), DC_ABI_MAJOR, DC_ABI_MINOR, \
                 DC_BUILD_SIG, n, "1", "MIT", DC_KIND_STAGE, &vt, NULL, DC_CAP_NONE}
static const struct dc_plugin_descriptor d1 = DESC("twice-old"), d2 = DESC("twice-new");
DC_EXPORT const struct dc_plugin_descriptor *describe_v1(void);
DC_EXPORT const struct dc_plugin_descriptor *describe_v1(void) { return &d1; }
DC_EXPORT const struct dc_plugin_descriptor *describe_v2(void);
DC_EXPORT const struct dc_plugin_descriptor *describe_v2(void) { return &d2; }
__asm__(".symver describe_v1, dc_plugin_describe@DC_1");
__asm__(".symver describe_v2, dc_plugin_describe@@DC_2");
EOF
printf 'DC_1 { global: dc_plugin_describe; local: *; };\nDC_2 { global: dc_plugin_describe; } DC_1;\n' >"$tmp/twice.map"
cc -shared -fPIC -fvisibility=hidden -I"$src/sdk/include" -Wl,--version-script="$tmp/twice.map" \
    -o "$tmp/cand/twice.so" "$tmp/twice.c" || fail "cc could not build twice.so"
[ "$(nm -D --defined-only "$tmp/cand/twice.so" | grep -c ' dc_plugin_describe@')" -eq 2 ] ||
    fail "twice.so does not export dc_plugin_describe twice"
# A stage named like the in-tree answer stage.
sed 's/"hello-answer"/"answer"/' "$src/sdk/examples/hello-stage/hello_answer.c" >"$tmp/clash.c"
mkplugin "$tmp/cand/clash.so" "$tmp/clash.c"
echo "not a plugin" >"$tmp/cand/text.so"
# The same good plugin, its ELF e_machine (offset 18) set to 183 (aarch64),
# or to 62 (x86-64) when this host is aarch64.
cp "$tmp/cand/tool-hello.so" "$tmp/cand/foreign.so"
case "$(uname -m)" in
aarch64) printf '\076\000' ;;
*) printf '\267\000' ;;
esac | dd of="$tmp/cand/foreign.so" bs=1 seek=18 conv=notrunc 2>/dev/null
mkdir "$tmp/other"
cp "$tmp/cand/tool-hello.so" "$tmp/other/elsewhere.so"
ln -s "$tmp/other/elsewhere.so" "$tmp/cand/link.so"
mkdir "$tmp/cand/empty.so"
mkdir "$tmp/builddir"
cp "$tmp/cand/tool-hello.so" "$tmp/builddir/tool-hello.so"

sqlite3 "$tmp/demo.db" "CREATE TABLE t(a INTEGER);" || fail "sqlite3 failed"
cfg=$tmp/datachat.yaml
cat >"$cfg" <<YAML
version: 1
plugins: { dirs: [$tmp/plugins] }
databases:
  demo: { connector: sqlite, path: $tmp/demo.db }
pipeline:
  entry: intent
  stages:
    intent: { use: intent, on: { catalog: catalog, sql: reply, metric: reply, tool: reply, clarify: reply, refuse: reply } }
    catalog: { use: catalog, on: { ok: reply, not_found: reply } }
    reply: { use: answer }
audit: { path: $tmp/audit.jsonl }
YAML
lock=$tmp/datachat.lock
dcx() { "$dc" --config "$cfg" "$@"; }

# snapshot: the plugin directory's listing and the lock file's bytes.
snapshot() {
    { ls -la "$tmp/plugins" 2>/dev/null | sed 1d | awk '{ print $1, $5, $NF }'; cat "$lock" 2>/dev/null; } || true
}

# refuse NAME EXPECTED-TEXT ARGS...: exit 2, the text on stderr, nothing changed.
refuse() {
    what=$1
    want=$2
    shift 2
    before=$(snapshot)
    rc=0
    dcx plugins install "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" -eq 2 ] || { cat "$tmp/out" "$tmp/err" >&2; fail "$what: exit $rc, wanted 2"; }
    grep -q -- "$want" "$tmp/err" || { cat "$tmp/err" >&2; fail "$what: the error does not say '$want'"; }
    [ "$(snapshot)" = "$before" ] || fail "$what: the plugin directory or lock file changed"
    ls -a "$tmp/plugins" 2>/dev/null | grep -q '\.tmp' && fail "$what: a temporary file was left behind"
    echo "ok: $what refused: $(head -c 160 "$tmp/err")"
}

echo "== install before any plugin dir exists: bad input refused"
refuse "a directory with no plugin" "holding 0 plugin" "$tmp/cand/empty.so"
refuse "a symlink to another directory" "E-PLUGIN-SYMLINK" "$tmp/cand/link.so"
refuse "a non-ELF file" "not an ELF shared object" "$tmp/cand/text.so"
refuse "an ELF for another architecture" "built for" "$tmp/cand/foreign.so"
refuse "a NULL descriptor" "returned no descriptor" "$tmp/cand/nulldesc.so"
refuse "a plugin exporting the symbol twice" "E-PLUGIN-SYMBOL-TWICE: exports dc_plugin_describe 2 times" "$tmp/cand/twice.so"
refuse "a plugin crashing while loading" "E-PLUGIN-SCAN-CRASH: .*signal 11" "$tmp/cand/crash.so"
refuse "a plugin calling exit while loading" "E-PLUGIN-SCAN-EXIT" "$tmp/cand/exit.so"
refuse "a plugin hanging while loading" "E-PLUGIN-SCAN-TIMEOUT" "$tmp/cand/hang.so"
refuse "a missing file" "E-PLUGIN-FILE" "$tmp/cand/nope.so"
chmod g+w "$tmp/cand/tool-hello.so"
refuse "a group-writable file" "group-writable" "$tmp/cand/tool-hello.so"
chmod g-w "$tmp/cand/tool-hello.so"
[ ! -e "$lock" ] || fail "a refused install wrote the lock file"

echo "== install a good plugin"
dcx plugins install "$tmp/cand/tool-hello.so" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "install exited non-zero"; }
cat "$tmp/out"
inst=$tmp/plugins/tool-hello.so
[ -f "$inst" ] || fail "the plugin was not copied to $inst"
mode=$(stat -c %a "$inst")
[ "$mode" = 755 ] || fail "installed mode is $mode, wanted 755"
cmp -s "$inst" "$tmp/cand/tool-hello.so" || fail "the installed copy differs from the candidate"
sum=$(sha256sum "$inst" | awk '{ print $1 }')
grep -q "\"sha256\": \"$sum\"" "$lock" || { cat "$lock" >&2; fail "the lock file does not record the sha256"; }
grep -q '"name": "hello"' "$lock" || fail "the lock file does not record the name"
grep -q '"license": "MIT"' "$lock" || fail "the lock file does not record the licence"
grep -q '"abi": "1\.' "$lock" || fail "the lock file does not record the ABI"
dcx plugins list | grep -E "^tool +hello +1.0.0 +ok +$inst" >/dev/null || { dcx plugins list; fail "plugins list does not show hello as ok"; }
dcx plugins info hello | grep -q "pinned   sha256 $sum" || { dcx plugins info hello; fail "plugins info does not show the pin"; }
dcx plugins info hello | grep -q "greeting" || fail "plugins info does not show the options"
rc=0; dcx plugins info nosuch >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "plugins info of an unknown name exited $rc, wanted 2"

echo "== name clash with a plugin installed otherwise"
refuse "the name of an in-tree plugin" "E-PLUGIN-CLASH.*stage plugin named \"answer\"" "$tmp/cand/clash.so"

echo "== a changed installed file is refused until re-installed"
chmod u+w "$inst"
printf 'x' >>"$inst"
dcx plugins list >"$tmp/list" 2>&1 || true
grep -q "E-PLUGIN-PIN.*re-install to accept the new file" "$tmp/list" || { cat "$tmp/list" >&2; fail "a changed plugin was not refused"; }
grep -qE "^tool +hello" "$tmp/list" && fail "a changed plugin still loaded"
[ "$(grep -c "E-PLUGIN-PIN" "$tmp/list")" -eq 1 ] || { cat "$tmp/list" >&2; fail "the refusal is not listed exactly once"; }
dcx plugins install "$tmp/builddir" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "re-install from a build directory failed"; }
dcx plugins list | grep -qE "^tool +hello +1.0.0 +ok" || fail "the re-installed plugin is not ok"
cmp -s "$inst" "$tmp/cand/tool-hello.so" || fail "re-install did not replace the changed file"

echo "== sandboxed install, then the tool answers"
dcx plugins install "$tmp/cand/tool-hello.so" --sandbox >/dev/null 2>&1 || fail "install --sandbox failed"
dcx plugins list | grep -qE "^tool +hello +1.0.0 +sandboxed" || { dcx plugins list; fail "plugins list does not say sandboxed"; }
grep -q '"sandbox": true' "$lock" || fail "the lock file does not record sandbox"
cat >>"$cfg" <<YAML
tools:
  greet: { use: hello, with: { greeting: Hi } }
YAML
out=$(dcx tools call greet '{"name":"Ada"}' 2>&1) || { echo "$out" >&2; fail "tools call through the installed plugin failed"; }
echo "$out" | grep -q "Hi, Ada" || fail "tools call printed: $out"
# The config now names the plugin, so a changed file is tried by the lookup
# and again by the listing: still one refusal, listed once.
printf 'x' >>"$inst"
dcx plugins list >"$tmp/list" 2>/dev/null || true
[ "$(grep -c "E-PLUGIN-PIN" "$tmp/list")" -eq 1 ] || { cat "$tmp/list" >&2; fail "the pin refusal is not listed exactly once"; }
rc=0; dcx tools call greet '{"name":"Ada"}' >/dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "a tool whose file changed still ran"
dcx plugins install "$tmp/cand/tool-hello.so" --sandbox >/dev/null 2>&1 || fail "re-install after the change failed"

echo "== a malformed lock file is one clear error and installs nothing"
cp "$lock" "$tmp/lock.good"
printf '{"version": 1, "plugins": [' >"$lock"
rc=0; dcx plugins list >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" -eq 2 ] || fail "plugins list with a malformed lock exited $rc, wanted 2"
grep -q "datachat.lock:.*E-LOCK-SYNTAX" "$tmp/err" || { cat "$tmp/err" >&2; fail "no E-LOCK-SYNTAX error"; }
refuse "an install with a malformed lock file" "E-LOCK-SYNTAX" "$tmp/cand/tool-hello.so"
# Well-formed JSON, but a record with a wrong field: the same, E-LOCK-FIELD.
printf '{"version": 1, "plugins": [{"name": 5}]}' >"$lock"
refuse "an install with a lock record of the wrong shape" "datachat.lock.*E-LOCK-FIELD" "$tmp/cand/tool-hello.so"
cp "$tmp/lock.good" "$lock"

echo "== remove undoes the install"
dcx plugins remove hello >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "remove failed"; }
[ ! -e "$inst" ] || fail "remove left $inst"
grep -q '"name": "hello"' "$lock" && fail "remove left the lock record"
rc=0; dcx plugins remove hello >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" -eq 2 ] || fail "removing an uninstalled plugin exited $rc, wanted 2"
grep -q "E-PLUGIN-NOT-INSTALLED" "$tmp/err" || fail "no E-PLUGIN-NOT-INSTALLED error"
echo "PASS"
