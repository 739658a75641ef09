#include "hostapi.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ctx.h"
#include "result.h"
#include "schema.h"
#include "util.h"

static const char *level_name(int level)
{
    switch (level) {
    case DC_LOG_ERROR: return "error";
    case DC_LOG_WARN: return "warn";
    case DC_LOG_INFO: return "info";
    default: return "debug";
    }
}

static void host_log(const struct dc_host *h, int level, const char *fmt, ...)
{
    const struct host_self *self = h ? h->self : NULL;
    int min = self ? self->min_level : DC_LOG_WARN;
    if (level > min)
        return;
    struct sbuf b;
    sbuf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    sbuf_vaddf(&b, fmt, ap);
    va_end(ap);
    const char *name = self && self->plugin_name ? self->plugin_name : "plugin";
    if (self && self->sink)
        self->sink(self->sink_arg, level, name, b.p ? b.p : "");
    else
        fprintf(stderr, "datachat: %s: %s: %s\n", level_name(level), name, b.p ? b.p : "");
    sbuf_free(&b);
}

static void host_ctx_trace(struct dc_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_vtrace_note(c, fmt, ap);
    va_end(ap);
}

static void host_ctx_fail(struct dc_ctx *c, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_vfail(c, code, fmt, ap);
    va_end(ap);
}

static const struct dc_result *host_ctx_result(struct dc_ctx *c)
{
    return ctx_result(c);
}

void hostapi_init(struct dc_host *h, struct host_self *self)
{
    memset(h, 0, sizeof(*h));
    h->struct_size = sizeof(*h);
    h->abi_major = DC_ABI_MAJOR;
    h->abi_minor = DC_ABI_MINOR;
    h->host_version = DC_VERSION;
    h->self = self;
    h->log = host_log;
    h->opt_str = opts_str;
    h->opt_int = opts_int;
    h->opt_bool = opts_bool;
    h->opt_number = opts_number;
    h->opt_list_len = opts_list_len;
    h->opt_list_item = opts_list_item;
    h->result_new = result_new;
    h->result_free = result_free;
    h->result_add_column = result_add_column;
    h->result_append_row = result_append_row;
    h->result_set_truncated = result_set_truncated;
    h->result_ncols = result_ncols;
    h->result_nrows = result_nrows;
    h->result_col_name = result_col_name;
    h->result_col_type = result_col_type;
    h->result_get = result_get;
    h->result_truncated = result_truncated;
    h->schema_add_table = schema_add_table;
    h->schema_ntables = schema_ntables;
    h->schema_table = schema_table;
    h->schema_find = schema_find;
    h->ctx_get = ctx_get;
    h->ctx_set = ctx_set;
    h->ctx_trace = host_ctx_trace;
    h->ctx_fail = host_ctx_fail;
    h->ctx_query = ctx_query;
    h->ctx_schema = ctx_schema;
    h->ctx_set_result = ctx_set_result;
    h->ctx_result = host_ctx_result;
}
