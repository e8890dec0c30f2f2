/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The service names of the ports in portctl who's rows, from the caller's own catalog: its
 * scope's where it is in one, the host's otherwise, as getservbyport() answers it through the NSS
 * module (who-names.c). */
#pragma once

#include <stdint.h>

typedef struct WhoNames WhoNames;

/* Asks io.portd.Services at services_path for the snapshot image of the caller's catalog (one
 * GetSnapshot call: the daemon decides the caller's scope there, as for every lookup) and maps
 * it.  -errno for a daemon that cannot be reached or sends no usable image; -EREMOTEIO for an
 * error reply (CallerUnidentified: the caller's scope cannot be told), its name in *ret_error
 * (malloc()ed) when ret_error is not NULL. */
int who_names_new(const char *services_path, WhoNames **ret, char **ret_error);
WhoNames *who_names_free(WhoNames *n);

/* Asks again when the daemon has a newer catalog than the one held (its image says so without a
 * call), or when none is held since a refresh failed: for --follow, which runs for hours.  0 when
 * nothing changed or the new one is in place; -errno drops the superseded one, and lookups name
 * nothing until a later refresh succeeds. */
int who_names_refresh(WhoNames *n);

/* The name of port/protocol, escaped as names are over varlink (\xNN), or NULL when the catalog
 * has none; borrowed until the next refresh or the free.  Each distinct port is looked up once:
 * a listing of a hundred thousand rows names a few hundred ports.  -ENOMEM. */
int who_names_lookup(WhoNames *n, uint16_t port, const char *protocol, const char **ret);
