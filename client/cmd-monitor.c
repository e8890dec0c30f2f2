/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* portctl monitor: io.portd.Services.Monitor, a line per catalog generation as the daemon builds
 * it (a reload, a change of the files or scopes, an override), for as long as the daemon serves;
 * the first line is the generation current when the call starts. */

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json-util.h"
#include "portctl.h"
#include "util.h"
#include "varlink-wire.h"

static void varlink_client_freep(VarlinkClient **c)
{
        varlink_client_free(*c);
}

static void print_event(struct json_object *e)
{
        struct json_object *v = NULL, *scopes = NULL;
        char when[32] = "-";
        int64_t usec = json_object_object_get_ex(e, "loaded_usec", &v) ? json_object_get_int64(v) : 0;
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (usec > 0 && localtime_r(&t, &tm))
                (void) strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        printf("%s generation %" PRId64 " (%s): %" PRId64 " services, digest %.12s", when,
                json_object_object_get_ex(e, "generation", &v) ? json_object_get_int64(v) : -1,
                json_object_object_get_ex(e, "cause", &v) ? json_object_get_string(v) : "?",
                json_object_object_get_ex(e, "entries", &v) ? json_object_get_int64(v) : -1,
                json_object_object_get_ex(e, "digest", &v) ? json_object_get_string(v) : "?");
        if (json_object_object_get_ex(e, "scopes_changed", &v) && json_object_get_boolean(v) &&
                json_object_object_get_ex(e, "scopes", &scopes) &&
                json_object_is_type(scopes, json_type_array)) {
                printf(", scopes now:");
                for (size_t i = 0; i < json_object_array_length(scopes); i++)
                        printf(" %s", json_object_get_string(json_object_array_get_idx(scopes, i)));
                if (json_object_array_length(scopes) == 0)
                        printf(" none");
        }
        putchar('\n');
}

int verb_monitor(int argc, char **argv, const PortctlContext *ctx)
{
        _cleanup_(varlink_client_freep) VarlinkClient *client = NULL;
        struct json_object *reply = NULL;
        const char *error = NULL;
        int r;

        if (argc > 1) {
                portctl_error("monitor takes no arguments");
                return PORTCTL_EXIT_ERROR;
        }
        if (ctx->root) {
                portctl_error("monitor asks the running daemon; --root does not apply");
                return PORTCTL_EXIT_ERROR;
        }
        r = varlink_client_connect(ctx->socket_path, 0, &client);
        if (r < 0) {
                portctl_error("cannot reach portd at '%s': %s", ctx->socket_path, strerror(-r));
                return PORTCTL_EXIT_ERROR;
        }
        /* Generations may be hours apart: wait for the next one without a deadline. */
        varlink_client_set_timeout(client, UINT64_MAX);

        r = varlink_client_call(
                client, "io.portd.Services.Monitor", NULL, VARLINK_CALL_MORE, &reply, &error);
        for (;;) {
                if (r < 0) {
                        portctl_error("monitor: %s",
                                r == -ECONNRESET ? "the daemon closed the connection" : strerror(-r));
                        return PORTCTL_EXIT_ERROR;
                }
                if (error) {
                        portctl_error("monitor: %s", error);
                        return PORTCTL_EXIT_ERROR;
                }
                if (ctx->json) {
                        /* One document per generation: a script reads line by line with --json=short. */
                        if (portctl_print_json(ctx, reply) != PORTCTL_EXIT_OK)
                                return PORTCTL_EXIT_ERROR;
                } else {
                        print_event(reply);
                        if (fflush(stdout) != 0)
                                return PORTCTL_EXIT_ERROR; /* the reader is gone */
                }
                if (r == 0)
                        return PORTCTL_EXIT_OK;
                r = varlink_client_next(client, &reply, &error);
        }
}
