/*
 * result - struct dc_result, the host-owned result set plugins fill and read.
 * It owns every value's bytes (text/blob copied on append) in one arena per
 * result. It never talks to a database: connectors fill it through the host
 * table, the gate marks truncation, the answer reads it.
 */
#ifndef DC_RESULT_H
#define DC_RESULT_H

#include <stddef.h>

#include <datachat/value.h>

struct dc_result;

struct dc_result *result_new(void);
void result_free(struct dc_result *r);
int result_add_column(struct dc_result *r, const char *name, int type, const char *decl_type);
/* n must equal the column count; values are deep-copied. */
int result_append_row(struct dc_result *r, const struct dc_value *vals, size_t n);
void result_set_truncated(struct dc_result *r, int truncated);
size_t result_ncols(const struct dc_result *r);
size_t result_nrows(const struct dc_result *r);
const char *result_col_name(const struct dc_result *r, size_t col);
int result_col_type(const struct dc_result *r, size_t col);
const struct dc_value *result_get(const struct dc_result *r, size_t row, size_t col);
int result_truncated(const struct dc_result *r);
/* Bytes of row data held (for the gate's max_bytes limit). */
size_t result_bytes(const struct dc_result *r);
/* SHA-256 over a canonical encoding of columns and rows (for the audit). */
int result_hash(const struct dc_result *r, char out[65]);
/* The result as an aligned text table (see render.h); owned by r, valid
 * until the next call or result_free. NULL when out of memory. */
const char *result_render(const struct dc_result *r, size_t max_rows, size_t max_width);
/* Text form of one value (numbers formatted, NULL as ""); caller frees. */
char *result_value_text(const struct dc_value *v);

#endif
