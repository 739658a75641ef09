/*
 * textbuf - a growable NUL-terminated text buffer for plugins, which cannot
 * reach the core's own buffer. Appends after an allocation failure are
 * dropped and the failure is remembered in `oom`, so callers check once at
 * the end instead of after every append.
 */
#ifndef DC_PLUGIN_TEXTBUF_H
#define DC_PLUGIN_TEXTBUF_H

#include <stddef.h>

struct textbuf {
    char *p; /* NULL until something is added */
    size_t len, cap;
    int oom;
};

void textbuf_add(struct textbuf *b, const char *s, size_t n);
void textbuf_puts(struct textbuf *b, const char *s);
/* Formatted text of any length. */
void textbuf_printf(struct textbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void textbuf_free(struct textbuf *b);

#endif
