/*
 * render - result sets as aligned text tables for terminals.
 * It owns the display rules: UTF-8 display widths, numbers right-aligned,
 * control characters and invalid UTF-8 neutralised so a cell can never
 * move the cursor or forge lines, long cells cut with an ellipsis, a row
 * limit with a "(N more rows)" note. It never changes the result.
 */
#ifndef DC_RENDER_H
#define DC_RENDER_H

#include <stddef.h>

#include "util.h"

struct dc_result;

/* Appends the table (header, rule, at most max_rows rows, notes) to out. */
int render_table(const struct dc_result *r, size_t max_rows, size_t max_width,
                 struct sbuf *out);

#endif
