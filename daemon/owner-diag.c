/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owner queries, sock_diag: the sockets of one network namespace from NETLINK_SOCK_DIAG, with
 * the port and address filtered by kernel bytecode, as ss does. */

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>

#include "owner-internal.h"

static const int protocol_number[_OWNER_PROTOCOL_MAX] = {
        [OWNER_PROTOCOL_TCP] = IPPROTO_TCP,
        [OWNER_PROTOCOL_UDP] = IPPROTO_UDP,
        [OWNER_PROTOCOL_SCTP] = IPPROTO_SCTP,
};

/* ---- sock_diag ---- */

int netlink_open(void)
{
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0)
                return -errno;
        return fd;
}

typedef struct NetnsOpen {
        int netns_fd;
        int result; /* fd or -errno */
} NetnsOpen;

static void *netns_open_thread(void *userdata)
{
        NetnsOpen *o = userdata;
        if (setns(o->netns_fd, CLONE_NEWNET) < 0)
                o->result = -errno;
        else
                o->result = netlink_open();
        return NULL;
}

/* A netlink socket answers for the namespace it was created in; create it from a short-lived
 * thread that entered the target namespace, so the daemon itself never changes namespace. */
int netlink_open_in(int netns_fd)
{
        NetnsOpen o = { .netns_fd = netns_fd, .result = -EIO };
        pthread_t t;
        int r = pthread_create(&t, NULL, netns_open_thread, &o);
        if (r != 0)
                return -r;
        (void) pthread_join(t, NULL);
        return o.result;
}

/* Appends one bytecode op that jumps to the next op when it matches and past the end (reject)
 * when not; the kernel audits that "no" lands at most 4 bytes past the end. */
static void bc_op(uint8_t *bc, size_t *off, size_t total, uint8_t code, size_t size)
{
        struct inet_diag_bc_op op = {
                .code = code,
                .yes = (uint8_t) size,
                .no = (uint16_t) (total - *off + 4),
        };
        memcpy(bc + *off, &op, sizeof(op));
}

/* The port range on one end: S_GE/S_LE for the local port, D_GE/D_LE for the remote one.  A
 * failed test jumps to fail (an offset from the op's start, as the kernel counts it). */
static void bc_port_range(uint8_t *bc, size_t *off, size_t fail, bool remote, const OwnerFilter *f)
{
        struct inet_diag_bc_op op = {}, arg = {};

        for (int i = 0; i < 2; i++) {
                op.code = remote ? (i == 0 ? INET_DIAG_BC_D_GE : INET_DIAG_BC_D_LE)
                                 : (i == 0 ? INET_DIAG_BC_S_GE : INET_DIAG_BC_S_LE);
                op.yes = 2 * sizeof(op);
                op.no = (uint16_t) (fail - *off);
                arg.no = i == 0 ? f->port_min : f->port_max;
                memcpy(bc + *off, &op, sizeof(op));
                memcpy(bc + *off + sizeof(op), &arg, sizeof(arg));
                *off += 2 * sizeof(op);
        }
}

static size_t bytecode_build(const OwnerFilter *f, uint8_t *bc, size_t size)
{
        size_t total = 0, off = 0;
        bool ports = f->port_min != 0 || f->port_max != 0;
        size_t addr_len = f->address_family == AF_INET ? 4 : f->address_family == AF_INET6 ? 16 : 0;
        size_t cond_len = sizeof(struct inet_diag_bc_op) + sizeof(struct inet_diag_hostcond) + addr_len;
        size_t range_len = 4 * sizeof(struct inet_diag_bc_op);

        /* Either end: (local range) OR (remote range), the local test jumping to the remote one
         * when it fails and past it (a JMP) when it holds.  The address is then checked in
         * diag_dump() against the end whose port matched, as lsof pairs them. */
        if (ports && f->either_end) {
                total = 2 * range_len + sizeof(struct inet_diag_bc_op);
                if (total > size)
                        return 0;
                size_t remote_start = range_len + sizeof(struct inet_diag_bc_op);
                bc_port_range(bc, &off, remote_start, false, f);
                struct inet_diag_bc_op jmp = {
                        .code = INET_DIAG_BC_JMP,
                        .yes = sizeof(jmp),
                        .no = (uint16_t) (total - off),
                };
                memcpy(bc + off, &jmp, sizeof(jmp));
                off += sizeof(jmp);
                bc_port_range(bc, &off, total + 4, true, f);
                return total;
        }
        if (f->either_end)
                addr_len = 0; /* the address alone, on either end: checked in diag_dump() */

        if (ports)
                total += range_len;
        if (addr_len)
                total += cond_len;
        if (total == 0 || total > size)
                return 0;

        if (ports)
                bc_port_range(bc, &off, total + 4, false, f);
        if (addr_len) {
                struct inet_diag_hostcond cond;
                /* memset, not an initializer: the padding goes to the kernel too. */
                memset(&cond, 0, sizeof(cond));
                cond.family = (uint8_t) f->address_family;
                cond.prefix_len = (uint8_t) (addr_len * 8);
                cond.port = -1;
                bc_op(bc, &off, total, INET_DIAG_BC_S_COND, cond_len);
                memcpy(bc + off + sizeof(struct inet_diag_bc_op), &cond, sizeof(cond));
                memcpy(bc + off + sizeof(struct inet_diag_bc_op) + sizeof(cond), f->address.bytes, addr_len);
                off += cond_len;
        }
        return total;
}

static bool address_matches(const OwnerFilter *f, int family, const OwnerAddress *a)
{
        static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

        if (f->address_family == AF_UNSPEC)
                return true;
        if (f->address_family == family)
                return memcmp(a->bytes, f->address.bytes, family == AF_INET ? 4 : 16) == 0;
        if (f->address_family == AF_INET && family == AF_INET6)
                return memcmp(a->bytes, v4mapped, 12) == 0 &&
                       memcmp(a->bytes + 12, f->address.bytes, 4) == 0;
        return false;
}

static bool port_matches(const OwnerFilter *f, uint16_t port)
{
        return (f->port_min == 0 && f->port_max == 0) || (port >= f->port_min && port <= f->port_max);
}

/* Port and address on the same end; with either_end, the remote end may be the one (a client's
 * socket to the port asked for).  An unconnected socket's remote end is all zeros, port 0, which
 * no port range holds; with an address alone, only a connected socket's remote end counts. */
static bool socket_matches(const OwnerFilter *f, const OwnerSocket *s)
{
        if (port_matches(f, s->local_port) && address_matches(f, s->family, &s->local))
                return true;
        return f->either_end && s->remote_port != 0 && port_matches(f, s->remote_port) &&
               address_matches(f, s->family, &s->remote);
}

static uint32_t states_for(const OwnerFilter *f, OwnerProtocol p)
{
        if (f->established)
                return ~(uint32_t) (1U << TCP_NEW_SYN_RECV);
        /* As ss -l: listening TCP/SCTP, and UDP sockets that are bound but not connected. */
        return p == OWNER_PROTOCOL_UDP ? 1U << TCP_CLOSE : 1U << TCP_LISTEN;
}

static int diag_dump(OwnerContext *c, int fd, OwnerProtocol p, int family, const OwnerFilter *f,
        const char *netns, SocketList *l)
{
        struct {
                struct nlmsghdr nlh;
                struct inet_diag_req_v2 req;
                struct rtattr rta;
                uint8_t bc[128];
        } msg = {};
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        uint32_t seq = ++c->seq;
        uint32_t states = states_for(f, p);

        size_t bc_len = bytecode_build(f, msg.bc, sizeof(msg.bc));
        msg.nlh.nlmsg_len = NLMSG_LENGTH(sizeof(msg.req));
        msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
        msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        msg.nlh.nlmsg_seq = seq;
        msg.req.sdiag_family = (uint8_t) family;
        msg.req.sdiag_protocol = (uint8_t) protocol_number[p];
        msg.req.idiag_states = states;
        if (bc_len > 0) {
                msg.rta.rta_type = INET_DIAG_REQ_BYTECODE;
                msg.rta.rta_len = (unsigned short) RTA_LENGTH(bc_len);
                msg.nlh.nlmsg_len += RTA_ALIGN(msg.rta.rta_len);
        }

        if (sendto(fd, &msg, msg.nlh.nlmsg_len, 0, (struct sockaddr *) &kernel, sizeof(kernel)) < 0)
                return -errno;

        for (;;) {
                static __thread union {
                        struct nlmsghdr h;
                        uint8_t b[65536];
                } buf;
                struct sockaddr_nl from;
                socklen_t fromlen = sizeof(from);
                ssize_t n = recvfrom(fd, buf.b, sizeof(buf.b), 0, (struct sockaddr *) &from, &fromlen);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (from.nl_pid != 0)
                        continue;

                for (struct nlmsghdr *h = &buf.h; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_seq != seq)
                                continue;
                        if (h->nlmsg_type == NLMSG_DONE)
                                return 0;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);
                                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
                                        return -EBADMSG;
                                return e->error == 0 ? 0 : e->error;
                        }
                        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
                                h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
                                continue;

                        const struct inet_diag_msg *m = NLMSG_DATA(h);
                        if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
                                continue;
                        OwnerSocket s = {
                                .protocol = p,
                                .family = m->idiag_family,
                                .local_port = ntohs(m->id.idiag_sport),
                                .remote_port = ntohs(m->id.idiag_dport),
                                .state = m->idiag_state,
                                .uid = m->idiag_uid,
                                .inode = m->idiag_inode,
                        };
                        size_t alen = m->idiag_family == AF_INET ? 4 : 16;
                        memcpy(s.local.bytes, m->id.idiag_src, alen);
                        memcpy(s.remote.bytes, m->id.idiag_dst, alen);

                        int attrlen = (int) h->nlmsg_len - (int) NLMSG_LENGTH(sizeof(*m));
                        for (struct rtattr *a = (struct rtattr *) (m + 1); RTA_OK(a, attrlen);
                                a = RTA_NEXT(a, attrlen))
                                if (a->rta_type == INET_DIAG_CGROUP_ID && RTA_PAYLOAD(a) >= sizeof(uint64_t))
                                        memcpy(&s.cgroup_id, RTA_DATA(a), sizeof(uint64_t));

                        /* The kernel filtered already; this also covers protocols whose dump
                         * ignores bytecode. */
                        if (!socket_matches(f, &s))
                                continue;
                        if (s.state >= 32 || !(states & (1U << s.state)))
                                continue;

                        /* Bounded: the rows of one query are memory the worker holds until
                         * its client has read them. */
                        if (l->n >= OWNER_QUERY_SOCKETS_MAX)
                                continue;
                        if (netns && !(s.netns = strdup(netns)))
                                return -ENOMEM;
                        if (GROW(l->sockets, l->allocated, l->n + 1) < 0) {
                                free(s.netns);
                                return -ENOMEM;
                        }
                        l->sockets[l->n++] = s;
                }
        }
}

int dump_namespace(OwnerContext *c, int fd, const OwnerFilter *f, const char *netns, SocketList *l)
{
        for (OwnerProtocol p = 0; p < _OWNER_PROTOCOL_MAX; p++) {
                if (f->protocols != 0 && !(f->protocols & (1U << p)))
                        continue;
                static const int families[] = { AF_INET, AF_INET6 };
                for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                        int family = families[i];
                        if (f->family != AF_UNSPEC && f->family != family)
                                continue;
                        /* An IPv4 address may also sit on an IPv6 socket, v4-mapped. */
                        if (f->address_family == AF_INET6 && family == AF_INET)
                                continue;
                        int r = diag_dump(c, fd, p, family, f, netns, l);
                        /* No diag module for this protocol (sctp_diag, udp_diag): nothing to list. */
                        if (r == -ENOENT || r == -EPROTONOSUPPORT || r == -EOPNOTSUPP)
                                continue;
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}
