/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The snapshot mapping shared by all threads of a process.  Lookups take no lock: they pin the
 * current mapping with one atomic add, read it, and unpin it.  Only a refresh (first use, the
 * daemon marking the image superseded, or the image's age) takes a lock, and only with a
 * try-lock, so that no caller ever waits for another thread's round trip to the daemon.
 *
 * Lifetime, and why it is safe.  Each mapping has one 64-bit state word: bit 0 RETIRED (no longer
 * current), bit 1 UNMAPPED, and the number of pinning readers above them.  Because the reader
 * count and the retired flag live in one word, every change to them is a single atomic
 * read-modify-write, and those are totally ordered: there is no window in which a reader has
 * counted itself but the retirer has not seen it (the Dekker problem two separate words would
 * have).  A reader adds one; if the word it added to was already RETIRED it removes itself again
 * and looks for the new current mapping.  The retirer sets RETIRED; whoever then brings the word
 * to exactly RETIRED (retirer with no readers left, or the last reader leaving) moves it to
 * RETIRED|UNMAPPED plus one reader, its own, with a compare-and-swap, unmaps, and only then
 * removes that reader: exactly one thread can make that move, and no reader can be inside the
 * image then, since a reader that arrives later sees RETIRED.  The unmapper's own reader is what
 * keeps the slot from being reused under it: slot_claim() takes only a slot at exactly
 * RETIRED|UNMAPPED, so base and size cannot be replaced by a new image (which the unmapper would
 * then unmap, while it is current) before munmap() has read them and returned.
 *
 * The small SnapshotMapping structs are never freed: a thread may still hold a pointer it loaded
 * from `current` just before the switch and add itself to that struct's count at any later time.
 * They are reused instead: the refresher claims a slot at exactly RETIRED|UNMAPPED (unmapped,
 * no unmapper or reader inside) by a compare-and-swap to RETIRED|UNMAPPED plus one reader (its
 * own), so that late readers keep backing off while it fills the slot, then clears both flags
 * and its reader in one subtraction with release order; a late reader that adds itself after
 * that synchronises with the fill and sees a valid image.  The unmapper's release subtraction
 * pairs with that claiming compare-and-swap: its munmap() happens before the slot is refilled.
 * The slot list is only touched under the refresh lock.
 *
 * A lookup adds no reader of its own: each thread keeps the reader it added at the lookup that
 * first found the current mapping (its pin), and lookups find it still pinned with a few plain
 * loads, no atomic read-modify-write (two of those were a third of a lookup's cost).  The pin is
 * an ordinary reader, so everything above holds; it only lives longer: a thread lets go of a
 * retired mapping at its next lookup, or when it exits (a thread-specific key's destructor), and
 * a forked child drops the pins of its parent's other threads, which it does not have.
 *
 * A process with one thread, which most that resolve a service are, keeps its pin in a plain
 * variable (solo) instead, found without a call into libc (pthread_getspecific()); glibc's
 * __libc_single_threaded says when that holds.  It turns false when a second thread is created,
 * before that thread runs, and only then: so solo is touched by lookups while the process has one
 * thread, and afterwards only by whoever takes it away (an atomic exchange) for good.  The key
 * and the fork handler that thread pins need are set up when the process first looks up with
 * more than one thread, not when the module is loaded: a constructor's pthread_key_create() and
 * pthread_atfork() write into two pages of libc's data, two page faults of every fresh process's
 * dlopen() of the module, which a single-threaded process never needs.
 *
 * How current an image is takes no clock on the hot path of the published file: the daemon marks
 * an image superseded in place when it replaces it, when it stops, and, for the published file
 * (below), when it starts again after a crash left its predecessor's file behind
 * (daemon/snapshot-file.c).  What no daemon can mark (the file removed before the restart, a
 * crash between renaming a new file over the old one and marking the old one, a file of another
 * owner, an older daemon) is caught all the same: every MAPPING_RECHECK_LOOKUPS-th lookup of a pin
 * reads the clock, and an image not confirmed for MAPPING_RECHECK_USEC (or never asked about
 * since it was mapped) is asked about again (an open() and fstat() of the path): a change arrives
 * after that time and up to MAPPING_RECHECK_LOOKUPS more lookups of the thread.  An image handed
 * over by the socket, which no later daemon can reach at all, is asked about again once
 * MAPPING_RECHECK_USEC old, its age read at every lookup. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/single_threaded.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "nss-mapping.h"
#include "snapshot-map.h"
#include "util.h"


/* A snapshot_open()-able image is at most 4 GiB; refuse to map anything near that. */
#define MAPPING_SIZE_MAX (UINT64_C(1) << 30)
/* After a failed fetch, lookups use varlink calls for this long before trying again, so that
 * a daemon without snapshots, or with a bad one, does not cost two round trips per lookup. */
#define MAPPING_RETRY_USEC (1000U * 1000U)
/* What a daemon restarted after a crash could not mark superseded is asked about again once
 * this old: a memfd the socket handed over (a GetSnapshot round trip that returns the same memfd
 * when nothing changed), and a published file nothing flagged (see the top of the file). */
#define MAPPING_RECHECK_USEC (5U * 1000U * 1000U)
/* How often a pin on the published file reads the clock for that, in lookups: a counter in the
 * hot path instead of a clock read (a few nanoseconds of each lookup, and a page fault of the
 * first one in a fresh process). */
#define MAPPING_RECHECK_LOOKUPS 256
#define MAPPING_RETIRED  UINT64_C(1)
#define MAPPING_UNMAPPED UINT64_C(2)
#define MAPPING_READER   UINT64_C(4)

struct SnapshotMapping {
        uint64_t state;
        void *base;
        size_t size;
        Snapshot snapshot;
        uint64_t checked_usec; /* when the daemon last said this is its current image; 0: not yet */
        bool published;        /* mapped from the published file: its age read by a countdown */
        dev_t dev;             /* of the memfd or file, to recognise the same image handed out again */
        ino_t inode;
        SnapshotChecks *checks; /* the pages of the image found right (snapshot_open_lazy()) */
        SnapshotMapping *next_slot;
};

/* A thread's reader on the mapping its lookups use, in the list of every thread's. */
typedef struct ThreadPin {
        SnapshotMapping *mapping; /* pinned by this thread, or NULL */
        int countdown;            /* lookups left before the clock is read (published file) */
        struct ThreadPin *prev, *next;
} ThreadPin;

static SnapshotMapping *current;
static SnapshotMapping *slots;
/* The pin of the process while it has one thread (see the top of the file). */
static SnapshotMapping *solo;
static int solo_countdown;
static ThreadPin *pins;
static pthread_mutex_t pins_lock = PTHREAD_MUTEX_INITIALIZER;
/* Each thread's pin is its value of this key: no __thread variable, whose TLS block would make
 * every dlopen() of the module slower (glibc places it in static TLS, in every thread). */
static pthread_key_t pin_key;
static bool threads_ready; /* pin_key and the fork handler are set up */

static void mapping_after_fork_child(void);
static void pin_destroy(void *userdata);

/* For a process with more than one thread, before it first takes the refresh lock or a thread
 * pin: the fork handler that frees in a child what the threads it does not have held
 * (mapping_after_fork_child()), and the key.  pthread_once(), not a mutex of ours: a fork() by
 * another thread in the middle of it leaves the child free to run it again (glibc's fork
 * generation), where a mutex held by a thread the child does not have would hang its first
 * lookup for ever. */
static pthread_once_t threads_once = PTHREAD_ONCE_INIT;

static void threads_init(void)
{
        /* The handler first: without it (out of memory) a child forked while another thread holds
         * the refresh lock could never refresh, so nothing that takes the lock with other
         * threads around goes on without it (threads_ready stays false). */
        if (pthread_atfork(NULL, NULL, mapping_after_fork_child) == 0 &&
                pthread_key_create(&pin_key, pin_destroy) == 0)
                __atomic_store_n(&threads_ready, true, __ATOMIC_RELEASE);
}

static bool threads_setup(void)
{
        if (_likely_(__atomic_load_n(&threads_ready, __ATOMIC_ACQUIRE)))
                return true;
        (void) pthread_once(&threads_once, threads_init);
        return __atomic_load_n(&threads_ready, __ATOMIC_ACQUIRE);
}

static int refreshing;
static uint64_t retry_after_usec;

#ifdef NSS_TEST_HOOKS
void (*mapping_test_unmap_hook)(void);
#endif

static void mapping_try_unmap(SnapshotMapping *m)
{
        uint64_t expected = MAPPING_RETIRED;

        /* Our own reader holds the slot until munmap() is done: see the top of the file. */
        if (!__atomic_compare_exchange_n(&m->state, &expected, MAPPING_RETIRED | MAPPING_UNMAPPED | MAPPING_READER,
                    false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
                return;
#ifdef NSS_TEST_HOOKS
        if (mapping_test_unmap_hook)
                mapping_test_unmap_hook();
#endif
        (void) munmap(m->base, m->size);
        (void) __atomic_fetch_sub(&m->state, MAPPING_READER, __ATOMIC_RELEASE);
}

void mapping_unref(SnapshotMapping *m)
{
        if (__atomic_sub_fetch(&m->state, MAPPING_READER, __ATOMIC_ACQ_REL) == MAPPING_RETIRED)
                mapping_try_unmap(m);
}

static void mapping_retire(SnapshotMapping *m)
{
        (void) __atomic_fetch_or(&m->state, MAPPING_RETIRED, __ATOMIC_ACQ_REL);
        mapping_try_unmap(m);
}

static SnapshotMapping *mapping_ref_current(void)
{
        /* A retirement between loading the pointer and pinning it means a newer mapping was
         * just published: look again, a few times at most. */
        for (unsigned i = 0; i < 4; i++) {
                SnapshotMapping *m = __atomic_load_n(&current, __ATOMIC_ACQUIRE);
                if (!m)
                        return NULL;
                if (!(__atomic_fetch_add(&m->state, MAPPING_READER, __ATOMIC_ACQ_REL) & MAPPING_RETIRED))
                        return m;
                mapping_unref(m);
        }
        return NULL;
}

const Snapshot *mapping_snapshot(const SnapshotMapping *m)
{
        return &m->snapshot;
}

static bool refresh_trylock(void)
{
        int expected = 0;

        return __atomic_compare_exchange_n(
                &refreshing, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static void refresh_unlock(void)
{
        __atomic_store_n(&refreshing, 0, __ATOMIC_RELEASE);
}

/* Under the refresh lock: a slot held by us alone, still marked retired for late readers. */
static SnapshotMapping *slot_claim(void)
{
        const uint64_t held = MAPPING_RETIRED | MAPPING_UNMAPPED | MAPPING_READER;

        for (SnapshotMapping *s = slots; s; s = s->next_slot) {
                uint64_t expected = MAPPING_RETIRED | MAPPING_UNMAPPED;
                if (__atomic_compare_exchange_n(
                            &s->state, &expected, held, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
                        return s;
        }

        SnapshotMapping *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->state = held;
        s->next_slot = slots;
        slots = s;
        return s;
}

static void publish(SnapshotMapping *m)
{
        SnapshotMapping *old = __atomic_exchange_n(&current, m, __ATOMIC_ACQ_REL);

        if (old)
                mapping_retire(old);
}

static void mapping_mark_checked(SnapshotMapping *m)
{
        __atomic_store_n(&m->checked_usec, now_usec(CLOCK_MONOTONIC_COARSE), __ATOMIC_RELAXED);
}

/* published: fd is the file the daemon keeps beside its socket (published_open() checked who
 * may write it and that the live daemon holds it); otherwise a descriptor the daemon handed over,
 * which must be a sealed memfd. */
static int install_locked(int fd, uint64_t size, bool published, const struct stat *known)
{
        struct stat st;
        SnapshotMap map;
        int r;

        /* known: fd's fstat() as the caller just made it, one system call less per first lookup. */
        if (known)
                st = *known;
        else if (fstat(fd, &st) < 0)
                return -errno;

        /* The published file has no seals: who may write it is what published_open() checked. */
        r = snapshot_map(fd, &st, size, MAPPING_SIZE_MAX, !published, &map);
        if (r < 0)
                return r;

        SnapshotMapping *s = slot_claim();
        if (!s) {
                snapshot_map_done(&map);
                return -ENOMEM;
        }
        /* A reused slot's old table: no reader can be inside its unmapped image. */
        free(s->checks);
        s->checks = TAKE_PTR(map.checks);
        s->base = map.base;
        s->size = map.size;
        s->snapshot = map.snapshot;
        s->dev = st.st_dev;
        s->inode = st.st_ino;
        s->published = published;
        /* The published file is dated later (mapping_is_recent()): no clock is read here, whose
         * first read in a process is a page fault (the vDSO's data page). */
        s->checked_usec = published ? 0 : now_usec(CLOCK_MONOTONIC_COARSE);
        __atomic_fetch_sub(&s->state, MAPPING_RETIRED | MAPPING_UNMAPPED | MAPPING_READER, __ATOMIC_RELEASE);
        publish(s);
        return 0;
}

int mapping_install_fd(int fd, uint64_t size)
{
        int r;

        if (!refresh_trylock())
                return -EBUSY;
        r = install_locked(fd, size, false, NULL);
        refresh_unlock();
        return r;
}

void mapping_drop(void)
{
        SnapshotMapping *old = __atomic_exchange_n(&current, NULL, __ATOMIC_ACQ_REL);

        if (old)
                mapping_retire(old);
}

/* The daemon also publishes its image as a file beside its socket (SOCKET.snapshot) when every
 * caller gets the same answers, i.e. it has no scopes, as sssd publishes its memory cache: a
 * process then maps it with an open() instead of a round trip.  It is used only when it can be
 * trusted as far as the socket can: owned by root (or by ourselves), writable by nobody else, and
 * while the daemon that wrote it is alive, which its write lock on the file says (an open file
 * description lock goes with the process; a crashed daemon's file is ignored, and the round trip
 * that follows finds out whether a new one runs).
 *
 * Unlike the daemon's memfd, the file is not sealed, and reading a page of a mapping beyond the
 * end of a file that shrank is SIGBUS.  What rules that out is who can shrink it: the file is
 * 0444 and root's, so only root (or, for a file of our own, our own user, who can kill this
 * process anyway); the daemon never truncates it, it writes a new file and renames it over the
 * old one, a new inode, while the old one stays whole for as long as anyone maps it; and a
 * clean stop unlinks it, which leaves the inode whole too.  Root truncating it in place under a
 * running daemon is outside what this protects against, as truncating a shared library in place
 * is: the dynamic linker maps this module and libc from root's files in the same way.  Every
 * other change to its bytes costs at most a wrong answer (snapshot.c), and a corrupted page is
 * refused when first read. */
static int published_open(const NssConfig *cfg, int *ret_fd, uint64_t *ret_size, struct stat *ret_stat)
{
        char path[sizeof(((struct sockaddr_un *) NULL)->sun_path) + sizeof(SNAPSHOT_PUBLISHED_SUFFIX)];
        _cleanup_close_ int fd = -1;
        struct stat st;

        size_t n = string_length(cfg->socket);
        if (n >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                return -ENAMETOOLONG;
        /* Two copies, not snprintf(): in a fresh process the printf machinery is three pages of
         * libc not yet mapped, three page faults of a first lookup that reads three of the image. */
        memcpy(path, cfg->socket, n);
        memcpy(path + n, SNAPSHOT_PUBLISHED_SUFFIX, sizeof(SNAPSHOT_PUBLISHED_SUFFIX));

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return -errno;
        /* fstat() is this very call, but with its "" in libc's read-only data, a page a fresh
         * process has not mapped yet: the kernel's read of it was a page fault of every first
         * lookup.  Ours lies in the module's first segment, which the loader mapped. */
        if (fstatat(fd, "", &st, AT_EMPTY_PATH) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 0022))
                return -EPERM;
        if (st.st_size < (off_t) sizeof(SnapshotHeader) || st.st_size > (off_t) MAPPING_SIZE_MAX)
                return -EFBIG;

        struct flock lock = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
        if (fcntl(fd, F_OFD_GETLK, &lock) < 0)
                return -errno;
        if (lock.l_type != F_WRLCK)
                return -ESTALE;

        *ret_fd = TAKE_FD(fd);
        *ret_size = (uint64_t) st.st_size;
        *ret_stat = st;
        return 0;
}

/* Fetches the daemon's current image and installs it: 0 when a new one is current, 1 when the
 * daemon still hands out old's image.  Called with the refresh lock held. */
static int refresh_locked(SnapshotMapping *old)
{
        NssConfig cfg;
        _cleanup_close_ int fd = -1;
        struct stat st;
        uint64_t size;
        int r;

        nss_config_read(&cfg);
        if (cfg.bypass)
                return -ENOENT;
        if (cfg.no_snapshot)
                return -EOPNOTSUPP;
        uint64_t retry_after = __atomic_load_n(&retry_after_usec, __ATOMIC_RELAXED);
        if (retry_after > 0 && now_usec(CLOCK_MONOTONIC_COARSE) < retry_after)
                return -EALREADY;

        /* The published file if it holds: no round trip to the daemon, for the first image and
         * for every recheck.  Where there is none (a daemon with scopes, or an older one) or it
         * does not hold, the daemon hands over its memfd. */
        bool published = published_open(&cfg, &fd, &size, &st) >= 0;
        r = published ? 0 : nss_client_get_snapshot(&cfg, &fd, &size);
        for (;;) {
                /* The published file's fstat() is the one published_open() made. */
                if (r >= 0 && !published && fstat(fd, &st) < 0)
                        r = -errno;
                if (r >= 0 && old && st.st_dev == old->dev && st.st_ino == old->inode &&
                        !snapshot_is_superseded(&old->snapshot)) {
                        mapping_mark_checked(old);
                        return 1;
                }
                if (r >= 0)
                        r = install_locked(fd, size, published, &st);
                if (r >= 0 || !published)
                        break;
                fd = safe_close(fd);
                published = false;
                r = nss_client_get_snapshot(&cfg, &fd, &size);
        }
        if (r < 0)
                __atomic_store_n(&retry_after_usec, now_usec(CLOCK_MONOTONIC_COARSE) + MAPPING_RETRY_USEC, __ATOMIC_RELAXED);
        return r;
}

static inline bool mapping_is_superseded(const SnapshotMapping *m)
{
        return snapshot_is_superseded(&m->snapshot);
}

/* Whether m, superseded or not, is recent enough: confirmed by the daemon (or, for the published
 * file, found at its path) within MAPPING_RECHECK_USEC.  A published image is not dated when it is
 * mapped (a first lookup reads no clock): the first of these questions asks about it, and the
 * answer dates it (mapping_mark_checked()). */
static inline bool mapping_is_recent(const SnapshotMapping *m)
{
        uint64_t checked = __atomic_load_n(&m->checked_usec, __ATOMIC_RELAXED);

        return checked > 0 && now_usec(CLOCK_MONOTONIC_COARSE) < checked + MAPPING_RECHECK_USEC;
}

/* The same on the hot path: for the published file, only every MAPPING_RECHECK_LOOKUPS-th lookup
 * of the pin whose countdown this is asks, by taking the slow path. */
static inline bool mapping_is_recent_fast(const SnapshotMapping *m, int *countdown)
{
        return m->published ? --*countdown > 0 : mapping_is_recent(m);
}

/* superseded: mapping_is_superseded(old), as the caller found it. */
static __attribute__((noinline)) int mapping_acquire_slow(SnapshotMapping *old, bool superseded, SnapshotMapping **ret)
{
        int r;

        /* With other threads, one may fork while we hold the lock: the child's handler frees it. */
        if (!__libc_single_threaded && !threads_setup()) {
                /* No fork handler to free the lock in a child: no refresh (out of memory). */
                *ret = old;
                return 0;
        }
        if (!refresh_trylock()) {
                /* Another thread is fetching: the image we hold is still mapped and consistent,
                 * only possibly one generation old, as if this lookup had run a moment earlier. */
                *ret = old;
                return 0;
        }
        r = refresh_locked(old);
        if (r < 0 && superseded) {
                /* The daemon marks its image superseded when a newer one replaces it and also
                 * when it stops cleanly: with no newer image to be had, this one must not answer
                 * again (a stopped daemon's configuration is withdrawn, the next source answers).
                 * Retire it, unless a refresh by another thread already did. */
                SnapshotMapping *expected = old;
                if (__atomic_compare_exchange_n(
                            &current, &expected, NULL, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
                        mapping_retire(old);
        }
        refresh_unlock();

        if (r > 0) {
                *ret = old;
                return 0;
        }
        if (r < 0 && old && !superseded) {
                /* Only its age made us ask, and the daemon is gone (crashed: a clean stop would
                 * have marked the image superseded) or confused: nothing says the image is out of
                 * date, so it keeps answering (the daemon's last word beats the files backend,
                 * which lacks the drop-ins); ask again after another period. */
                mapping_mark_checked(old);
                *ret = old;
                return 0;
        }
        if (old)
                mapping_unref(old);
        if (r < 0) {
                /* No fresh image: never answer from a superseded one then, the caller asks the
                 * daemon with a varlink call (a daemon without snapshots, or with a bad one), or
                 * answers UNAVAIL when it cannot be reached; within the back-off (-EALREADY) the
                 * varlink call finds out whether the daemon is there at all. */
                *ret = NULL;
                return nss_client_error_is_unreachable(r) ? r : 0;
        }
        *ret = mapping_ref_current();
        return 0;
}

int mapping_acquire(SnapshotMapping **ret)
{
        SnapshotMapping *m = mapping_ref_current();
        bool superseded = m && mapping_is_superseded(m);

        if (_likely_(m && !superseded && mapping_is_recent(m))) {
                *ret = m;
                return 0;
        }
        return mapping_acquire_slow(m, superseded, ret);
}

static void pin_free(ThreadPin *p)
{
        if (p->mapping)
                mapping_unref(p->mapping);
        free(p);
}

static void pin_unlink(ThreadPin *p)
{
        if (p->prev)
                p->prev->next = p->next;
        else
                pins = p->next;
        if (p->next)
                p->next->prev = p->prev;
}

/* A thread that exits lets go of its mapping. */
static void pin_destroy(void *userdata)
{
        ThreadPin *p = userdata;

        pthread_mutex_lock(&pins_lock);
        pin_unlink(p);
        pthread_mutex_unlock(&pins_lock);
        pin_free(p);
}

/* This thread's pin, NULL before its first lookup with other threads around. */
static inline ThreadPin *pin_current(void)
{
        return __atomic_load_n(&threads_ready, __ATOMIC_ACQUIRE) ? pthread_getspecific(pin_key) : NULL;
}

static ThreadPin *pin_get(void)
{
        ThreadPin *p = pin_current();

        if (p)
                return p;
        if (!threads_setup())
                return NULL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        if (pthread_setspecific(pin_key, p) != 0) {
                free(p);
                return NULL;
        }
        pthread_mutex_lock(&pins_lock);
        p->next = pins;
        if (pins)
                pins->prev = p;
        pins = p;
        pthread_mutex_unlock(&pins_lock);
        return p;
}

static __attribute__((noinline)) int mapping_acquire_thread_slow(const Snapshot **ret)
{
        SnapshotMapping **pin, *m, *old;
        int *countdown, r;

        if (__libc_single_threaded) {
                pin = &solo;
                countdown = &solo_countdown;
        } else {
                /* Other threads now: solo's reader goes, by whichever thread comes here first. */
                old = __atomic_exchange_n(&solo, NULL, __ATOMIC_ACQ_REL);
                if (old)
                        mapping_unref(old);
                ThreadPin *p = pin_get();
                /* Without a pin of its own (out of memory) the thread has no image: the varlink call. */
                if (!p) {
                        *ret = NULL;
                        return 0;
                }
                pin = &p->mapping;
                countdown = &p->countdown;
        }
        r = mapping_acquire(&m);
        /* The new reader first, then the old one goes: when both are the same mapping it never
         * drops to no reader in between. */
        old = *pin;
        *pin = r >= 0 ? m : NULL;
        *countdown = MAPPING_RECHECK_LOOKUPS;
        if (old)
                mapping_unref(old);
        if (r < 0)
                return r;
        *ret = m ? &m->snapshot : NULL;
        return 0;
}

int mapping_acquire_thread(const Snapshot **ret)
{
        SnapshotMapping *m;
        int *countdown;

        if (_likely_(__libc_single_threaded)) {
                m = solo;
                countdown = &solo_countdown;
        } else {
                ThreadPin *p = pin_current();
                if (!p)
                        return mapping_acquire_thread_slow(ret);
                m = p->mapping;
                countdown = &p->countdown;
        }
        /* The pin keeps m mapped; that it is still the current image is all to check. */
        if (_likely_(m && m == __atomic_load_n(&current, __ATOMIC_ACQUIRE) && !mapping_is_superseded(m) &&
                     mapping_is_recent_fast(m, countdown))) {
                *ret = &m->snapshot;
                return 0;
        }
        return mapping_acquire_thread_slow(ret);
}

/* Only the forking thread lives on in the child: the locks other threads held are free. */
static void mapping_after_fork_child(void)
{
        ThreadPin *self = pin_current();

        __atomic_store_n(&refreshing, 0, __ATOMIC_RELAXED);

        /* Only this thread lives on: the others' pins would keep their mappings forever.  Its
         * own reader moves to solo, in case the child counts as single-threaded again and looks
         * up through solo from now on (glibc 2.36 does not reset __libc_single_threaded, a later
         * one may); moved, not released: a fork() from a signal handler that interrupted a
         * lookup of this thread returns into that lookup, which reads the image unpinned. */
        pins_lock = (pthread_mutex_t) PTHREAD_MUTEX_INITIALIZER;
        for (ThreadPin *p = pins, *next; p; p = next) {
                next = p->next;
                if (p == self) {
                        if (p->mapping && !solo)
                                solo = TAKE_PTR(p->mapping);
                        continue;
                }
                pin_unlink(p);
                pin_free(p);
        }
}
