/*
 * approval - approvals for tier-4 (write) tool calls, shared by the CLI and
 * the server through one small JSON file under the var directory.
 * It owns that file: pending requests, granted tokens (only their SHA-256
 * is stored) and their single use. A token is bound to the SHA-256 of the
 * exact tool name and canonical arguments, expires, and is spent on its
 * first use. It never runs a tool and never stores a token in clear.
 */
#ifndef DC_APPROVAL_H
#define DC_APPROVAL_H

#include <stddef.h>
#include <stdint.h>

#define APPROVAL_DEFAULT_TIMEOUT_S 600

/* What a token is bound to: hex SHA-256 of tool "\n" canonical_args. */
void approval_binding(const char *tool, const char *canon_args, char out[65]);

/* The approval timeout: $DATACHAT_APPROVAL_TIMEOUT_S (1..86400) or the
 * default. A malformed value is DC_EINVAL with the reason in err. */
int approval_timeout(int64_t *out, char *err, size_t errlen);

/* Records a pending approval for this exact call; id receives its 32-hex id. */
int approval_request(const char *path, const char *tool, const char *canon_args,
                     int64_t timeout_s, char id[33], char *err, size_t errlen);

/* Grants pending approval id: token receives a fresh 64-hex token valid for
 * timeout_s. Errors set code: E-APPROVAL-UNKNOWN (DC_ENOTFOUND),
 * E-APPROVAL-EXPIRED, E-APPROVAL-GRANTED (already granted; DC_EDENIED). */
int approval_grant(const char *path, const char *id, int64_t timeout_s, char token[65],
                   char code[32], char *err, size_t errlen);

/* Spends token on this exact call. Refusals (DC_EDENIED) set code:
 * E-APPROVAL-INVALID (no such token), E-APPROVAL-REUSED, E-APPROVAL-EXPIRED,
 * E-APPROVAL-MISMATCH (granted for another tool or other arguments). */
int approval_consume(const char *path, const char *token, const char *tool,
                     const char *canon_args, char code[32], char *err, size_t errlen);

#endif
