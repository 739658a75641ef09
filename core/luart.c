#include "luart.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "util.h"

#define LUART_MAX_SCRIPT_BYTES ((size_t)1 << 20)
#define LUART_HOOK_COUNT 1000
/* Room the error handler may use past the cap to describe a memory error. */
#define LUART_MEM_RESERVE ((size_t)64 << 10)
#define LUART_POOL_MAX 4
#define LUART_JSON_DEPTH 64
#define LUART_MAX_OUTCOMES 32
#define LUART_MAX_OPTIONS 32

/* One lua_State and what its allocator and hook need. */
struct lrun {
    struct luart *s;
    lua_State *L;
    size_t used, cap;
    int64_t deadline_us;
    int killed;      /* deadline passed: no pcall may swallow it */
    int mem_hit;
    int handling;    /* inside the error handler: the reserve applies */
    const struct dc_host *h;
    struct dc_ctx *ctx;
    int chunk_ref;   /* the compiled script (pooled states reuse it) */
    int snap_ref;    /* the globals right after set-up */
};

struct luart_opt {
    char *key;
    char *value;
    char **items;
    size_t nitems;
    int is_list;
};

struct luart {
    char *name;      /* "@name" chunk name without the "@" */
    char *text;
    size_t len;
    char *lib_text;
    size_t lib_len;
    char *lib_name;
    struct luart_limits lim;
    luart_http_fn http; /* dc.http; NULL: refused (in-process scripts) */
    void *http_arg;
    struct luart_ctx_hooks hooks; /* the worker's context lives in the core */
    char *outcomes[LUART_MAX_OUTCOMES + 1];
    int has_run, has_invoke;
    struct luart_opt *opts;
    size_t nopts;
    struct dc_option *decl; /* the script's `options` table; NULL: none declared */
    size_t ndecl;
    char last_outcome[64];
    pthread_mutex_t mu;
    struct lrun *pool[LUART_POOL_MAX];
    size_t npool;
};

static const char LOCK_KEY = 'k'; /* registry key: metatables of locked tables */


static struct lrun *run_of(lua_State *L)
{
    return *(struct lrun **)lua_getextraspace(L);
}

/* ------------------------------------------------------------------------
 * Allocator and hook.
 */
static void *lalloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct lrun *r = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        r->used -= old;
        return NULL;
    }
    if (nsize > old) {
        size_t limit = r->cap + (r->handling ? LUART_MEM_RESERVE : 0);
        if (nsize - old > limit || r->used + (nsize - old) > limit) {
            r->mem_hit = 1;
            return NULL;
        }
    }
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    r->used = r->used - old + nsize;
    return p;
}

static void deadline_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct lrun *r = run_of(L);
    if (r->killed || util_now_us() > r->deadline_us) {
        r->killed = 1;
        luaL_error(L, "the script ran past its time limit of %d ms",
                   (int)(r->s->lim.time_us / 1000));
    }
}

/* ------------------------------------------------------------------------
 * Base library replacements.
 */

/* pcall/xpcall that cannot swallow the deadline. */
static int safe_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    if (run_of(L)->killed)
        return lua_error(L);
    lua_pushboolean(L, status == LUA_OK);
    lua_insert(L, 1);
    return lua_gettop(L);
}

static int safe_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 1);
    lua_copy(L, 2, 1);
    lua_replace(L, 2);
    int status = lua_pcall(L, n - 2, LUA_MULTRET, 1);
    if (run_of(L)->killed)
        return lua_error(L);
    lua_pushboolean(L, status == LUA_OK);
    lua_replace(L, 1);
    return lua_gettop(L);
}

static int is_locked(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return 0;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &LOCK_KEY);
    lua_pushvalue(L, -2);
    int locked = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 3);
    return locked;
}

static int safe_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (is_locked(L, 1))
        return luaL_error(L, "rawset: this library table is read-only");
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* Finalizers would run host-side after the call ends; scripts get none. */
static int safe_setmetatable(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_type(L, 2) == LUA_TTABLE && (lua_pushliteral(L, "__gc"), lua_rawget(L, 2)) != LUA_TNIL)
        return luaL_error(L, "setmetatable: __gc metamethods are not available to scripts");
    lua_settop(L, 2);
    luaL_argexpected(L, lua_type(L, 2) == LUA_TNIL || lua_type(L, 2) == LUA_TTABLE, 2,
                     "nil or table");
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    lua_setmetatable(L, 1);
    return 1;
}

static int refuse_readonly(lua_State *L)
{
    return luaL_error(L, "attempt to modify a read-only library table (field '%s')",
                      lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
}

static int locked_pairs(lua_State *L)
{
    lua_getglobal(L, "next");
    if (!lua_getmetatable(L, 1))
        return 0;
    lua_getfield(L, -1, "__index");
    lua_remove(L, -2);
    lua_pushnil(L);
    return 3;
}

/* Replaces the table at idx (absolute) with an empty proxy that reads
 * through to it and refuses writes; the proxy is left on the stack. */
static void push_locked(lua_State *L, int idx)
{
    lua_newtable(L);
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, refuse_readonly);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, locked_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_rawgetp(L, LUA_REGISTRYINDEX, &LOCK_KEY);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_setmetatable(L, -2);
}

static void lock_global(lua_State *L, const char *name)
{
    lua_getglobal(L, name);
    push_locked(L, lua_gettop(L));
    lua_setglobal(L, name);
    lua_pop(L, 1);
}

/* ------------------------------------------------------------------------
 * Lua <-> JSON.
 */
static json_t *to_json(lua_State *L, int idx, int depth, const char **why)
{
    idx = lua_absindex(L, idx);
    if (depth > LUART_JSON_DEPTH) {
        *why = "nested deeper than 64 levels (or a table contains itself)";
        return NULL;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return json_null();
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return json_integer((json_int_t)lua_tointeger(L, idx));
        if (!isfinite(lua_tonumber(L, idx))) {
            *why = "NaN and infinity have no JSON form";
            return NULL;
        }
        return json_real(lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        json_t *j = json_stringn(s, n);
        if (!j)
            *why = "a string is not valid UTF-8";
        return j;
    }
    case LUA_TTABLE:
        break;
    default:
        *why = "functions, userdata and threads have no JSON form";
        return NULL;
    }
    luaL_checkstack(L, 4, "JSON conversion");
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    lua_Integer count = 0;
    int array = n > 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || lua_tointeger(L, -2) > n)
            array = 0;
        lua_pop(L, 1);
    }
    if (array && count == n) {
        json_t *a = json_array();
        for (lua_Integer i = 1; a && i <= n; i++) {
            lua_rawgeti(L, idx, i);
            json_t *v = to_json(L, -1, depth + 1, why);
            lua_pop(L, 1);
            if (!v || json_array_append_new(a, v) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    json_t *o = json_object();
    lua_pushnil(L);
    while (o && lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            *why = "a table mixes array items and keys that are not strings";
            lua_pop(L, 2);
            json_decref(o);
            return NULL;
        }
        size_t kn;
        const char *k = lua_tolstring(L, -2, &kn);
        json_t *v = to_json(L, -1, depth + 1, why);
        lua_pop(L, 1);
        if (!v || strlen(k) != kn || json_object_set_new(o, k, v) != 0) {
            if (v && !*why)
                *why = "a key is not valid UTF-8 text";
            lua_pop(L, 1);
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static void push_json(lua_State *L, const json_t *j, int depth)
{
    if (depth > LUART_JSON_DEPTH)
        luaL_error(L, "JSON nested deeper than 64 levels");
    luaL_checkstack(L, 3, "JSON conversion");
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        lua_createtable(L, 0, (int)json_object_size(j));
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            push_json(L, v, depth + 1);
            lua_setfield(L, -2, k);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        lua_createtable(L, n > 1000000 ? 0 : (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            push_json(L, json_array_get(j, i), depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(j));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(j));
        break;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        break;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        break;
    default:
        lua_pushnil(L);
        break;
    }
}

/* Encodes in a protected frame so that the json_t is freed on every path. */
static char *encode_value(lua_State *L, int idx, const char **why)
{
    *why = NULL;
    json_t *j = to_json(L, idx, 0, why);
    if (!j)
        return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    json_decref(j);
    if (!s && !*why)
        *why = "out of memory";
    return s;
}

static int l_json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    const char *why = NULL;
    char *s = encode_value(L, 1, &why);
    if (!s)
        return luaL_error(L, "dc.json.encode: %s", why ? why : "cannot encode");
    lua_pushstring(L, s);
    free(s);
    return 1;
}

struct decode_arg {
    json_t *j;
};

static int decode_push(lua_State *L)
{
    struct decode_arg *a = lua_touserdata(L, 1);
    push_json(L, a->j, 0);
    return 1;
}

static int l_json_decode(lua_State *L)
{
    size_t n;
    const char *text = luaL_checklstring(L, 1, &n);
    json_error_t jerr;
    struct decode_arg a;
    a.j = json_loadb(text, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!a.j)
        return luaL_error(L, "dc.json.decode: %s at line %d column %d", jerr.text, jerr.line,
                          jerr.column);
    lua_pushcfunction(L, decode_push);
    lua_pushlightuserdata(L, &a);
    int st = lua_pcall(L, 1, 1, 0);
    json_decref(a.j);
    if (st != LUA_OK)
        return lua_error(L);
    return 1;
}

/* ------------------------------------------------------------------------
 * The dc host table.
 */
static struct lrun *need_host(lua_State *L, const char *fn)
{
    struct lrun *r = run_of(L);
    if (!r->h || !r->ctx)
        luaL_error(L, "%s is not available while the script loads; call it from run/invoke", fn);
    return r;
}

static int level_of(lua_State *L, int idx)
{
    static const char *const names[] = {"error", "warn", "info", "debug", NULL};
    return luaL_checkoption(L, idx, "info", names);
}

/* n is the top before luaL_buffinit, which may push a placeholder of its
 * own (a userdata whose text is a host address). */
static void join_args(lua_State *L, int from, int n, luaL_Buffer *b)
{
    for (int i = from; i <= n; i++) {
        if (i > from)
            luaL_addchar(b, ' ');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(b);
    }
}

static void host_log(lua_State *L, int level, int from)
{
    struct lrun *r = run_of(L);
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    join_args(L, from, n, &b);
    luaL_pushresult(&b);
    /* the host prefixes the plugin's name (the script, as configured) */
    if (r->h && r->h->log)
        r->h->log(r->h, level, "%s", lua_tostring(L, -1));
}

static int l_log(lua_State *L)
{
    int level = level_of(L, 1);
    host_log(L, level, 2);
    return 0;
}

static int l_print(lua_State *L)
{
    host_log(L, DC_LOG_INFO, 1);
    return 0;
}

static int l_trace(lua_State *L)
{
    struct lrun *r = need_host(L, "dc.trace");
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    join_args(L, 1, n, &b);
    luaL_pushresult(&b);
    if (r->s->hooks.trace)
        r->s->hooks.trace(r->s->hooks.arg, lua_tostring(L, -1));
    else
        r->h->ctx_trace(r->ctx, "%s", lua_tostring(L, -1));
    return 0;
}

/* Pushes the context's value for key (nil when unset); in the worker the
 * value comes from the core's context over IPC. */
static int push_ctx_value(lua_State *L, struct lrun *r, const char *key, const char *who)
{
    const char *v = NULL;
    if (r->s->hooks.get) {
        char err[256] = "";
        if (r->s->hooks.get(r->s->hooks.arg, key, &v, err, sizeof(err)) != DC_OK)
            return luaL_error(L, "%s: %s", who, err[0] ? err : "cannot read the context");
    } else if (r->h && r->ctx) {
        v = r->h->ctx_get(r->ctx, key);
    }
    if (v)
        lua_pushstring(L, v);
    else
        lua_pushnil(L);
    return 1;
}

static int l_get(lua_State *L)
{
    struct lrun *r = need_host(L, "dc.get");
    return push_ctx_value(L, r, luaL_checkstring(L, 1), "dc.get");
}

/* Keys the core trusts for identity and routing: a script may read them,
 * never write them (the gate takes the principal from the context). */
int luart_reserved_key(const char *k)
{
    static const char *const keys[] = {"principal", "database", "question", "format",
                                       "args",      "tool",     NULL};
    for (size_t i = 0; keys[i]; i++)
        if (strcmp(keys[i], k) == 0)
            return 1;
    return 0;
}

static int l_emit(lua_State *L)
{
    struct lrun *r = need_host(L, "dc.emit");
    const char *key = luaL_checkstring(L, 1);
    if (luart_reserved_key(key))
        return luaL_error(L, "dc.emit: '%s' is set by the core and cannot be changed by a script",
                          key);
    int rc;
    if (lua_isnoneornil(L, 2)) {
        rc = r->h->ctx_set(r->ctx, key, NULL);
    } else if (lua_type(L, 2) == LUA_TTABLE) {
        const char *why = NULL;
        char *s = encode_value(L, 2, &why);
        if (!s)
            return luaL_error(L, "dc.emit: value for '%s': %s", key, why ? why : "cannot encode");
        rc = r->h->ctx_set(r->ctx, key, s);
        free(s);
    } else {
        rc = r->h->ctx_set(r->ctx, key, luaL_tolstring(L, 2, NULL));
    }
    if (rc != DC_OK)
        return luaL_error(L, "dc.emit: could not set '%s' (out of memory)", key);
    if (r->s->hooks.emit) {
        char err[256] = "";
        const char *v = lua_isnoneornil(L, 2) ? NULL : r->h->ctx_get(r->ctx, key);
        if (r->s->hooks.emit(r->s->hooks.arg, key, v, err, sizeof(err)) != DC_OK)
            return luaL_error(L, "dc.emit: '%s': %s", key, err[0] ? err : "not delivered");
    }
    return 0;
}

/* dc.http(method, url[, body]) -> status, body. Only a sandboxed script
 * has a transport: its worker asks the core, which applies the tool's host
 * allow list; in-process scripts are refused. */
static int l_http(lua_State *L)
{
    struct lrun *r = need_host(L, "dc.http");
    const char *method = luaL_checkstring(L, 1);
    const char *url = luaL_checkstring(L, 2);
    const char *body = luaL_optstring(L, 3, NULL);
    if (!r->s->http)
        return luaL_error(L, "dc.http: E-LUA-HTTP: only tools that run sandboxed may make HTTP "
                             "requests (leave out `sandbox: false`)");
    long status = 0;
    char *resp = NULL, err[512] = "";
    if (r->s->http(r->s->http_arg, method, url, body, &status, &resp, err, sizeof(err)) != DC_OK)
        return luaL_error(L, "dc.http: %s", err[0] ? err : "the request failed");
    lua_pushinteger(L, (lua_Integer)status);
    lua_pushstring(L, resp ? resp : "");
    free(resp);
    return 2;
}

struct query_arg {
    const struct dc_host *h;
    struct dc_result *res;
};

static void push_value(lua_State *L, const struct dc_value *v)
{
    switch (v ? v->type : DC_NULL) {
    case DC_NULL:
        lua_pushnil(L);
        break;
    case DC_INT:
        lua_pushinteger(L, (lua_Integer)v->v.i);
        break;
    case DC_REAL:
        lua_pushnumber(L, v->v.d);
        break;
    case DC_BOOL:
        lua_pushboolean(L, v->v.i != 0);
        break;
    default:
        lua_pushlstring(L, v->v.s.p ? v->v.s.p : "", v->v.s.n);
        break;
    }
}

static int query_push(lua_State *L)
{
    struct query_arg *a = lua_touserdata(L, 1);
    const struct dc_host *h = a->h;
    size_t nc = h->result_ncols(a->res), nr = h->result_nrows(a->res);
    lua_createtable(L, nr > 100000 ? 100000 : (int)nr, 0);
    for (size_t i = 0; i < nr; i++) {
        lua_createtable(L, 0, nc > 64 ? 64 : (int)nc);
        for (size_t c = 0; c < nc; c++) {
            push_value(L, h->result_get(a->res, i, c));
            lua_setfield(L, -2, h->result_col_name(a->res, c));
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_createtable(L, (int)(nc > 64 ? 64 : nc), 0);
    for (size_t c = 0; c < nc; c++) {
        lua_pushstring(L, h->result_col_name(a->res, c));
        lua_rawseti(L, -2, (lua_Integer)c + 1);
    }
    return 2;
}

#define LUART_MAX_PARAMS 64

static int l_query(lua_State *L)
{
    struct lrun *r = need_host(L, "dc.query");
    const char *db = luaL_optstring(L, 1, NULL);
    const char *sql = luaL_checkstring(L, 2);
    struct dc_value vals[LUART_MAX_PARAMS];
    size_t n = 0;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_Integer len = (lua_Integer)lua_rawlen(L, 3);
        if (len > LUART_MAX_PARAMS)
            return luaL_error(L, "dc.query: at most %d parameters", LUART_MAX_PARAMS);
        for (lua_Integer i = 1; i <= len; i++) {
            struct dc_value *v = &vals[n++];
            int t = lua_rawgeti(L, 3, i);
            if (t == LUA_TNIL) {
                *v = DC_VALUE_NULL;
            } else if (t == LUA_TBOOLEAN) {
                v->type = DC_BOOL;
                v->v.i = lua_toboolean(L, -1);
            } else if (t == LUA_TNUMBER && lua_isinteger(L, -1)) {
                *v = dc_value_int((int64_t)lua_tointeger(L, -1));
            } else if (t == LUA_TNUMBER) {
                *v = dc_value_real(lua_tonumber(L, -1));
            } else if (t == LUA_TSTRING) {
                size_t sl;
                const char *s = lua_tolstring(L, -1, &sl);
                *v = dc_value_text(s, sl); /* the params table keeps it alive */
            } else {
                return luaL_error(L, "dc.query: parameter %d must be nil, a boolean, a number or "
                                     "a string, got %s",
                                  (int)i, luaL_typename(L, -1));
            }
            lua_pop(L, 1);
        }
    }
    struct query_arg a = {r->h, NULL};
    int rc = r->h->ctx_query(r->ctx, db, sql, n ? vals : NULL, n, &a.res);
    if (rc != DC_OK) {
        if (a.res)
            r->h->result_free(a.res);
        return luaL_error(L,
                          "dc.query: %s (code %d); the request's error and the audit log say why",
                          rc == DC_EDENIED ? "the gate refused the statement"
                                           : "the statement failed",
                          rc);
    }
    lua_pushcfunction(L, query_push);
    lua_pushlightuserdata(L, &a);
    int st = lua_pcall(L, 1, 2, 0);
    r->h->result_free(a.res);
    if (st != LUA_OK)
        return lua_error(L);
    return 2;
}

/* ------------------------------------------------------------------------
 * States: set-up, snapshot, error text.
 */

/* The script frames of the stack, innermost first; host (C) frames are left
 * out so that nothing of the host's internals reaches the message. */
static int msg_handler(lua_State *L)
{
    struct lrun *r = run_of(L);
    r->handling = 1;
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = luaL_typename(L, 1);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, msg);
    luaL_addstring(&b, "\nstack traceback (script frames):");
    lua_Debug ar;
    int shown = 0;
    for (int lvl = 1; lua_getstack(L, lvl, &ar) && shown < 12; lvl++) {
        if (!lua_getinfo(L, "Sln", &ar) || ar.currentline <= 0 || ar.source[0] != '@')
            continue;
        char line[256];
        if (strcmp(ar.what, "main") == 0)
            snprintf(line, sizeof(line), "\n  %s:%d: in the main chunk", ar.short_src,
                     ar.currentline);
        else if (ar.name)
            snprintf(line, sizeof(line), "\n  %s:%d: in function '%s'", ar.short_src,
                     ar.currentline, ar.name);
        else
            snprintf(line, sizeof(line), "\n  %s:%d: in the function defined at line %d",
                     ar.short_src, ar.currentline, ar.linedefined);
        luaL_addstring(&b, line);
        shown++;
    }
    luaL_pushresult(&b);
    return 1;
}

static int cf_setup(lua_State *L)
{
    struct lrun *r = run_of(L);
    struct luart *s = r->s;
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &LOCK_KEY);

    luaL_requiref(L, "_G", luaopen_base, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    lua_pop(L, 5);

    static const char *const gone[] = {"dofile", "loadfile", "load", "loadstring", "require",
                                       "collectgarbage", NULL};
    for (size_t i = 0; gone[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, gone[i]);
    }
    static const luaL_Reg base[] = {{"pcall", safe_pcall},   {"xpcall", safe_xpcall},
                                    {"rawset", safe_rawset}, {"setmetatable", safe_setmetatable},
                                    {"print", l_print},      {NULL, NULL}};
    lua_pushglobaltable(L);
    luaL_setfuncs(L, base, 0);
    lua_pop(L, 1);

    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);

    /* dc, dc.json, then the helper library as dc.util */
    static const luaL_Reg dc[] = {{"query", l_query}, {"log", l_log},     {"emit", l_emit},
                                  {"get", l_get},     {"trace", l_trace}, {"http", l_http},
                                  {NULL, NULL}};
    static const luaL_Reg js[] = {{"encode", l_json_encode}, {"decode", l_json_decode},
                                  {NULL, NULL}};
    luaL_newlib(L, dc);
    int dci = lua_gettop(L);
    luaL_newlib(L, js);
    push_locked(L, lua_gettop(L));
    lua_setfield(L, dci, "json");
    lua_pop(L, 1);
    lua_setglobal(L, "dc");

    static const char *const libs[] = {LUA_TABLIBNAME, LUA_STRLIBNAME, LUA_MATHLIBNAME,
                                       LUA_UTF8LIBNAME, NULL};
    for (size_t i = 0; libs[i]; i++)
        lock_global(L, libs[i]);
    /* "x":upper() reads through the locked string table; the metatable
     * itself is hidden so that it cannot be changed either. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);

    if (s->lib_text) {
        if (luaL_loadbufferx(L, s->lib_text, s->lib_len, s->lib_name, "t") != LUA_OK)
            return luaL_error(L, "E-LUA-SYNTAX: %s", lua_tostring(L, -1));
        lua_call(L, 0, 1);
        if (lua_type(L, -1) != LUA_TTABLE)
            return luaL_error(L, "%s must return a table", s->lib_name + 1);
        push_locked(L, lua_gettop(L));
        lua_getglobal(L, "dc");
        lua_pushvalue(L, -2);
        lua_setfield(L, -2, "util");
        lua_pop(L, 3);
    }
    lock_global(L, "dc");

    /* config: the stage's or tool's `with:` options, read-only */
    lua_createtable(L, 0, (int)s->nopts);
    for (size_t i = 0; i < s->nopts; i++) {
        if (s->opts[i].is_list) {
            lua_createtable(L, (int)s->opts[i].nitems, 0);
            for (size_t j = 0; j < s->opts[i].nitems; j++) {
                lua_pushstring(L, s->opts[i].items[j]);
                lua_rawseti(L, -2, (lua_Integer)j + 1);
            }
        } else {
            lua_pushstring(L, s->opts[i].value);
        }
        lua_setfield(L, -2, s->opts[i].key);
    }
    for (size_t i = 0; i < s->ndecl; i++) {
        if (!s->decl[i].default_value || lua_getfield(L, -1, s->decl[i].name) != LUA_TNIL) {
            if (s->decl[i].default_value)
                lua_pop(L, 1);
            continue;
        }
        lua_pop(L, 1);
        lua_pushstring(L, s->decl[i].default_value);
        lua_setfield(L, -2, s->decl[i].name);
    }
    lua_setglobal(L, "config");
    lock_global(L, "config");

    if (luaL_loadbufferx(L, s->text, s->len, s->name - 1, "t") != LUA_OK)
        return luaL_error(L, "E-LUA-SYNTAX: %s", lua_tostring(L, -1));
    r->chunk_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_newtable(L);
    lua_pushglobaltable(L);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -5);
    }
    lua_pop(L, 1);
    r->snap_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static void lrun_free(struct lrun *r)
{
    if (!r)
        return;
    if (r->L) {
        /* Finalizers cannot be set by scripts; the hook still bounds close. */
        r->killed = 0;
        r->deadline_us = util_now_us() + r->s->lim.time_us;
        lua_close(r->L);
    }
    free(r);
}

static int lrun_new(struct luart *s, struct lrun **out, char *err, size_t errlen)
{
    struct lrun *r = calloc(1, sizeof(*r));
    if (!r)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    r->s = s;
    r->cap = s->lim.mem_bytes;
    r->chunk_ref = r->snap_ref = LUA_NOREF;
    r->L = lua_newstate(lalloc, r);
    if (!r->L) {
        free(r);
        return util_err(err, errlen, DC_ENOMEM, "E-LUA-MEMORY: cannot create a Lua state");
    }
    *(struct lrun **)lua_getextraspace(r->L) = r;
    r->deadline_us = util_now_us() + s->lim.time_us;
    lua_sethook(r->L, deadline_hook, LUA_MASKCOUNT, LUART_HOOK_COUNT);
    lua_pushcfunction(r->L, cf_setup);
    int st = lua_pcall(r->L, 0, 0, 0);
    if (st != LUA_OK) {
        const char *m = lua_tostring(r->L, -1);
        int coded = m && strncmp(m, "E-LUA-", 6) == 0;
        int rc = util_err(err, errlen, st == LUA_ERRMEM ? DC_ENOMEM : DC_EINVAL, "%s%s",
                         st == LUA_ERRMEM ? "E-LUA-MEMORY: " : coded ? "" : "E-LUA-LOAD: ",
                         m ? m : "cannot set up the Lua state");
        lrun_free(r);
        return rc;
    }
    *out = r;
    return DC_OK;
}

/* Back to the snapshot: globals the last run added go, changed ones return. */
static int cf_reset(lua_State *L)
{
    struct lrun *r = run_of(L);
    lua_pushglobaltable(L);
    int g = lua_gettop(L);
    lua_pushnil(L);
    lua_setmetatable(L, g);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->snap_ref);
    int snap = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, g)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, snap) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            lua_pushnil(L);
            lua_rawset(L, g);
        } else {
            lua_pop(L, 1);
        }
    }
    lua_pushnil(L);
    while (lua_next(L, snap)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, g);
    }
    return 0;
}

static int lrun_take(struct luart *s, struct lrun **out, char *err, size_t errlen)
{
    struct lrun *r = NULL;
    if (s->lim.mode == LUART_POOLED) {
        pthread_mutex_lock(&s->mu);
        if (s->npool > 0)
            r = s->pool[--s->npool];
        pthread_mutex_unlock(&s->mu);
    }
    if (!r)
        return lrun_new(s, out, err, errlen);
    r->killed = 0;
    r->mem_hit = 0;
    r->handling = 0;
    r->deadline_us = util_now_us() + s->lim.time_us;
    lua_pushcfunction(r->L, cf_reset);
    if (lua_pcall(r->L, 0, 0, 0) != LUA_OK) {
        lrun_free(r);
        return lrun_new(s, out, err, errlen);
    }
    *out = r;
    return DC_OK;
}

/* A state whose run ended in a kill or memory error is not reused. */
static void lrun_give(struct luart *s, struct lrun *r, int clean)
{
    r->h = NULL;
    r->ctx = NULL;
    if (clean && s->lim.mode == LUART_POOLED) {
        lua_settop(r->L, 0);
        if (r->used > r->cap / 2)
            lua_gc(r->L, LUA_GCCOLLECT);
        pthread_mutex_lock(&s->mu);
        if (s->npool < LUART_POOL_MAX) {
            s->pool[s->npool++] = r;
            r = NULL;
        }
        pthread_mutex_unlock(&s->mu);
    }
    lrun_free(r);
}

/* Calls global fn (after running the chunk) with nargs values pushed by
 * push(arg); leaves one result on the stack. */
struct call_arg {
    const char *fn;
    int (*push)(lua_State *L, void *arg);
    void *arg;
};

static int cf_call(lua_State *L)
{
    struct lrun *r = run_of(L);
    struct call_arg *a = lua_touserdata(L, 1);
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->chunk_ref);
    lua_call(L, 0, 0);
    if (!a->fn)
        return 0;
    if (lua_getglobal(L, a->fn) != LUA_TFUNCTION)
        return luaL_error(L, "%s: the script defines no function %s", r->s->name, a->fn);
    int n = a->push ? a->push(L, a->arg) : 0;
    lua_call(L, n, 1);
    return 1;
}

static int run_protected(struct lrun *r, struct call_arg *a, char *err, size_t errlen)
{
    lua_State *L = r->L;
    lua_settop(L, 0);
    lua_pushcfunction(L, msg_handler);
    lua_pushcfunction(L, cf_call);
    lua_pushlightuserdata(L, a);
    int st = lua_pcall(L, 1, a->fn ? 1 : 0, 1);
    r->handling = 0;
    if (st == LUA_OK)
        return DC_OK;
    const char *m = lua_tostring(L, -1);
    if (!m)
        m = "(error object is not a string)";
    if (r->killed)
        return util_err(err, errlen, DC_ETIMEOUT, "E-LUA-DEADLINE: %s", m);
    if (r->mem_hit || st == LUA_ERRMEM)
        return util_err(err, errlen, DC_ENOMEM,
                       "E-LUA-MEMORY: the script went over its memory limit of %zu bytes: %s",
                       r->cap, m);
    return util_err(err, errlen, DC_ERR, "E-LUA-RUNTIME: %s", m);
}

/* ------------------------------------------------------------------------
 * Public API.
 */
static int opt_type(const char *t)
{
    static const struct {
        const char *name;
        int type;
    } types[] = {{"string", DC_OPT_STRING}, {"int", DC_OPT_INT},   {"bool", DC_OPT_BOOL},
                 {"number", DC_OPT_NUMBER}, {"list", DC_OPT_LIST}, {NULL, 0}};
    for (size_t i = 0; t && types[i].name; i++)
        if (strcmp(types[i].name, t) == 0)
            return types[i].type;
    return 0;
}

/* A string field of an option's declaration table (at -1), copied; *out
 * stays NULL when the field is absent. */
static void decl_string(lua_State *L, const char *opt, const char *field, char **out)
{
    struct luart *s = run_of(L)->s;
    int t = lua_getfield(L, -1, field);
    int is_default = strcmp(field, "default") == 0;
    if (t != LUA_TNIL) {
        if (t != LUA_TSTRING && !(is_default && (t == LUA_TNUMBER || t == LUA_TBOOLEAN)))
            luaL_error(L, "%s: options.%s.%s must be a string", s->name, opt, field);
        *out = strdup(t == LUA_TBOOLEAN ? (lua_toboolean(L, -1) ? "true" : "false")
                                        : lua_tostring(L, -1));
        if (!*out)
            luaL_error(L, "out of memory");
    }
    lua_pop(L, 1);
}

/* options = { name = { type = "string", required = true, default = "x",
 * help = "..." }, ... }: what the config loader checks `with:` against. */
static int read_options(lua_State *L, struct luart *s)
{
    int t = lua_getglobal(L, "options");
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (t != LUA_TTABLE)
        return luaL_error(L, "%s: `options` must be a table of declarations, e.g. options = { "
                             "keyword = { type = \"string\", required = true } }",
                          s->name);
    s->decl = calloc(LUART_MAX_OPTIONS + 1, sizeof(*s->decl));
    if (!s->decl)
        return luaL_error(L, "out of memory");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_error(L, "%s: `options` keys must be option names", s->name);
        const char *name = lua_tostring(L, -2);
        if (s->ndecl >= LUART_MAX_OPTIONS)
            return luaL_error(L, "%s: at most %d options", s->name, LUART_MAX_OPTIONS);
        if (lua_type(L, -1) != LUA_TTABLE)
            return luaL_error(L, "%s: options.%s must be a table such as { type = \"string\" }",
                              s->name, name);
        struct dc_option *d = &s->decl[s->ndecl++];
        d->name = strdup(name);
        if (!d->name)
            return luaL_error(L, "out of memory");
        char *type = NULL;
        decl_string(L, name, "type", &type);
        d->type = opt_type(type ? type : "string");
        free(type);
        if (!d->type)
            return luaL_error(L, "%s: options.%s.type must be one of string, int, bool, number, "
                                 "list",
                              s->name, name);
        lua_getfield(L, -1, "required");
        d->required = lua_toboolean(L, -1);
        lua_pop(L, 1);
        decl_string(L, name, "default", (char **)&d->default_value);
        decl_string(L, name, "help", (char **)&d->help);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 0;
}

static int cf_read_outcomes(lua_State *L)
{
    struct lrun *r = run_of(L);
    struct luart *s = r->s;
    read_options(L, s);
    s->has_run = lua_getglobal(L, "run") == LUA_TFUNCTION;
    s->has_invoke = lua_getglobal(L, "invoke") == LUA_TFUNCTION;
    lua_pop(L, 2);
    int t = lua_getglobal(L, "outcomes");
    if (t == LUA_TNIL)
        return 0;
    if (t != LUA_TTABLE)
        return luaL_error(L, "%s: `outcomes` must be a list of labels, e.g. outcomes = {\"ok\"}",
                          s->name);
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    if (n > LUART_MAX_OUTCOMES)
        return luaL_error(L, "%s: at most %d outcomes", s->name, LUART_MAX_OUTCOMES);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, -1, i) != LUA_TSTRING)
            return luaL_error(L, "%s: outcomes[%d] must be a string", s->name, (int)i);
        size_t len;
        const char *o = lua_tolstring(L, -1, &len);
        if (len == 0 || len >= sizeof(s->last_outcome) || strlen(o) != len)
            return luaL_error(L, "%s: outcomes[%d] must be a short, non-empty label", s->name,
                              (int)i);
        s->outcomes[i - 1] = strdup(o);
        if (!s->outcomes[i - 1])
            return luaL_error(L, "out of memory");
        lua_pop(L, 1);
    }
    return 0;
}

static void free_opts(struct luart *s)
{
    for (size_t i = 0; i < s->nopts; i++) {
        free(s->opts[i].key);
        free(s->opts[i].value);
        for (size_t j = 0; j < s->opts[i].nitems; j++)
            free(s->opts[i].items[j]);
        free(s->opts[i].items);
    }
    free(s->opts);
    s->opts = NULL;
    s->nopts = 0;
}

static void free_decl(struct luart *s)
{
    for (size_t i = 0; s->decl && i < s->ndecl; i++) {
        free((char *)s->decl[i].name);
        free((char *)s->decl[i].default_value);
        free((char *)s->decl[i].help);
    }
    free(s->decl);
}

void luart_close(struct luart *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->npool; i++)
        lrun_free(s->pool[i]);
    pthread_mutex_destroy(&s->mu);
    for (size_t i = 0; s->outcomes[i]; i++)
        free(s->outcomes[i]);
    free_opts(s);
    free_decl(s);
    if (s->name)
        free(s->name - 1);
    free(s->text);
    free(s->lib_text);
    free(s->lib_name);
    free(s);
}

static void drain_pool(struct luart *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->npool > 0)
        lrun_free(s->pool[--s->npool]);
    pthread_mutex_unlock(&s->mu);
}

static int read_text(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    int rc = DC_OK;
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (!f)
        return util_err(err, errlen, DC_ENOTFOUND, "E-LUA-NO-SCRIPT: cannot open %s: %s", path,
                       strerror(errno));
    buf = malloc(LUART_MAX_SCRIPT_BYTES + 1);
    if (!buf) {
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    size_t n = fread(buf, 1, LUART_MAX_SCRIPT_BYTES + 1, f);
    if (ferror(f)) {
        rc = util_err(err, errlen, DC_EIO, "E-LUA-NO-SCRIPT: cannot read %s", path);
        goto cleanup;
    }
    if (n > LUART_MAX_SCRIPT_BYTES) {
        rc = util_err(err, errlen, DC_ELIMIT, "E-LUA-LOAD: %s is over the 1 MiB script limit",
                     path);
        goto cleanup;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
cleanup:
    free(buf);
    fclose(f);
    return rc;
}

int luart_read_source(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
    return read_text(path, text, len, err, errlen);
}

int luart_open_buffer(const char *text, size_t len, const char *name, const char *lib_path,
                      const struct luart_limits *lim, struct luart **out, char *err,
                      size_t errlen)
{
    char *lib = NULL;
    size_t lib_len = 0;
    int rc = lib_path ? read_text(lib_path, &lib, &lib_len, err, errlen) : DC_OK;
    if (rc == DC_OK)
        rc = luart_open_sources(text, len, name, lib, lib_len, lib_path, lim, out, err, errlen);
    free(lib);
    return rc;
}

int luart_open_sources(const char *text, size_t len, const char *name, const char *lib_text,
                       size_t lib_len, const char *lib_name, const struct luart_limits *lim,
                       struct luart **out, char *err, size_t errlen)
{
    int rc = DC_OK;
    struct lrun *r = NULL;
    struct luart *s = calloc(1, sizeof(*s));
    if (!s)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    if (lim)
        s->lim = *lim;
    if (s->lim.mem_bytes == 0)
        s->lim.mem_bytes = LUART_DEFAULT_MEM_BYTES;
    if (s->lim.time_us <= 0)
        s->lim.time_us = LUART_DEFAULT_TIME_US;
    size_t nl = strlen(name ? name : "script");
    char *nm = malloc(nl + 2);
    s->text = malloc(len + 1);
    if (!nm || !s->text) {
        free(nm);
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    nm[0] = '@';
    memcpy(nm + 1, name ? name : "script", nl + 1);
    s->name = nm + 1;
    memcpy(s->text, text, len);
    s->text[len] = '\0';
    s->len = len;
    if (lib_text) {
        const char *ln = lib_name ? lib_name : "dc_util.lua";
        s->lib_text = malloc(lib_len + 1);
        s->lib_name = malloc(strlen(ln) + 2);
        if (!s->lib_text || !s->lib_name) {
            rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
            goto cleanup;
        }
        memcpy(s->lib_text, lib_text, lib_len);
        s->lib_text[lib_len] = '\0';
        s->lib_len = lib_len;
        s->lib_name[0] = '@';
        strcpy(s->lib_name + 1, ln);
    }
    rc = lrun_new(s, &r, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    struct call_arg a = {NULL, NULL, NULL};
    rc = run_protected(r, &a, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    lua_pushcfunction(r->L, cf_read_outcomes);
    if (lua_pcall(r->L, 0, 0, 0) != LUA_OK) {
        rc = util_err(err, errlen, DC_EINVAL, "E-LUA-OUTCOMES: %s", lua_tostring(r->L, -1));
        goto cleanup;
    }
    *out = s;
    s = NULL;
cleanup:
    lrun_free(r);
    luart_close(s);
    return rc;
}

int luart_open(const char *path, const char *name, const char *lib_path,
               const struct luart_limits *lim, struct luart **out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc = read_text(path, &text, &len, err, errlen);
    if (rc != DC_OK)
        return rc;
    rc = luart_open_buffer(text, len, name ? name : path, lib_path, lim, out, err, errlen);
    free(text);
    return rc;
}

void luart_set_http(struct luart *s, luart_http_fn fn, void *arg)
{
    s->http = fn;
    s->http_arg = arg;
}

void luart_set_ctx_hooks(struct luart *s, const struct luart_ctx_hooks *h)
{
    if (h)
        s->hooks = *h;
    else
        memset(&s->hooks, 0, sizeof(s->hooks));
}

const struct dc_option *luart_options(const struct luart *s)
{
    return s ? s->decl : NULL;
}

const char *const *luart_outcomes(const struct luart *s)
{
    return s && s->outcomes[0] ? (const char *const *)s->outcomes : NULL;
}

int luart_defines(const struct luart *s, const char *fn)
{
    if (!s || !fn)
        return 0;
    if (strcmp(fn, "run") == 0)
        return s->has_run;
    if (strcmp(fn, "invoke") == 0)
        return s->has_invoke;
    return 0;
}

int luart_set_option(struct luart *s, const char *key, const char *value,
                     const char *const *items, size_t nitems)
{
    struct luart_opt *o = realloc(s->opts, (s->nopts + 1) * sizeof(*o));
    if (!o)
        return DC_ENOMEM;
    s->opts = o;
    o = &s->opts[s->nopts];
    memset(o, 0, sizeof(*o));
    o->key = strdup(key);
    o->is_list = items != NULL;
    if (!o->key)
        return DC_ENOMEM;
    s->nopts++;
    if (items) {
        o->items = calloc(nitems ? nitems : 1, sizeof(char *));
        if (!o->items)
            return DC_ENOMEM;
        for (size_t i = 0; i < nitems; i++) {
            o->items[i] = strdup(items[i]);
            if (!o->items[i])
                return DC_ENOMEM;
            o->nitems++;
        }
    } else {
        o->value = strdup(value ? value : "");
        if (!o->value)
            return DC_ENOMEM;
    }
    drain_pool(s); /* states built before carry the old options */
    return DC_OK;
}

/* ctx as the script sees it: a read-only view whose fields read the
 * blackboard (ctx.question, ctx.database, ...). */
static int ctx_index(lua_State *L)
{
    struct lrun *r = run_of(L);
    const char *k = lua_tostring(L, 2);
    if (!k) {
        lua_pushnil(L);
        return 1;
    }
    return push_ctx_value(L, r, k, "ctx");
}

static int ctx_newindex(lua_State *L)
{
    return luaL_error(L, "ctx is read-only; use dc.emit(key, value)");
}

static int push_ctx(lua_State *L, void *arg)
{
    (void)arg;
    lua_newtable(L);
    lua_createtable(L, 0, 3);
    lua_pushcfunction(L, ctx_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ctx_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    return 1;
}

static void fail_ctx(const struct dc_host *h, struct dc_ctx *ctx, const char *msg)
{
    char code[32] = "E-LUA-RUNTIME";
    size_t n = strcspn(msg, ":");
    if (strncmp(msg, "E-LUA-", 6) == 0 && n < sizeof(code)) {
        memcpy(code, msg, n);
        code[n] = '\0';
        msg += n + (msg[n] == ':') + (msg[n] == ':' && msg[n + 1] == ' ');
    }
    if (h && h->ctx_fail && ctx)
        h->ctx_fail(ctx, code, "%s", msg);
}

int luart_run_stage(struct luart *s, const struct dc_host *h, struct dc_ctx *ctx,
                    const char **outcome, char *err, size_t errlen)
{
    struct lrun *r = NULL;
    char ebuf[1024] = "";
    *outcome = NULL;
    int rc = lrun_take(s, &r, ebuf, sizeof(ebuf));
    if (rc == DC_OK) {
        r->h = h;
        r->ctx = ctx;
        struct call_arg a = {"run", push_ctx, NULL};
        rc = run_protected(r, &a, ebuf, sizeof(ebuf));
        if (rc == DC_OK) {
            const char *o = lua_tostring(r->L, -1);
            if (lua_type(r->L, -1) != LUA_TSTRING || !o) {
                rc = util_err(ebuf, sizeof(ebuf), DC_EINVAL,
                             "E-LUA-OUTCOME: %s: run(ctx) must return an outcome label "
                             "(a string), got %s",
                             s->name, luaL_typename(r->L, -1));
            } else {
                *outcome = s->last_outcome;
                for (size_t i = 0; s->outcomes[i]; i++)
                    if (strcmp(s->outcomes[i], o) == 0)
                        *outcome = s->outcomes[i];
                if (*outcome == s->last_outcome)
                    snprintf(s->last_outcome, sizeof(s->last_outcome), "%s", o);
            }
        }
        lrun_give(s, r, rc == DC_OK || rc == DC_ERR || rc == DC_EINVAL);
    }
    if (rc != DC_OK) {
        fail_ctx(h, ctx, ebuf);
        util_err(err, errlen, rc, "%s", ebuf);
    }
    return rc;
}

static int push_args(lua_State *L, void *arg)
{
    const json_t *j = arg;
    if (j)
        push_json(L, j, 0);
    else
        lua_newtable(L);
    return 1;
}

int luart_run_tool(struct luart *s, const struct dc_host *h, struct dc_ctx *ctx, char *err,
                   size_t errlen)
{
    struct lrun *r = NULL;
    char ebuf[1024] = "";
    json_t *args = NULL;
    const char *at = h->ctx_get(ctx, "args");
    int rc = DC_OK;
    if (at) {
        json_error_t jerr;
        args = json_loads(at, JSON_REJECT_DUPLICATES, &jerr);
        if (!args)
            rc = util_err(ebuf, sizeof(ebuf), DC_EINVAL, "E-LUA-ARGS: arguments are not JSON: %s",
                         jerr.text);
    }
    if (rc == DC_OK)
        rc = lrun_take(s, &r, ebuf, sizeof(ebuf));
    if (rc == DC_OK) {
        r->h = h;
        r->ctx = ctx;
        struct call_arg a = {"invoke", push_args, args};
        rc = run_protected(r, &a, ebuf, sizeof(ebuf));
        if (rc == DC_OK) {
            const char *why = NULL;
            char *res = lua_type(r->L, -1) == LUA_TTABLE ? encode_value(r->L, -1, &why) : NULL;
            if (!res)
                rc = util_err(ebuf, sizeof(ebuf), DC_EINVAL,
                             "E-LUA-RESULT: %s: invoke(args) must return a table that has a "
                             "JSON form%s%s",
                             s->name, why ? ": " : "", why ? why : "");
            else if (h->ctx_set(ctx, "result", res) != DC_OK)
                rc = util_err(ebuf, sizeof(ebuf), DC_ENOMEM, "out of memory");
            free(res);
        }
        lrun_give(s, r, rc == DC_OK || rc == DC_ERR || rc == DC_EINVAL);
    }
    json_decref(args);
    if (rc != DC_OK) {
        fail_ctx(h, ctx, ebuf);
        util_err(err, errlen, rc, "%s", ebuf);
    }
    return rc;
}

int luart_is_lua_use(const char *use)
{
    return use && strncmp(use, "lua:", 4) == 0;
}

char *luart_script_path(const char *dir, const char *use)
{
    if (!luart_is_lua_use(use))
        return NULL;
    const char *p = use + 4;
    if (p[0] == '~' && p[1] == '/' && getenv("HOME")) {
        dir = getenv("HOME");
        p += 2;
    }
    if (p[0] == '/' || !dir)
        return strdup(p);
    size_t n = strlen(dir) + strlen(p) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", dir, p);
    return out;
}

char *luart_find_lib(const char *script_path)
{
    if (!script_path)
        return NULL;
    size_t n = strlen(script_path) + 64;
    char *dir = strdup(script_path);
    char *cand = malloc(n);
    char *found = NULL;
    if (!dir || !cand)
        goto cleanup;
    for (int up = 0; up < 4; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash)
            break;
        *slash = '\0';
        static const char *const rel[] = {"lib/dc_util.lua", "lua/lib/dc_util.lua"};
        for (size_t i = 0; i < 2 && !found; i++) {
            struct stat st;
            snprintf(cand, n, "%s/%s", dir[0] ? dir : "", rel[i]);
            if (stat(cand, &st) == 0 && S_ISREG(st.st_mode))
                found = strdup(cand);
        }
        if (found)
            break;
    }
cleanup:
    free(dir);
    free(cand);
    return found;
}
