/*
 * datachat/value.h - typed scalar values and the status codes of the SDK.
 *
 * A dc_value is a borrowed view: text and blob pointers belong to whoever
 * handed the value out (the host, or the plugin for the duration of one
 * call). Anything that must outlive the call is copied by the receiver.
 * Result sets, schemas and requests are opaque host objects; plugins build
 * and read them only through the functions in datachat/host.h.
 */
#ifndef DATACHAT_VALUE_H
#define DATACHAT_VALUE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes: 0 is success, failures are negative. */
#define DC_OK 0
#define DC_ERR (-1)         /* generic failure, message in the error buffer */
#define DC_ENOMEM (-2)      /* allocation failed or memory cap reached */
#define DC_EINVAL (-3)      /* bad argument or bad input */
#define DC_ENOTFOUND (-4)   /* named thing does not exist */
#define DC_EDENIED (-5)     /* refused by the gate or by policy */
#define DC_ETIMEOUT (-6)    /* deadline passed */
#define DC_ELIMIT (-7)      /* a size/row/rate limit was hit */
#define DC_EIO (-8)         /* I/O failure (disk, network, database) */
#define DC_EUNSUPPORTED (-9) /* the peer lacks this capability */
#define DC_EABI (-10)       /* ABI or descriptor mismatch */

enum dc_type {
    DC_NULL = 0,
    DC_INT = 1,       /* v.i */
    DC_REAL = 2,      /* v.d */
    DC_TEXT = 3,      /* v.s, UTF-8, not necessarily NUL-terminated */
    DC_BLOB = 4,      /* v.s */
    DC_BOOL = 5,      /* v.i is 0 or 1 */
    DC_DATE = 6,      /* v.s as YYYY-MM-DD */
    DC_TIMESTAMP = 7, /* v.s as ISO 8601 */
    DC_NUMERIC = 8,   /* v.s, exact decimal text */
    DC_JSON = 9       /* v.s, a JSON document */
};

struct dc_value {
    int type; /* enum dc_type */
    union {
        int64_t i;
        double d;
        struct {
            const char *p;
            size_t n;
        } s;
    } v;
};

#define DC_VALUE_NULL ((struct dc_value){.type = DC_NULL})

static inline struct dc_value dc_value_int(int64_t i)
{
    struct dc_value x;
    x.type = DC_INT;
    x.v.i = i;
    return x;
}

static inline struct dc_value dc_value_real(double d)
{
    struct dc_value x;
    x.type = DC_REAL;
    x.v.d = d;
    return x;
}

static inline struct dc_value dc_value_text(const char *p, size_t n)
{
    struct dc_value x;
    x.type = DC_TEXT;
    x.v.s.p = p;
    x.v.s.n = n;
    return x;
}

/* The name of a type as used in JSON output and docs ("int", "text", ...). */
static inline const char *dc_type_name(int type)
{
    switch (type) {
    case DC_NULL: return "null";
    case DC_INT: return "int";
    case DC_REAL: return "real";
    case DC_TEXT: return "text";
    case DC_BLOB: return "blob";
    case DC_BOOL: return "bool";
    case DC_DATE: return "date";
    case DC_TIMESTAMP: return "timestamp";
    case DC_NUMERIC: return "numeric";
    case DC_JSON: return "json";
    default: return "unknown";
    }
}

#ifdef __cplusplus
}
#endif
#endif
