/*
 * catcache - the catalog cache: a database's introspected schema kept as a
 * JSON file, keyed by the connector's fingerprint of the database (for
 * SQLite: device, inode, size and modification time of the file).
 * It owns the file format and its atomic replacement. It never decides
 * whether a catalog is fresh beyond comparing fingerprints, and a cache
 * that cannot be read is a miss, never an error: the caller introspects.
 */
#ifndef DC_CATCACHE_H
#define DC_CATCACHE_H

#include <stddef.h>

struct dc_schema;

/* The schema stored at path if its fingerprint equals fp; NULL on a miss
 * (absent, stale, unreadable or malformed file). */
struct dc_schema *catcache_load(const char *path, const char *fp);

/* Writes s with fingerprint fp to path (mode 0600, parent directories
 * created, temp file + rename). */
int catcache_save(const char *path, const char *fp, const struct dc_schema *s, char *err,
                  size_t errlen);

#endif
