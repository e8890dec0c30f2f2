#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# "Who owns port P?" on a busy machine: portctl who against ss -p, lsof and fuser, with
# 2,000 sockets in 300 processes and 10,000 sockets in 2,000 processes held by a helper that
# forks processes each holding a few sockets. Then the full listing, "who listens" and "every
# socket", at 10,000, 50,000 and 100,000 sockets: portctl who against ss -ltnp and portctl
# who -a against ss -tanp, in a network namespace of their own (so that 100,000 sockets take
# no port of the host's). The port lookups are measured with hyperfine (else a timing loop), the
# full listing's pairs (portctl, ss) run alternately so that both see the same load; prints tables
# with each tool's mean and its ratio to portctl, the full listing's rows with the load average.
# Usage: bench-who.sh BUILDDIR [SOCKETS:PROCESSES ...]   (default: 2000:300 10000:2000)
#   BENCH_LIST_SIZES="10000:500 50000:2500 100000:5000" the full-listing sizes ("" to skip them)
set -eu
export LC_NUMERIC=C # a '.' in EPOCHREALTIME

BUILD=$(realpath "${1:?usage: bench-who.sh BUILDDIR [SOCKETS:PROCESSES ...]}")
shift
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(2000:300 10000:2000)
PORTD=$BUILD/daemon/portd
PORTCTL=$BUILD/client/portctl
PORT=${BENCH_PORT:-47999}
RUNS=${BENCH_RUNS:-40}

[ "$(id -u)" = 0 ] || { echo "bench-who: needs root (every process's fds, as ss -p and lsof need)" >&2; exit 77; }
for t in ss lsof fuser cc; do
        command -v $t >/dev/null || { echo "bench-who: needs $t" >&2; exit 1; }
done

T=$(mktemp -d /tmp/portd-bench-who.XXXXXX)
HOLDER=
DAEMON=
cleanup() {
        [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null && wait "$HOLDER" 2>/dev/null
        [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
        rm -rf "$T"
}
trap cleanup EXIT

# The socket holder: NPROC children in their own process group, NSOCK sockets between them
# (three TCP listeners to one unconnected UDP socket, on 127.0.0.1 ephemeral ports); the first
# child also listens on the port under test. SIGTERM to the parent takes them all down.
cat > "$T/holder.c" <<'EOF'
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* 127.0.0.1, or with "spread" an address of each child's own in 127.1.0.0/16: one address's
 * ephemeral ports (about 28,000) would not hold 100,000 sockets. */
static in_addr_t address = INADDR_LOOPBACK;

static int open_socket(int type, unsigned port)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
        int one = 1, fd = socket(AF_INET, type, 0);
        a.sin_addr.s_addr = htonl(port ? INADDR_LOOPBACK : address);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || (type == SOCK_STREAM && listen(fd, 8) < 0)) {
                perror("socket");
                return -1;
        }
        return fd;
}

int main(int argc, char **argv)
{
        int nsock = atoi(argv[1]), nproc = atoi(argv[2]);
        unsigned port = (unsigned) atoi(argv[3]);
        int spread = argc > 4;
        int made = 0, p[2];

        if (pipe(p) < 0)
                return 1;
        setpgid(0, 0);
        for (int i = 0; i < nproc; i++) {
                int mine = nsock / nproc + (i < nsock % nproc);
                pid_t pid = fork();
                if (pid < 0) {
                        perror("fork");
                        kill(0, SIGTERM);
                        return 1;
                }
                if (pid == 0) {
                        close(p[0]);
                        prctl(PR_SET_PDEATHSIG, SIGTERM);
                        prctl(PR_SET_NAME, i == 0 ? "bench-target" : "bench-holder");
                        if (spread)
                                address = (127u << 24) | (1u << 16) | ((unsigned) (i / 250) << 8) | (unsigned) (i % 250 + 1);
                        if (i == 0 && open_socket(SOCK_STREAM, port) < 0)
                                _exit(1);
                        for (int k = 0; k < mine; k++)
                                if (open_socket(k % 4 == 3 ? SOCK_DGRAM : SOCK_STREAM, 0) < 0)
                                        _exit(1);
                        char ok = 1;
                        if (write(p[1], &ok, 1) != 1)
                                _exit(1);
                        close(p[1]);
                        for (;;)
                                pause();
                }
                made += mine;
        }
        close(p[1]);
        for (int i = 0; i < nproc; i++) {
                char ok;
                if (read(p[0], &ok, 1) != 1) {
                        fprintf(stderr, "a holder failed\n");
                        kill(0, SIGTERM);
                        return 1;
                }
        }
        printf("%d %d\n", made + 1, nproc);
        fflush(stdout);
        signal(SIGTERM, SIG_IGN);
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGTERM);
        sigprocmask(SIG_BLOCK, &s, NULL);
        int sig;
        sigwait(&s, &sig);
        kill(0, SIGKILL);
        return 0;
}
EOF
cc -O2 -o "$T/holder" "$T/holder.c"

mkdir -p "$T/root/etc"
cp /etc/services "$T/root/etc/services" 2>/dev/null || : > "$T/root/etc/services"
export PORTD_SOCKET=$T/portd.sock
start_daemon() {
        if [ -n "$DAEMON" ]; then
                kill "$DAEMON"
                wait "$DAEMON" 2>/dev/null || :
        fi
        rm -f "$PORTD_SOCKET"
        "$PORTD" --root "$T/root" --socket "$PORTD_SOCKET" 2>>"$T/portd.log" &
        DAEMON=$!
        for _ in $(seq 100); do [ -S "$PORTD_SOCKET" ] && break; sleep 0.05; done
}

ulimit -n "$(ulimit -Hn)" 2>/dev/null || :
have_hyperfine=no
command -v hyperfine >/dev/null && have_hyperfine=yes

# mean_ms NAME COMMAND...: the mean wall time of one run, in ms.
mean_ms() {
        local name=$1
        shift
        if [ $have_hyperfine = yes ]; then
                hyperfine -N --warmup 3 --runs "$RUNS" -i --export-json "$T/$name.json" -- "$*" >/dev/null 2>&1
                python3 -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["results"][0]["mean"] * 1000))' "$T/$name.json"
        else
                "$@" >/dev/null 2>&1 || :
                local start end
                start=$(date +%s%N)
                for _ in $(seq "$RUNS"); do "$@" >/dev/null 2>&1 || :; done
                end=$(date +%s%N)
                awk -v a="$start" -v b="$end" -v n="$RUNS" 'BEGIN { printf "%.3f\n", (b - a) / n / 1e6 }'
        fi
}

echo "# portctl who :$PORT vs ss -p, lsof, fuser ($(nproc) CPUs, $(uname -r), $RUNS runs each)"
echo
echo "| sockets | processes | portctl who (cold) | portctl who | ss -ltnp sport | lsof -iTCP -sTCP:LISTEN | fuser PORT/tcp | ss/portctl | lsof/portctl | fuser/portctl |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for size in "${SIZES[@]}"; do
        nsock=${size%:*}
        nproc=${size#*:}
        "$T/holder" "$nsock" "$nproc" "$PORT" > "$T/holder.out" &
        HOLDER=$!
        for _ in $(seq 600); do [ -s "$T/holder.out" ] && break; sleep 0.1; done
        [ -s "$T/holder.out" ] || { echo "bench-who: the holder did not come up" >&2; exit 1; }

        # Cold: a fresh daemon, so the first query finds its cache empty (one run, not a mean).
        start_daemon
        t0=$(date +%s%N)
        "$PORTCTL" who ":$PORT" > "$T/cold.out"
        t1=$(date +%s%N)
        cold=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')

        # Sanity: every tool names the target, else the comparison means nothing.
        grep -q bench-target "$T/cold.out" || { echo "bench-who: portctl misses the target" >&2; exit 1; }
        ss -ltnpH "sport = :$PORT" | grep -q bench-target || { echo "bench-who: ss misses the target" >&2; exit 1; }
        real=$(ss -ltnuH | wc -l)

        p=$(mean_ms portctl "$PORTCTL" who ":$PORT")
        s=$(mean_ms ss ss -ltnp "sport = :$PORT")
        l=$(mean_ms lsof lsof -nP "-iTCP:$PORT" -sTCP:LISTEN)
        f=$(mean_ms fuser fuser "$PORT/tcp")
        awk -v n="$real" -v np="$nproc" -v c="$cold" -v p="$p" -v s="$s" -v l="$l" -v f="$f" 'BEGIN {
                printf "| %d | %d | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.1f× | %.1f× | %.1f× |\n",
                        n, np, c, p, s, l, f, s / p, l / p, f / p }'

        kill "$HOLDER"
        wait "$HOLDER" 2>/dev/null || :
        HOLDER=
done
echo
echo "Sockets counts every listening TCP and unconnected UDP socket of the machine (ss -ltnuH)."
echo "Cold is one run against a freshly started portd (empty cache); the other columns are means of warm runs."

# The full listing: every socket of a namespace, printed.  The holder, ss and portctl run in a
# network namespace made for it (loopback up); the daemon stays in ours and answers for the
# caller's namespace, as it does for a container's caller.
LIST_SIZES=${BENCH_LIST_SIZES-10000:500 50000:2500 100000:5000}
[ -n "$LIST_SIZES" ] || exit 0
LIST_RUNS=${BENCH_LIST_RUNS:-5}
unshare -n true 2>/dev/null || { echo "bench-who: cannot create a network namespace for the full listing" >&2; exit 1; }
start_daemon
# pair_ms COMMAND_A -- COMMAND_B: "MEAN_A MEAN_B" in ms, the two run in the network namespace of
# NS_PID (output discarded) one after the other LIST_RUNS times, after one warm-up each: on a
# machine whose load swings from 2 to 30 within a minute, a tool timed in other seconds than its
# peer says more about the load than about either.
pair_ms() {
        local a=() b=() ta="" tb="" t0 t1 t2
        while [ "$1" != -- ]; do a+=("$1"); shift; done
        shift
        b=("$@")
        nsenter -t "$NS_PID" -n -- "${a[@]}" >/dev/null 2>&1 || :
        nsenter -t "$NS_PID" -n -- "${b[@]}" >/dev/null 2>&1 || :
        for _ in $(seq "$LIST_RUNS"); do
                t0=$EPOCHREALTIME
                nsenter -t "$NS_PID" -n -- "${a[@]}" >/dev/null 2>&1 || :
                t1=$EPOCHREALTIME
                nsenter -t "$NS_PID" -n -- "${b[@]}" >/dev/null 2>&1 || :
                t2=$EPOCHREALTIME
                ta+=" $t0:$t1"
                tb+=" $t1:$t2"
        done
        awk -v a="$ta" -v b="$tb" 'function mean(s,   n, i, x, sum, p) {
                        n = split(s, x, " ")
                        for (i = 1; i <= n; i++) { split(x[i], p, ":"); sum += p[2] - p[1] }
                        return sum / n * 1000
                }
                BEGIN { printf "%.3f %.3f\n", mean(a), mean(b) }'
}
echo
echo "# Full listing: portctl who vs ss -ltnp, portctl who -a vs ss -tanp ($LIST_RUNS runs each, each pair alternating)"
echo
echo "| sockets | processes | portctl who | ss -ltnp | ss/portctl | portctl who -a | ss -tanp | ss/portctl | rows who / ss | rows who -a / ss -ta | load average |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for size in $LIST_SIZES; do
        nsock=${size%:*}
        nproc=${size#*:}
        rm -f "$T/holder.out"
        unshare -n bash -c 'ip link set lo up && exec "$0" "$@"' "$T/holder" "$nsock" "$nproc" "$PORT" spread > "$T/holder.out" &
        HOLDER=$!
        for _ in $(seq 1200); do [ -s "$T/holder.out" ] && break; sleep 0.1; done
        [ -s "$T/holder.out" ] || { echo "bench-who: the holder did not come up" >&2; exit 1; }
        NS_PID=$HOLDER
        # Rows: what each prints, for the record.
        rows_p=$(nsenter -t "$NS_PID" -n -- "$PORTCTL" --no-legend who 2>"$T/who.err" | wc -l)
        rows_s=$(nsenter -t "$NS_PID" -n -- ss -ltnpH | wc -l)
        rows_pa=$(nsenter -t "$NS_PID" -n -- "$PORTCTL" --no-legend who -a 2>"$T/who-a.err" | wc -l)
        rows_sa=$(nsenter -t "$NS_PID" -n -- ss -tanpH | wc -l)
        # The 1-minute load average before and after the timed runs: on a shared machine the
        # ratios, taken in the same minutes, are what compares.
        load0=$(cut -d' ' -f1 /proc/loadavg)
        read -r p s < <(pair_ms "$PORTCTL" who -- ss -ltnp)
        read -r pa sa < <(pair_ms "$PORTCTL" who -a -- ss -tanp)
        load1=$(cut -d' ' -f1 /proc/loadavg)
        [ -s "$T/who.err" ] && echo "# portctl who: $(head -1 "$T/who.err")"
        [ -s "$T/who-a.err" ] && echo "# portctl who -a: $(head -1 "$T/who-a.err")"
        awk -v n="$(cut -d' ' -f1 "$T/holder.out")" -v np="$nproc" -v p="$p" -v s="$s" -v pa="$pa" -v sa="$sa" \
                -v rp="$rows_p" -v rs="$rows_s" -v rpa="$rows_pa" -v rsa="$rows_sa" -v l0="$load0" -v l1="$load1" 'BEGIN {
                printf "| %d | %d | %.1f ms | %.1f ms | %.2f× | %.1f ms | %.1f ms | %.2f× | %d / %d | %d / %d | %s-%s |\n",
                        n, np, p, s, s / p, pa, sa, sa / pa, rp, rs, rpa, rsa, l0, l1 }'
        kill "$HOLDER"
        wait "$HOLDER" 2>/dev/null || :
        HOLDER=
done
echo
echo "Rows: lines printed; portctl who lists UDP too (ss -ltnp only TCP), who -a every TCP and UDP"
echo "socket with its process (ss -tanp: TCP). A ratio above 1 means portctl is faster."
