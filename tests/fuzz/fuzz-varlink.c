/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target for the varlink wire code, both directions: the bytes as a client's stream into
 * the server's framing and call checks, and as a server's replies to the blocking client (the
 * code that runs inside the NSS module). */

#include <json-c/json.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util.h"
#include "varlink-wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void as_server_input(const uint8_t *data, size_t size)
{
        VarlinkBuffer b;
        struct json_object *m;
        int r;

        /* A small message limit so that the oversize path runs too; bytes arrive in uneven reads. */
        varlink_buffer_init(&b, 512);
        for (size_t pos = 0; pos < size;) {
                size_t n = MIN(size - pos, (size_t) (data[pos] % 61) + 1);
                if (varlink_buffer_append(&b, data + pos, n) < 0)
                        break;
                pos += n;
                while ((r = varlink_buffer_next_object(&b, &m)) == 1) {
                        VarlinkCall call;
                        VarlinkReply reply;
                        if (varlink_call_parse(m, &call) == 0 && !varlink_method_name_is_valid(call.method))
                                __builtin_trap();
                        (void) varlink_reply_parse(m, &reply);
                        json_object_put(m);
                }
                if (r == -EMSGSIZE)
                        break;
        }
        varlink_buffer_done(&b);
}

static void as_client_replies(const uint8_t *data, size_t size)
{
        int sv[2];
        VarlinkClient *c = NULL;
        struct json_object *p;
        const char *error;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return;
        /* The replies are queued before the call: a socket buffer holds far more than libFuzzer's
         * inputs, so this never blocks. */
        if (write(sv[1], data, size) != (ssize_t) size) {
                safe_close(sv[0]);
                safe_close(sv[1]);
                return;
        }
        shutdown(sv[1], SHUT_WR);
        if (varlink_client_connect_fd(sv[0], 100 * 1000, &c) < 0) {
                safe_close(sv[1]);
                return;
        }
        int r = varlink_client_call(c, "io.portd.Services.List", NULL, VARLINK_CALL_MORE, &p, &error);
        for (int i = 0; r == 1 && i < 1000; i++)
                r = varlink_client_next(c, &p, &error);
        varlink_client_free(c);
        safe_close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        as_server_input(data, size);
        as_client_replies(data, size);
        return 0;
}
