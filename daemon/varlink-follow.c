/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* io.portd.Sockets.Follow in the owner-query worker: each follower's listening sockets are listed
 * again every second on a thread of their own (sock_diag, filtered in the kernel as for List), and
 * a socket that appeared or went since the last look is an event, its processes named and hidden
 * as List names and hides them.  Bounded: followers per user and in all, sockets watched, one
 * look's events per follower, and a reader that stops reading is dropped. */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <json-c/json.h>

#include "daemon.h"
#include "json-util.h"
#include "json-writer.h"
#include "log.h"

#define SOCKETS_INTERFACE        "io.portd.Sockets"
#define ERROR_PERMISSION_DENIED  SOCKETS_INTERFACE ".PermissionDenied"
#define ERROR_NETNS_NOT_FOUND    SOCKETS_INTERFACE ".NetworkNamespaceNotFound"
#define ERROR_QUERY_FAILED       SOCKETS_INTERFACE ".QueryFailed"
#define ERROR_TOO_MANY_FOLLOWERS SOCKETS_INTERFACE ".TooManyFollowers"

/* Why polling: the kernel announces no socket that starts listening.  sock_diag's multicast
 * groups (SKNLGRP_INET_TCP_DESTROY, ...) report destroyed sockets only, need CAP_NET_ADMIN in the
 * namespace, and fire for every connection that ends; tracing inet_sock_set_state needs BPF and
 * sees no UDP bind.  A listing filtered in the kernel to LISTEN (TCP, SCTP) or UNCONN (UDP) and the
 * SPEC's ports walks the listening hash only, not the established connections, so a poll costs
 * about as much as `ss -ltn` does: a listener that comes and goes between two looks is missed. */
#define FOLLOW_INTERVAL_USEC (1000ULL * 1000ULL)
/* Naming a user's new sockets' processes (cache, /proc) may take this long per look, as long as
 * one of its List queries may: the other followers wait meanwhile.  The rest are reported without
 * their processes, as List reports them past its budget.  Root's looks have no such bound, as its
 * List queries have none: root is not who would starve the others. */
#define FOLLOW_BUDGET_USEC (250ULL * 1000ULL)
/* Followers per user and in all, root's counted apart as for List's queries: each holds a
 * connection (within the worker's per-UID cap), a namespace descriptor and its sockets. */
#define FOLLOWERS_PER_UID_MAX 4U
#define FOLLOWERS_MAX         64U
#define ROOT_FOLLOWERS_MAX    16U
/* Sockets one follower watches, and all followers together: what a follower remembers of each
 * (its processes' names, for the event when it stops) is the memory they cost. */
#define FOLLOW_SOCKETS_MAX (16U * 1024U)
#define FOLLOW_TRACKED_MAX (128U * 1024U)
/* A follower whose events of one look are not all handed to its connection yet (the connection's
 * output is full: its reader is behind) gets no new look until they are: the next look then
 * reports what changed since the last one, so a slow reader sees the same sockets start and stop,
 * only coarser, and a follower holds at most one look's events.  One that takes no event for this
 * long is not reading at all, and it is dropped: its place and its memory are for others. */
#define FOLLOW_STALL_USEC (10ULL * 1000ULL * 1000ULL)
/* Replies built per turn of the stream. */
#define FOLLOW_ROWS_PER_BATCH 64U

typedef struct FollowEvent {
        struct FollowEvent *next;
        bool started;
        uint64_t usec;       /* CLOCK_REALTIME of the look that saw it */
        OwnerSocket *socket; /* one, owned */
} FollowEvent;

typedef struct Follower Follower;

struct SocketsFollow {
        OwnerContext *owner; /* the thread's: cache and scan budgets apart from List's */
        pthread_t thread;
        bool started, quit;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        Follower *followers;
        size_t n_tracked; /* sockets watched by every follower together */
        int event_fd;
        sd_event_source *event_source;
};

struct Follower {
        Follower *next, *prev;
        SocketsFollow *follow;
        VarlinkConnection *conn; /* NULL once the call ended */
        OwnerFilter filter;
        OwnerNetns ns;
        char *netns_parameter; /* ns.name points into it */
        int netns_fd;          /* ns.fd, owned */
        OwnerCaller caller;

        /* The thread's while busy, else under the lock. */
        OwnerSocket *tracked; /* sorted by inode */
        size_t n_tracked;
        uint64_t next_poll;

        /* Under the lock. */
        bool busy;      /* the thread polls it now */
        bool cancelled; /* the call ended while busy: the thread frees it */
        bool primed;    /* the first look was taken */
        size_t listening_at_start;
        int error;              /* the call ends with it */
        bool stalled;           /* no event taken for FOLLOW_STALL_USEC: dropped */
        uint64_t progress_usec; /* CLOCK_MONOTONIC when the loop last took an event, or they came */
        bool wake;              /* the loop should look at it */
        FollowEvent *events, **events_tail;
        size_t n_events;

        /* The loop's. */
        bool following_sent;
        FollowEvent *current;
        size_t current_process;
};

static FollowEvent *follow_event_free(FollowEvent *e)
{
        if (!e)
                return NULL;
        owner_sockets_free(e->socket, e->socket ? 1 : 0);
        return mfree(e);
}

static void follow_events_free(FollowEvent *e)
{
        while (e) {
                FollowEvent *next = e->next;
                follow_event_free(e);
                e = next;
        }
}

static Follower *follower_free(Follower *f)
{
        if (!f)
                return NULL;
        owner_sockets_free(f->tracked, f->n_tracked);
        follow_events_free(f->events);
        follow_event_free(f->current);
        safe_close(f->netns_fd);
        free(f->netns_parameter);
        return mfree(f);
}

/* Called with the lock held. */
static void follower_unlink(SocketsFollow *sf, Follower *f)
{
        if (f->prev)
                f->prev->next = f->next;
        else
                sf->followers = f->next;
        if (f->next)
                f->next->prev = f->prev;
        f->next = f->prev = NULL;
        sf->n_tracked -= f->n_tracked;
}

static int strdup_maybe(const char *s, char **ret)
{
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

/* A socket of its own for the event: the follower keeps watching the original. */
static int socket_copy(const OwnerSocket *s, OwnerSocket **ret)
{
        OwnerSocket *c = calloc(1, sizeof(OwnerSocket));
        int r;

        if (!c)
                return -ENOMEM;
        *c = *s;
        c->processes = NULL;
        c->n_processes = 0;
        r = strdup_maybe(s->netns, &c->netns);
        if (r >= 0 && s->n_processes > 0) {
                c->processes = calloc(s->n_processes, sizeof(OwnerProcess));
                if (!c->processes)
                        r = -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < s->n_processes; i++) {
                const OwnerProcess *p = &s->processes[i];
                OwnerProcess *d = &c->processes[c->n_processes++];
                *d = (OwnerProcess){ .pid = p->pid, .fd = p->fd, .uid = p->uid };
                r = strdup_maybe(p->command, &d->command);
                if (r >= 0)
                        r = strdup_maybe(p->user, &d->user);
                if (r >= 0)
                        r = strdup_maybe(p->unit, &d->unit);
                if (r >= 0)
                        r = strdup_maybe(p->container, &d->container);
        }
        if (r < 0) {
                owner_sockets_free(c, 1);
                return r;
        }
        *ret = c;
        return 0;
}

static int compare_inode(const void *a, const void *b)
{
        const OwnerSocket *x = a, *y = b;
        return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* Events of one look in List's order: by port, protocol, address. */
static int compare_events(const void *a, const void *b)
{
        const OwnerSocket *x = (*(FollowEvent *const *) a)->socket, *y = (*(FollowEvent *const *) b)->socket;
        int r;

        if (x->local_port != y->local_port)
                return x->local_port < y->local_port ? -1 : 1;
        if (x->protocol != y->protocol)
                return x->protocol < y->protocol ? -1 : 1;
        if (x->family != y->family)
                return x->family < y->family ? -1 : 1;
        r = memcmp(x->local.bytes, y->local.bytes, sizeof(x->local.bytes));
        if (r != 0)
                return r;
        return compare_inode(x, y);
}

typedef struct EventList {
        FollowEvent **items;
        size_t n, allocated;
} EventList;

static void event_list_done(EventList *l)
{
        for (size_t i = 0; i < l->n; i++)
                follow_event_free(l->items[i]);
        free(l->items);
        *l = (EventList){};
}

static int event_list_add(EventList *l, bool started, uint64_t usec, OwnerSocket *socket)
{
        FollowEvent *e;

        if (GROW(l->items, l->allocated, l->n + 1) < 0)
                return -ENOMEM;
        e = calloc(1, sizeof(FollowEvent));
        if (!e)
                return -ENOMEM;
        *e = (FollowEvent){ .started = started, .usec = usec, .socket = socket };
        l->items[l->n++] = e;
        return 0;
}

/* One look: the sockets now, against those of the last look, by inode (a socket keeps its inode
 * for its life, and no two live sockets share one, in any namespace).  The thread's, unlocked:
 * the follower is busy.  Its new watched set replaces the old one only if everything succeeded. */
static int follower_poll(SocketsFollow *sf, Follower *f, bool primed, EventList *ret_events,
        OwnerSocket **ret_tracked, size_t *ret_n_tracked)
{
        OwnerCaller caller = f->caller;
        OwnerSocket *now = NULL, *fresh = NULL;
        size_t n_now = 0, n_fresh = 0, *fresh_index = NULL;
        uint64_t usec = now_usec(CLOCK_REALTIME);
        EventList events = {};
        int r;

        r = owner_list_sockets(sf->owner, &f->filter, &f->ns, &caller, &now, &n_now);
        if (r < 0)
                return r;
        if (n_now > FOLLOW_SOCKETS_MAX) {
                r = -E2BIG;
                goto finish;
        }
        /* Sockets without an inode are not held by anyone and cannot be told apart. */
        size_t k = 0;
        for (size_t i = 0; i < n_now; i++)
                if (now[i].inode != 0)
                        now[k++] = now[i];
                else
                        owner_socket_done(&now[i]);
        n_now = k;
        if (n_now > 1)
                qsort(now, n_now, sizeof(OwnerSocket), compare_inode);

        fresh_index = calloc(n_now ?: 1, sizeof(size_t));
        if (!fresh_index) {
                r = -ENOMEM;
                goto finish;
        }
        /* Merge: gone from the last look, new in this one, or kept (with the processes named when
         * it was new: its holders are those of its event). */
        size_t i = 0, j = 0;
        while (i < f->n_tracked || j < n_now) {
                if (j >= n_now || (i < f->n_tracked && f->tracked[i].inode < now[j].inode)) {
                        OwnerSocket *gone = NULL;
                        r = socket_copy(&f->tracked[i], &gone);
                        if (r < 0)
                                goto finish;
                        r = event_list_add(&events, false, usec, gone);
                        if (r < 0) {
                                owner_sockets_free(gone, 1);
                                goto finish;
                        }
                        i++;
                } else if (i >= f->n_tracked || now[j].inode < f->tracked[i].inode) {
                        fresh_index[n_fresh++] = j++;
                } else {
                        /* The same socket: the remembered processes stay with it. */
                        OwnerSocket *old = &f->tracked[i++], *cur = &now[j++];
                        OwnerProcess *processes = cur->processes;
                        size_t n_processes = cur->n_processes;
                        cur->processes = old->processes;
                        cur->n_processes = old->n_processes;
                        old->processes = processes;
                        old->n_processes = n_processes;
                }
        }

        /* The new ones' processes, contiguous for the owner library, then back in place. */
        if (n_fresh > 0) {
                fresh = calloc(n_fresh, sizeof(OwnerSocket));
                if (!fresh) {
                        r = -ENOMEM;
                        goto finish;
                }
                for (size_t x = 0; x < n_fresh; x++) {
                        fresh[x] = now[fresh_index[x]];
                        now[fresh_index[x]] = (OwnerSocket){};
                }
                if (caller.uid != 0)
                        caller.deadline_usec = now_usec(CLOCK_MONOTONIC) + FOLLOW_BUDGET_USEC;
                r = owner_resolve_processes(sf->owner, fresh, n_fresh, &caller);
                for (size_t x = 0; x < n_fresh; x++) {
                        now[fresh_index[x]] = fresh[x];
                        fresh[x] = (OwnerSocket){};
                }
                if (r < 0)
                        goto finish;
        }
        /* The first look is where the follower starts: what listens already is no event. */
        for (size_t x = 0; primed && x < n_fresh; x++) {
                OwnerSocket *copy = NULL;
                r = socket_copy(&now[fresh_index[x]], &copy);
                if (r < 0)
                        goto finish;
                r = event_list_add(&events, true, usec, copy);
                if (r < 0) {
                        owner_sockets_free(copy, 1);
                        goto finish;
                }
        }
        /* Stopped before started: a restart reads as the old socket going, then the new one. */
        size_t n_stopped = 0;
        while (n_stopped < events.n && !events.items[n_stopped]->started)
                n_stopped++;
        if (n_stopped > 1)
                qsort(events.items, n_stopped, sizeof(FollowEvent *), compare_events);
        if (events.n - n_stopped > 1)
                qsort(events.items + n_stopped, events.n - n_stopped, sizeof(FollowEvent *), compare_events);

        *ret_events = events;
        events = (EventList){};
        *ret_tracked = TAKE_PTR(now);
        *ret_n_tracked = n_now;
        n_now = 0;
        r = 0;
finish:
        event_list_done(&events);
        owner_sockets_free(now, n_now);
        free(fresh);
        free(fresh_index);
        return r;
}

/* Called with the lock held: the follower has something for the loop. */
static void follower_wake(SocketsFollow *sf, Follower *f)
{
        uint64_t one = 1;

        f->wake = true;
        (void) !write(sf->event_fd, &one, sizeof(one));
}

/* Called with the lock held, after a look: its events queued, or the follower's end. */
static void follower_take_result(
        SocketsFollow *sf, Follower *f, int r, EventList *events, OwnerSocket *tracked, size_t n_tracked)
{
        if (r >= 0 && sf->n_tracked - f->n_tracked + n_tracked > FOLLOW_TRACKED_MAX)
                r = -ENOSPC;
        if (r < 0) {
                owner_sockets_free(tracked, n_tracked);
                f->error = r;
                follower_wake(sf, f);
                return;
        }
        sf->n_tracked = sf->n_tracked - f->n_tracked + n_tracked;
        owner_sockets_free(f->tracked, f->n_tracked);
        f->tracked = tracked;
        f->n_tracked = n_tracked;
        if (!f->primed) {
                f->primed = true;
                f->listening_at_start = n_tracked;
                follower_wake(sf, f);
        }
        if (events->n == 0)
                return;
        /* Looks are taken only once the last one's events are all taken: the queue is empty. */
        f->progress_usec = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < events->n; i++) {
                *f->events_tail = TAKE_PTR(events->items[i]);
                f->events_tail = &(*f->events_tail)->next;
                f->n_events++;
        }
        follower_wake(sf, f);
}

static void *follow_thread(void *userdata)
{
        SocketsFollow *sf = userdata;

        pthread_mutex_lock(&sf->lock);
        while (!sf->quit) {
                uint64_t now = now_usec(CLOCK_MONOTONIC), next = UINT64_MAX;
                Follower *due = NULL;

                /* The one waiting longest: every follower gets its look in turn. */
                for (Follower *f = sf->followers; f; f = f->next) {
                        if (f->busy || f->cancelled || f->error != 0 || f->stalled)
                                continue;
                        if (f->n_events > 0) {
                                /* Its reader is behind: no look until it caught up. */
                                uint64_t stall = f->progress_usec + FOLLOW_STALL_USEC;
                                if (now >= stall) {
                                        f->stalled = true;
                                        follower_wake(sf, f);
                                } else
                                        next = MIN(next, stall);
                                continue;
                        }
                        if (f->next_poll > now)
                                next = MIN(next, f->next_poll);
                        else if (!due || f->next_poll < due->next_poll)
                                due = f;
                }
                if (!due) {
                        if (next == UINT64_MAX)
                                pthread_cond_wait(&sf->wake, &sf->lock);
                        else {
                                struct timespec ts = { .tv_sec = (time_t) (next / 1000000ULL),
                                        .tv_nsec = (long) (next % 1000000ULL) * 1000L };
                                (void) pthread_cond_timedwait(&sf->wake, &sf->lock, &ts);
                        }
                        continue;
                }

                due->busy = true;
                bool primed = due->primed;
                pthread_mutex_unlock(&sf->lock);

                EventList events = {};
                OwnerSocket *tracked = NULL;
                size_t n_tracked = 0;
                int r = follower_poll(sf, due, primed, &events, &tracked, &n_tracked);

                pthread_mutex_lock(&sf->lock);
                due->busy = false;
                if (due->cancelled) {
                        follower_unlink(sf, due);
                        pthread_mutex_unlock(&sf->lock);
                        owner_sockets_free(tracked, n_tracked);
                        event_list_done(&events);
                        follower_free(due);
                        pthread_mutex_lock(&sf->lock);
                        continue;
                }
                follower_take_result(sf, due, r, &events, tracked, n_tracked);
                due->next_poll = now_usec(CLOCK_MONOTONIC) + FOLLOW_INTERVAL_USEC;
                pthread_mutex_unlock(&sf->lock);
                event_list_done(&events);
                pthread_mutex_lock(&sf->lock);
        }
        pthread_mutex_unlock(&sf->lock);
        return NULL;
}

static int follow_answer_error(VarlinkConnection *conn, const Follower *f, int r)
{
        _cleanup_json_ struct json_object *e = json_object_new_object();
        const char *message;
        char buf[128];

        if (!e)
                return -ENOMEM;
        if (r == -EPERM || r == -EACCES)
                return varlink_connection_error(conn, ERROR_PERMISSION_DENIED, NULL);
        if (r == -ENOENT || r == -ESRCH || r == -EINVAL) {
                if (json_add(e, "netns", json_object_new_string(f->netns_parameter ?: "")) < 0)
                        return -ENOMEM;
                return varlink_connection_error(conn, ERROR_NETNS_NOT_FOUND, e);
        }
        if (r == -E2BIG) {
                (void) snprintf(buf, sizeof(buf), "More than %u sockets match; follow fewer ports.",
                        FOLLOW_SOCKETS_MAX);
                message = buf;
        } else if (r == -ENOSPC)
                message = "Followers watch too many sockets in all, try again later.";
        else {
                log_warning_errno(r, "Following sockets for PID %d failed: %m", (int) f->caller.pid);
                message = strerror(-r);
        }
        if (json_add(e, "message", json_object_new_string(message)) < 0)
                return -ENOMEM;
        return varlink_connection_error(conn, ERROR_QUERY_FAILED, e);
}

static int follow_reply(VarlinkConnection *conn, const char *event, uint64_t usec, const OwnerSocket *s,
        const OwnerProcess *p, int64_t listening)
{
        _cleanup_(json_writer_done) JsonWriter w = {};
        int r = 0;

        json_writer_object_begin(&w, NULL);
        json_writer_string(&w, "event", event);
        json_writer_integer(&w, "usec", (int64_t) usec);
        if (listening >= 0)
                json_writer_integer(&w, "listening", listening);
        if (s)
                r = owner_row_member(s, p, &w);
        json_writer_object_end(&w);
        if (r < 0)
                return r;
        if (w.error < 0)
                return w.error;
        return varlink_connection_notify_json(conn, w.data, w.size);
}

/* The stream's producer: nothing until the first look, then "following", then the events as
 * they come, a batch per call.  The call ends only with an error, or with the connection. */
static int follow_produce(VarlinkConnection *conn, void *userdata)
{
        Follower *f = userdata;
        SocketsFollow *sf = f->follow;
        unsigned n = 0;
        int r;

        pthread_mutex_lock(&sf->lock);
        bool stalled = f->stalled, primed = f->primed;
        int error = f->error;
        size_t listening = f->listening_at_start;
        pthread_mutex_unlock(&sf->lock);

        if (stalled)
                return -ENOBUFS; /* the connection goes */
        if (error != 0 && !f->current)
                return follow_answer_error(conn, f, error);
        if (!primed)
                return -EAGAIN;
        if (!f->following_sent) {
                r = follow_reply(
                        conn, "following", now_usec(CLOCK_REALTIME), NULL, NULL, (int64_t) listening);
                if (r < 0)
                        return r;
                f->following_sent = true;
                n++;
        }

        while (n < FOLLOW_ROWS_PER_BATCH) {
                if (!f->current) {
                        pthread_mutex_lock(&sf->lock);
                        f->current = f->events;
                        if (f->current) {
                                f->events = f->current->next;
                                if (!f->events)
                                        f->events_tail = &f->events;
                                f->n_events--;
                                f->current->next = NULL;
                                f->progress_usec = now_usec(CLOCK_MONOTONIC);
                                if (f->n_events == 0)
                                        pthread_cond_broadcast(&sf->wake); /* its next look */
                        }
                        pthread_mutex_unlock(&sf->lock);
                        f->current_process = 0;
                        if (!f->current)
                                break;
                }
                const OwnerSocket *s = f->current->socket;
                r = follow_reply(conn, f->current->started ? "started" : "stopped", f->current->usec, s,
                        s->n_processes > 0 ? &s->processes[f->current_process] : NULL, -1);
                if (r < 0)
                        return r;
                n++;
                if (++f->current_process >= MAX(s->n_processes, (size_t) 1))
                        f->current = follow_event_free(f->current);
        }
        return n > 0 ? 0 : -EAGAIN;
}

/* The stream's destructor: the call was answered or the connection went.  A follower the thread
 * is looking at is only marked: the thread frees it when done. */
static void follow_detach(void *userdata)
{
        Follower *f = userdata;
        SocketsFollow *sf = f->follow;

        pthread_mutex_lock(&sf->lock);
        f->conn = NULL;
        if (f->busy) {
                f->cancelled = true;
                pthread_mutex_unlock(&sf->lock);
                return;
        }
        follower_unlink(sf, f);
        pthread_mutex_unlock(&sf->lock);
        follower_free(f);
}

/* The thread found something: streams resumed, readers that stopped reading dropped. */
static int on_follow_wake(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
        SocketsFollow *sf = userdata;
        VarlinkConnection *resume[FOLLOWERS_MAX + ROOT_FOLLOWERS_MAX],
                *drop[FOLLOWERS_MAX + ROOT_FOLLOWERS_MAX];
        size_t n_resume = 0, n_drop = 0;
        uint64_t n;

        (void) !read(fd, &n, sizeof(n));
        pthread_mutex_lock(&sf->lock);
        for (Follower *f = sf->followers; f; f = f->next) {
                if (!f->wake || !f->conn || f->cancelled)
                        continue;
                f->wake = false;
                if (f->stalled && n_drop < ELEMENTSOF(drop)) {
                        log_info("Dropping a follower of PID %d: it took no event for %llu s.",
                                (int) f->caller.pid, (unsigned long long) (FOLLOW_STALL_USEC / 1000000ULL));
                        drop[n_drop++] = varlink_connection_ref(f->conn);
                } else if (n_resume < ELEMENTSOF(resume))
                        resume[n_resume++] = varlink_connection_ref(f->conn);
        }
        pthread_mutex_unlock(&sf->lock);

        /* Unlocked: ending a stream runs follow_detach(), which takes the lock. */
        for (size_t i = 0; i < n_drop; i++) {
                varlink_connection_forget(drop[i]);
                varlink_connection_unref(drop[i]);
        }
        for (size_t i = 0; i < n_resume; i++) {
                varlink_connection_stream_resume(resume[i]);
                varlink_connection_unref(resume[i]);
        }
        return 0;
}

/* Called with the lock held: whether uid may add a follower. */
static bool follower_allowed(SocketsFollow *sf, uid_t uid)
{
        unsigned mine = 0, users = 0, root = 0;

        for (Follower *f = sf->followers; f; f = f->next) {
                if (f->caller.uid == 0)
                        root++;
                else
                        users++;
                if (f->caller.uid == uid)
                        mine++;
        }
        if (uid == 0)
                return root < ROOT_FOLLOWERS_MAX;
        return users < FOLLOWERS_MAX && mine < FOLLOWERS_PER_UID_MAX;
}

static int method_follow(
        VarlinkConnection *conn, struct json_object *parameters, unsigned flags, void *userdata)
{
        SocketsFollow *sf = userdata;
        ListParameters p;
        const char *bad = NULL;
        int r;

        /* List's parameters but those of other states: a follower watches listening sockets. */
        r = parse_list_parameters(parameters, true, &p, &bad);
        if (r < 0)
                return varlink_connection_error_invalid_parameter(conn, bad ?: "parameters");
        if (!(flags & VARLINK_CALL_MORE))
                return varlink_connection_error(conn, VARLINK_ERROR_EXPECTED_MORE, NULL);

        Follower *f = calloc(1, sizeof(Follower));
        if (!f)
                return log_oom();
        f->follow = sf;
        f->netns_fd = -1;
        f->events_tail = &f->events;
        f->filter = p.filter;
        if (p.netns && !(f->netns_parameter = strdup(p.netns))) {
                follower_free(f);
                return log_oom();
        }
        /* The caller's namespace is held for the follower's life: the caller may exit. */
        r = sockets_caller_setup(conn, f->netns_parameter, &f->caller, &f->ns, &f->netns_fd, &f->error);
        if (r < 0) {
                follower_free(f);
                if (r == -EINVAL)
                        return varlink_connection_error_invalid_parameter(conn, "netns");
                return r == -ENOMEM ? log_oom() : r; /* -EMFILE: dispatched again later */
        }

        if (!sf->started) {
                r = pthread_create(&sf->thread, NULL, follow_thread, sf);
                if (r != 0) {
                        follower_free(f);
                        return log_error_errno(r, "Failed to start the follow thread: %m");
                }
                sf->started = true;
        }

        pthread_mutex_lock(&sf->lock);
        if (!follower_allowed(sf, f->caller.uid)) {
                pthread_mutex_unlock(&sf->lock);
                follower_free(f);
                return varlink_connection_error(conn, ERROR_TOO_MANY_FOLLOWERS, NULL);
        }
        f->conn = conn;
        f->next = sf->followers;
        if (f->next)
                f->next->prev = f;
        sf->followers = f;
        pthread_cond_broadcast(&sf->wake);
        pthread_mutex_unlock(&sf->lock);

        r = varlink_connection_stream(conn, follow_produce, f, follow_detach);
        if (r < 0) {
                follow_detach(f);
                return r;
        }
        return 0;
}

int sockets_follow_register(sd_event *event, VarlinkServer *server, SocketsFollow **ret)
{
        SocketsFollow *sf;
        pthread_condattr_t attr;
        int r;

        sf = calloc(1, sizeof(SocketsFollow));
        if (!sf)
                return -ENOMEM;
        sf->event_fd = -1;
        pthread_mutex_init(&sf->lock, NULL);
        /* Looks are timed on the monotonic clock: a change of the wall clock moves none. */
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&sf->wake, &attr);
        pthread_condattr_destroy(&attr);
        *ret = sf;

        r = owner_context_new(&sf->owner);
        if (r < 0)
                return r;
        sf->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (sf->event_fd < 0)
                return -errno;
        r = sd_event_add_io(event, &sf->event_source, sf->event_fd, EPOLLIN, on_follow_wake, sf);
        if (r < 0)
                return r;
        return varlink_server_add_method(server, SOCKETS_INTERFACE ".Follow", method_follow, sf);
}

void sockets_follow_stop(SocketsFollow *sf)
{
        if (!sf || !sf->started)
                return;
        pthread_mutex_lock(&sf->lock);
        sf->quit = true;
        pthread_cond_broadcast(&sf->wake);
        pthread_mutex_unlock(&sf->lock);
        (void) pthread_join(sf->thread, NULL);
        sf->started = false;
}

SocketsFollow *sockets_follow_free(SocketsFollow *sf)
{
        if (!sf)
                return NULL;
        sockets_follow_stop(sf);
        /* The server went first: its streams ended, and with them every follower. */
        while (sf->followers) {
                Follower *f = sf->followers;
                follower_unlink(sf, f);
                follower_free(f);
        }
        sd_event_source_disable_unref(sf->event_source);
        safe_close(sf->event_fd);
        owner_context_free(sf->owner);
        pthread_mutex_destroy(&sf->lock);
        pthread_cond_destroy(&sf->wake);
        return mfree(sf);
}
