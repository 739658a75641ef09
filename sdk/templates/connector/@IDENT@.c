/*
 * @NAME@ - a DataChat connector plugin.
 *
 * It serves one read-only table, greetings(id INTEGER, text TEXT), whose
 * rows come from the `rows` option, and understands one statement:
 * SELECT * FROM greetings (or SELECT id, text FROM greetings). The core's
 * gate decides whether a statement may run; the connector reports what it
 * would touch through the authorizer in prepare() and must fail when any
 * access is denied. Replace the statement handling with your engine's own
 * parser and executor.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

struct @IDENT@ {
    const struct dc_host *h;
    const struct dc_opts *opts;
};

static const struct dc_option @IDENT@_options[] = {
    {"rows", DC_OPT_LIST, 0, NULL, "the texts of the greetings table, one row each"},
    DC_OPTIONS_END};

static const char *const @IDENT@_default_rows[] = {"hello", "bonjour", NULL};

static int @IDENT@_open(const struct dc_host *h, const struct dc_opts *opts, void **conn,
                        char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct @IDENT@ *c = calloc(1, sizeof(*c));
    if (!c)
        return DC_ENOMEM;
    c->h = h;
    c->opts = opts;
    *conn = c;
    return DC_OK;
}

static void @IDENT@_close(void *conn)
{
    free(conn);
}

/* The statement without surrounding blanks and one trailing ';'. */
static int matches(const char *sql, const char *want)
{
    while (isspace((unsigned char)*sql))
        sql++;
    size_t n = strlen(sql);
    while (n && isspace((unsigned char)sql[n - 1]))
        n--;
    if (n && sql[n - 1] == ';')
        n--;
    while (n && isspace((unsigned char)sql[n - 1]))
        n--;
    return n == strlen(want) && strncasecmp(sql, want, n) == 0;
}

static int @IDENT@_prepare(void *conn, const char *sql, const struct dc_authorizer *az,
                           void **stmt, struct dc_stmt_info *info, char *err, size_t errlen)
{
    static int the_statement; /* its address is the statement handle */
    (void)conn;
    if (!matches(sql, "SELECT * FROM greetings") && !matches(sql, "SELECT id, text FROM greetings")) {
        snprintf(err, errlen, "@NAME@ understands only SELECT * FROM greetings");
        return DC_EUNSUPPORTED;
    }
    if (az && az->check &&
        (az->check(az->ctx, DC_ACT_SELECT, NULL, NULL) != DC_OK ||
         az->check(az->ctx, DC_ACT_READ, "greetings", "id") != DC_OK ||
         az->check(az->ctx, DC_ACT_READ, "greetings", "text") != DC_OK)) {
        snprintf(err, errlen, "not authorized to read greetings");
        return DC_EDENIED;
    }
    info->single = 1;
    info->readonly = 1;
    info->explain = 0;
    info->ncols = 2;
    *stmt = &the_statement;
    return DC_OK;
}

static int @IDENT@_execute(void *conn, void *stmt, const struct dc_value *params,
                           size_t nparams, const struct dc_limits *lim, struct dc_result *out,
                           char *err, size_t errlen)
{
    struct @IDENT@ *c = conn;
    const struct dc_host *h = c->h;
    (void)stmt;
    (void)params;
    if (nparams) {
        snprintf(err, errlen, "@NAME@ takes no parameters");
        return DC_EINVAL;
    }
    if (h->result_add_column(out, "id", DC_INT, "INTEGER") != DC_OK ||
        h->result_add_column(out, "text", DC_TEXT, "TEXT") != DC_OK)
        return DC_ENOMEM;
    size_t n = h->opt_list_len(c->opts, "rows");
    for (size_t i = 0; n ? i < n : @IDENT@_default_rows[i] != NULL; i++) {
        if (lim && lim->max_rows > 0 && (int64_t)i >= lim->max_rows) {
            h->result_set_truncated(out, 1);
            break;
        }
        const char *text = n ? h->opt_list_item(c->opts, "rows", i) : @IDENT@_default_rows[i];
        struct dc_value row[2] = {dc_value_int((int64_t)i + 1),
                                  dc_value_text(text, strlen(text))};
        if (h->result_append_row(out, row, 2) != DC_OK)
            return DC_ENOMEM;
    }
    return DC_OK;
}

static void @IDENT@_finalize(void *conn, void *stmt)
{
    (void)conn;
    (void)stmt;
}

static int @IDENT@_introspect(void *conn, struct dc_schema *out, char *err, size_t errlen)
{
    struct @IDENT@ *c = conn;
    (void)err;
    (void)errlen;
    struct dc_column_info cols[2] = {
        {sizeof(struct dc_column_info), "id", "INTEGER", DC_INT, 1, 1, NULL, NULL},
        {sizeof(struct dc_column_info), "text", "TEXT", DC_TEXT, 1, 0, NULL, NULL}};
    struct dc_table_info t = {sizeof(struct dc_table_info), NULL, "greetings", "table", -1,
                              "greetings served by @NAME@", 2, cols, 0, NULL};
    return c->h->schema_add_table(out, &t);
}

static const struct dc_connector_vtable @IDENT@_vtable = {
    .struct_size = sizeof(struct dc_connector_vtable),
    .dialect = "@NAME@",
    .options = @IDENT@_options,
    .open = @IDENT@_open,
    .close = @IDENT@_close,
    .prepare = @IDENT@_prepare,
    .execute = @IDENT@_execute,
    .finalize = @IDENT@_finalize,
    .introspect = @IDENT@_introspect,
};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_CONNECTOR, "@NAME@", "0.1.0", "MIT",
                      "@NAME@: a one-table read-only connector", &@IDENT@_vtable,
                      DC_CAP_NONE)
