/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON forms of catalog objects, shared by the daemon's varlink replies and portctl --json so
 * that both spell every field the same way (docs/ARCHITECTURE.md: snake_case, as the interface). */
#pragma once

#include <json-c/json.h>

#include "catalog.h"

/* {name, port, protocol, aliases, source: {file, line}}; NULL on OOM. */
struct json_object *service_entry_to_json(const Catalog *c, const ServiceEntry *e);
/* A Service from a snapshot entry (same fields). */
struct json_object *snapshot_entry_to_json(const Snapshot *s, const SnapshotEntry *e);
/* {winner: Service|null, replaced: [{service, by: {file, line}, removed}]} */
struct json_object *catalog_explain_to_json(const Catalog *c, const char *name, const char *protocol);
/* {diagnostics: [{file, line, level, message}], errors, warnings} */
struct json_object *catalog_diagnostics_to_json(const Catalog *c);
