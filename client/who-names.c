/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* portctl who names the ports of its rows itself, from the caller's own catalog: the owner-query
 * worker cannot, for the catalog depends on the caller's scope, which only the main process
 * decides.  The image comes as getservbyport() reads it through the NSS module (GetSnapshot),
 * so a row's name is what that lookup answers the caller. */

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "name-escape.h"
#include "snapshot-map.h"
#include "util.h"
#include "varlink-wire.h"
#include "who-names.h"

/* As the NSS module's bound on an image (the IANA registry's is under 1 MiB). */
#define WHO_NAMES_IMAGE_MAX (UINT64_C(1) << 30)
#define PORTS               65536U

/* The protocols a row can carry (owner.c's table); another has no cache and no name. */
static const char *const protocols[] = { "tcp", "udp", "sctp" };

/* A port looked up and found unnamed, told apart from one not looked up yet (NULL). */
static char no_name[] = "";

struct WhoNames {
        char *services_path;
        SnapshotMap map; /* the caller's catalog, when map.base is set */
        /* Per protocol, per port: the escaped name, no_name, or NULL; allocated on first use. */
        char **names[ELEMENTSOF(protocols)];
};

static void names_clear(WhoNames *n)
{
        for (size_t p = 0; p < ELEMENTSOF(protocols); p++) {
                for (size_t i = 0; n->names[p] && i < PORTS; i++)
                        if (n->names[p][i] != no_name)
                                free(n->names[p][i]);
                n->names[p] = mfree(n->names[p]);
        }
        snapshot_map_done(&n->map);
}

/* The memfd of a GetSnapshot reply, mapped under the NSS module's rules (snapshot_map()):
 * checked page by page as lookups read them, since a listing names a few ports of a large image. */
static int image_map(int fd, uint64_t size, WhoNames *n)
{
        struct stat st;
        SnapshotMap map;
        int r;

        if (fstat(fd, &st) < 0)
                return -errno;
        r = snapshot_map(fd, &st, size, WHO_NAMES_IMAGE_MAX, true, &map);
        if (r < 0)
                return r;
        names_clear(n);
        n->map = map;
        return 0;
}

/* One GetSnapshot call on a connection of its own: --follow's may come hours after the first,
 * when a connection kept open would long have been dropped as idle. */
static int image_fetch(WhoNames *n, char **ret_error)
{
        VarlinkClient *client = NULL;
        struct json_object *reply = NULL, *size = NULL;
        const char *error = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        r = varlink_client_connect(n->services_path, 0, &client);
        if (r < 0)
                return r;
        r = varlink_client_call(client, "io.portd.Services.GetSnapshot", NULL, 0, &reply, &error);
        if (r >= 0 && error) {
                if (ret_error) {
                        *ret_error = strdup(error);
                        if (!*ret_error)
                                r = -ENOMEM;
                }
                if (r >= 0)
                        r = -EREMOTEIO;
        } else if (r >= 0) {
                fd = varlink_client_take_fd(client);
                if (fd < 0 || !json_object_object_get_ex(reply, "size", &size) ||
                        !json_object_is_type(size, json_type_int) || json_object_get_int64(size) <= 0)
                        r = -EBADMSG;
                else
                        r = image_map(fd, (uint64_t) json_object_get_int64(size), n);
        }
        varlink_client_free(client);
        return r;
}

int who_names_new(const char *services_path, WhoNames **ret, char **ret_error)
{
        WhoNames *n = calloc(1, sizeof(WhoNames));
        int r;

        if (!n)
                return -ENOMEM;
        n->services_path = strdup(services_path);
        if (!n->services_path) {
                who_names_free(n);
                return -ENOMEM;
        }
        r = image_fetch(n, ret_error);
        if (r < 0) {
                who_names_free(n);
                return r;
        }
        *ret = n;
        return 0;
}

WhoNames *who_names_free(WhoNames *n)
{
        if (!n)
                return NULL;
        names_clear(n);
        free(n->services_path);
        free(n);
        return NULL;
}

int who_names_refresh(WhoNames *n)
{
        int r;

        if (n->map.base && !snapshot_is_superseded(&n->map.snapshot))
                return 0;
        r = image_fetch(n, NULL);
        /* Never a superseded catalog's names: the NSS module does not answer from one either
         * (it asks the daemon, or the next source answers).  Until a later refresh gets the new
         * one, the rows name nothing. */
        if (r < 0)
                names_clear(n);
        return r;
}

int who_names_lookup(WhoNames *n, uint16_t port, const char *protocol, const char **ret)
{
        size_t p = 0;

        if (!n->map.base) {
                /* Dropped by a refresh that failed (who_names_refresh()). */
                *ret = NULL;
                return 0;
        }
        while (p < ELEMENTSOF(protocols) && !streq_ptr(protocols[p], protocol))
                p++;
        if (p == ELEMENTSOF(protocols)) {
                *ret = NULL;
                return 0;
        }
        if (!n->names[p]) {
                n->names[p] = calloc(PORTS, sizeof(char *));
                if (!n->names[p])
                        return -ENOMEM;
        }
        char **slot = &n->names[p][port];
        if (!*slot) {
                SnapshotEntry e;
                /* A damaged page (-EBADMSG) names nothing, as the NSS module then answers from
                 * elsewhere: never a wrong name. */
                if (snapshot_lookup_port(&n->map.snapshot, port, protocol, &e) < 0)
                        *slot = no_name;
                else {
                        _cleanup_free_ char *raw = strndup(e.name, e.name_len);
                        if (!raw)
                                return -ENOMEM;
                        *slot = name_escape(raw, NAME_ESCAPE_BACKSLASH);
                        if (!*slot)
                                return -ENOMEM;
                }
        }
        *ret = *slot == no_name ? NULL : *slot;
        return 0;
}
