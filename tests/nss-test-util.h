/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the NSS integration tests and bench/bench-nss.c: a real portd on a temporary root,
 * and glibc's files backend reading a chosen file as /etc/services in a private mount namespace. */
#pragma once

#include <limits.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct PortdInstance {
        pid_t pid;
        char dir[64];     /* the --root, with etc/services; short so the socket path fits sun_path */
        char socket[128]; /* the --socket */
} PortdInstance;

/* Starts portd with --root on a new temporary directory holding services_file as etc/services,
 * and waits (up to 10 s) until its socket accepts connections. */
int portd_start(const char *portd, const char *services_file, PortdInstance *ret);
/* Starts portd again on p's root and socket (after it was killed), and waits for its socket. */
int portd_spawn(const char *portd, PortdInstance *p);
/* SIGTERM (SIGKILL after 5 s), then removes the temporary directory. */
void portd_stop(PortdInstance *p);
/* Writes root-relative path (e.g. "etc/services.d/50-x.conf") below the root atomically
 * (write to a temporary name, then rename), creating directories as needed. */
int portd_write_file(const PortdInstance *p, const char *path, const char *contents);

/* In the calling process: a private mount namespace where services_file is bound over
 * /etc/services.  -EPERM (or another errno) when that is not allowed here. */
int files_namespace_enter(const char *services_file);
/* Whether files_namespace_enter() works here, tried in a throw-away child; prints why not. */
bool files_namespace_available(void);

/* __nss_configure_lookup("services", source), failing loudly. */
void nss_use_source(const char *source);

/* One line describing a lookup result, the same for any backend: "NAME PORT/PROTO alias,alias"
 * or "-" for none. */
void servent_format(FILE *f, const struct servent *se);

/* Runs f in a forked child and returns its exit status (128+signal when killed). */
int run_child(int (*f)(void *userdata), void *userdata);
