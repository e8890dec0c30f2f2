#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# "Who owns port P?" on a busy machine: portctl who against ss -p, lsof and fuser, with
# 2,000 sockets in 300 processes and 10,000 sockets in 2,000 processes held by a helper that
# forks processes each holding a few sockets. Measured with hyperfine (else a timing loop);
# prints a table with each tool's mean and its ratio to portctl.
# Usage: bench-who.sh BUILDDIR [SOCKETS:PROCESSES ...]   (default: 2000:300 10000:2000)
set -eu

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

static int open_socket(int type, unsigned port)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
        int one = 1, fd = socket(AF_INET, type, 0);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
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
