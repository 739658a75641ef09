/*
 * hostcaps - the ABI 1.3 capability groups of the host table (DC_CAP_* in
 * datachat/plugin.h): which entries each group covers, how a set of groups
 * is written for people, and the stubs that take an undeclared group's
 * place so a plugin gets only what it declared. Compiled into the core and
 * into the SDK test kit (which cannot link the core), so both enforce the
 * same groups. It never decides what a plugin may have: callers pass the
 * declared mask, and it never touches the always-available entries.
 */
#ifndef DC_HOSTCAPS_H
#define DC_HOSTCAPS_H

#include <stddef.h>
#include <stdint.h>

#include <datachat/host.h>

/* Replaces the entries of every group missing from caps with stubs that
 * call hostcaps_fail and return an error (or NULL/0). DC_CAP_UNDECLARED
 * leaves the table whole. */
void hostcaps_restrict(struct dc_host *h, uint64_t caps);

/* "db.query, db.schema", "none", or "undeclared (all)"; bits this host
 * does not know are written as hex. Returns out. */
const char *hostcaps_format(uint64_t caps, char *out, size_t outlen);

/* Defined by each library that compiles this module (core: hostapi.c, test
 * kit: testing.c): records E-PLUGIN-CAPABILITY on c for a call of entry,
 * which belongs to capability group cap. */
void hostcaps_fail(struct dc_ctx *c, const char *cap, const char *entry);

#endif
