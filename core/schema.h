/*
 * schema - struct dc_schema, the host-owned catalog of one database.
 * It owns deep copies of every table, column and foreign key a connector
 * reports. It never introspects by itself: connectors fill it through the
 * host table (schema_add_table), stages read it.
 */
#ifndef DC_SCHEMA_H
#define DC_SCHEMA_H

#include <stddef.h>

#include <datachat/host.h>

struct dc_schema;

struct dc_schema *schema_new(void);
void schema_free(struct dc_schema *s);
int schema_add_table(struct dc_schema *s, const struct dc_table_info *t);
size_t schema_ntables(const struct dc_schema *s);
const struct dc_table_info *schema_table(const struct dc_schema *s, size_t i);
const struct dc_table_info *schema_find(const struct dc_schema *s, const char *name);

#endif
