/*
 * sqlgen_text - the text work of the sqlgen stage that needs no host:
 * prompt templates ({{name}} placeholders, checked when loaded) and pulling
 * one SQL statement out of a model's reply (fenced or plain).
 * It never decides whether SQL is safe or valid: everything it returns
 * still goes through the gate. Pure C, so unit and fuzz tests compile it in.
 */
#ifndef DC_SQLGEN_TEXT_H
#define DC_SQLGEN_TEXT_H

#include <stddef.h>

#include "textbuf.h"

#define SQLGEN_TPL_MAX_BYTES (64 * 1024)

struct sqlgen_tpl {
    char *text;
    char *path; /* for messages */
};

/* Checks text (from file path, for messages) against the placeholder names
 * it may use (allowed) and must use (required), both NULL-terminated. On a
 * problem returns DC_EINVAL with err "path:line:col: E-SQLGEN-PROMPT-...". */
int sqlgen_tpl_check(const char *path, const char *text, const char *const *allowed,
                     const char *const *required, char *err, size_t errlen);
/* Reads and checks a template file. */
int sqlgen_tpl_load(const char *path, const char *const *allowed, const char *const *required,
                    struct sqlgen_tpl *t, char *err, size_t errlen);
void sqlgen_tpl_free(struct sqlgen_tpl *t);
/* Appends text with every {{names[i]}} replaced by values[i] (NULL: ""). */
void sqlgen_tpl_fill(const char *text, const char *const *names, const char *const *values,
                     size_t n, struct textbuf *out);

/* The SQL in a model reply of len bytes: the first ```sql fenced block
 * (else the first fenced block), else the text from the first line that
 * starts with SELECT or WITH; trimmed, one trailing ';' dropped. DC_OK
 * with *sql malloc'ed, DC_ENOTFOUND when the reply holds no SQL. */
int sqlgen_extract_sql(const char *reply, size_t len, char **sql);

#endif
