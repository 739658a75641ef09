/*
 * jschema - checks a tool's JSON arguments against the tool's JSON Schema.
 * It owns the subset tools declare: type, properties, required, enum,
 * minimum/maximum, minLength/maxLength, items, additionalProperties (false
 * or a schema). Other keywords are ignored, as JSON Schema says of unknown
 * ones. The only coercion: a string holding exactly an integer (or number)
 * where the schema says integer (or number) becomes that number. It never
 * runs a tool and never guesses a value that was not given.
 */
#ifndef DC_JSCHEMA_H
#define DC_JSCHEMA_H

#include <stddef.h>

#include <jansson.h>

/* Validates *inst against schema, coercing in place (the root may be
 * replaced: *inst then holds the new reference). root names the instance in
 * messages ("arguments"). On failure returns DC_EINVAL with
 * "arguments.limit: must be <= 1000" in err; the first violation only. */
int jschema_validate(const json_t *schema, json_t **inst, const char *root, char *err,
                     size_t errlen);

/* The same on text: schema_text NULL means "any object". On success *canon
 * is the coerced arguments as compact JSON with sorted keys (caller frees),
 * the form approvals hash. A schema that is not valid JSON is DC_EINVAL. */
int jschema_check_text(const char *schema_text, const char *args_text, const char *root,
                       char **canon, char *err, size_t errlen);

#endif
