/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Local overrides: entries an authorised caller sets at run time (portctl set/unset), kept in
 * services(5) files that the catalog reads above every drop-in. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Lowest precedence first: the runtime file wins over the persistent one.  The persistent one is
 * configuration an administrator made, so it lives in /etc, next to portd.conf. */
#define OVERRIDES_PERSISTENT_PATH "/etc/portd/overrides.conf"
#define OVERRIDES_RUNTIME_PATH "/run/portd/overrides.conf"

extern const char *const overrides_paths[]; /* the two above, NULL-terminated */

#define SERVICE_NAME_MAX 255
#define SERVICE_PROTOCOL_MAX 32
#define SERVICE_ALIASES_MAX 32

/* What a services(5) line can carry as one token: not empty, no whitespace, no '#', no control
 * character, not starting with '!', at most max bytes. Protocols also hold no '/'. */
bool service_name_is_valid(const char *s);
bool service_protocol_is_valid(const char *s);

/* Adds or replaces the override of (name, protocol) in root+path, atomically and durably
 * (temporary file, fsync, rename, fsync of the directory; missing directories are made 0755).
 * aliases is NULL-terminated and may be NULL. -EINVAL for invalid names; on any error the file
 * is as it was and no temporary file remains. */
int overrides_set(const char *root, const char *path, const char *name, const char *protocol, uint16_t port,
                char *const *aliases);

/* Drops the overrides of name (protocol NULL: of every protocol). Returns the number of lines
 * dropped, 0 when there was none. */
int overrides_unset(const char *root, const char *path, const char *name, const char *protocol);

/* Removes the temporary files a crash in the middle of overrides_set() or overrides_unset() left
 * beside the override files below root (only the daemon writes them: call it before it serves).
 * Returns how many went. */
int overrides_remove_temporaries(const char *root);
