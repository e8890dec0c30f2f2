/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /etc/portd/portd.conf: the daemon's own settings, an INI file as systemd's are ([Section],
 * Key=Value, '#' and ';' comments).  For now one setting: which groups besides root may edit
 * local overrides. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#define PORTD_CONF_PATH "/etc/portd/portd.conf"

typedef struct PortdConfDiagnostic {
        unsigned line;
        char *message; /* says what was ignored */
} PortdConfDiagnostic;

typedef struct PortdConf {
        /* [Overrides] Group=: names or numeric GIDs as written, in order, duplicates dropped. */
        char **override_groups;
        size_t n_override_groups;
        PortdConfDiagnostic *diagnostics; /* lines ignored: unknown sections and keys, bad syntax */
        size_t n_diagnostics;
} PortdConf;

PortdConf *portd_conf_free(PortdConf *c);

/* Parses data (no I/O).  Only -ENOMEM fails: whatever cannot be understood becomes a diagnostic
 * and is ignored, so that a typo never locks root out or lets everyone in. */
int portd_conf_parse(const char *data, size_t size, PortdConf **ret);

/* Reads root+PORTD_CONF_PATH and parses it: -ENOENT when it does not exist. */
int portd_conf_load(const char *root, PortdConf **ret);

/* A Group= word: a decimal GID, or a name looked up in the group database (getgrnam_r).
 * -ENOENT for a name that no group has, -EINVAL for a GID out of range. */
int portd_conf_resolve_group(const char *spec, gid_t *ret);
