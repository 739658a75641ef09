#include "answerjson.h"

#include <stdlib.h>
#include <string.h>

#include <datachat/value.h>

#include "ctx.h"
#include "result.h"

static json_t *value_json(const struct dc_value *v)
{
    switch (v->type) {
    case DC_NULL: return json_null();
    case DC_INT: return json_integer(v->v.i);
    case DC_BOOL: return json_boolean(v->v.i);
    case DC_REAL: return json_real(v->v.d);
    default: {
        char *t = result_value_text(v);
        json_t *s = t ? json_stringn(t, strlen(t)) : NULL;
        free(t);
        return s ? s : json_null();
    }
    }
}

json_t *answerjson_step(const struct trace_step *t)
{
    json_t *o = json_pack("{s:s?, s:s?, s:s?, s:s?, s:I}", "stage", t->stage, "plugin",
                          t->plugin, "outcome", t->outcome, "reason", t->reason, "us",
                          (json_int_t)t->us);
    /* A sub-step's detail is an object the stage built; anything else is
     * dropped rather than shown as text. */
    json_t *d = o && t->detail ? json_loads(t->detail, 0, NULL) : NULL;
    if (d && json_is_object(d))
        json_object_set(o, "detail", d);
    json_decref(d);
    return o;
}

/* json_pack fails on text that is not UTF-8; the field becomes null then
 * rather than the whole answer failing. */
static json_t *or_null(json_t *j)
{
    return j ? j : json_null();
}

static json_t *str_or_null(const char *s)
{
    /* json_string refuses invalid UTF-8; a null is better than losing the object. */
    json_t *j = s ? json_string(s) : NULL;
    return j ? j : json_null();
}

json_t *answerjson_new(struct dc_ctx *ctx, int64_t total_us, size_t max_rows)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int oom = 0;
    const char *answer = ctx_get(ctx, "answer");
    oom |= json_object_set_new(o, "question", str_or_null(ctx_get(ctx, "question")));
    oom |= json_object_set_new(o, "database", str_or_null(ctx_get(ctx, "database")));
    oom |= json_object_set_new(o, "answer", str_or_null(answer));
    const char *sql = ctx_get(ctx, "sql.run") ? ctx_get(ctx, "sql.run") : ctx_get(ctx, "sql");
    oom |= json_object_set_new(o, "sql", str_or_null(sql));
    /* A model's SQL carries how far it is trusted and what looked odd. */
    const char *conf = ctx_get(ctx, "confidence");
    if (conf) {
        char *end;
        double c = strtod(conf, &end);
        if (end != conf && *end == '\0')
            oom |= json_object_set_new(o, "confidence", json_real(c));
    }
    const char *flags = ctx_get(ctx, "sqlgen.flags");
    if (flags && *flags)
        oom |= json_object_set_new(o, "flags", str_or_null(flags));
    const struct dc_result *r = ctx_result(ctx);
    json_t *cols = json_array(), *rows = json_array();
    size_t nrows = result_nrows(r);
    if (r && cols && rows) {
        for (size_t i = 0; i < result_ncols(r); i++)
            oom |= json_array_append_new(cols, or_null(json_pack("{s:s?, s:s}", "name",
                                                         result_col_name(r, i), "type",
                                                         dc_type_name(result_col_type(r, i)))));
        for (size_t i = 0; i < nrows && i < max_rows; i++) {
            json_t *row = json_array();
            for (size_t k = 0; row && k < result_ncols(r); k++)
                oom |= json_array_append_new(row, value_json(result_get(r, i, k)));
            oom |= json_array_append_new(rows, row);
        }
    }
    oom |= json_object_set_new(o, "columns", cols);
    oom |= json_object_set_new(o, "rows", rows);
    oom |= json_object_set_new(o, "row_count", json_integer((json_int_t)nrows));
    oom |= json_object_set_new(o, "truncated",
                               json_boolean(result_truncated(r) || nrows > max_rows));
    if (ctx_get(ctx, "intent"))
        oom |= json_object_set_new(o, "intent", str_or_null(ctx_get(ctx, "intent")));
    /* The id `datachat feedback` and POST /api/v1/feedback refer to. */
    if (ctx_get(ctx, "answer.id"))
        oom |= json_object_set_new(o, "answer_id", str_or_null(ctx_get(ctx, "answer.id")));
    if (ctx_get(ctx, "session.id"))
        oom |= json_object_set_new(
            o, "session",
            or_null(json_pack("{s:s, s:s?, s:s?, s:s?}", "id", ctx_get(ctx, "session.id"), "turn",
                              ctx_get(ctx, "session.turn"), "built_on_turn",
                              ctx_get(ctx, "session.built_on"), "asked",
                              ctx_get(ctx, "question.asked"))));
    const char *refused = ctx_get(ctx, "refused");
    if (refused)
        oom |= json_object_set_new(
            o, "refused",
            or_null(json_pack("{s:s, s:s?}", "code", refused, "reason",
                              ctx_error_message(ctx) ? ctx_error_message(ctx) : answer)));
    if (ctx_error_code(ctx))
        oom |= json_object_set_new(o, "error",
                                   or_null(json_pack("{s:s, s:s?}", "code",
                                                     ctx_error_code(ctx), "message",
                                                     ctx_error_message(ctx))));
    json_t *trace = json_array();
    int64_t stages_us = 0;
    for (size_t i = 0; trace && i < ctx_ntrace(ctx); i++) {
        const struct trace_step *t = ctx_trace_at(ctx, i);
        oom |= json_array_append_new(trace, or_null(answerjson_step(t)));
        stages_us += t->us;
    }
    oom |= json_object_set_new(o, "trace", trace);
    oom |= json_object_set_new(o, "timings",
                               json_pack("{s:I, s:I}", "total_us", (json_int_t)total_us,
                                         "stages_us", (json_int_t)stages_us));
    if (oom) {
        json_decref(o);
        return NULL;
    }
    return o;
}
