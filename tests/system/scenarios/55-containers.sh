# SPDX-License-Identifier: LGPL-2.1-or-later
# An administrator gives containers services databases of their own with scopes
# (/etc/portd/scopes/NAME.scope, services.d(5) SCOPES, docs/CONTAINERS.md), for containers
# placed as their tools place them under systemd: Docker's and Podman's systemd cgroup driver (a
# scope in system.slice or machine.slice), a network namespace made with ip netns after portd
# started, and a systemd-nspawn container booted inside the test bed (machined puts it in
# machine.slice/machine-NAME.scope, with a private network) with its own root: the NSS module, an
# nsswitch.conf and an /etc/services of its own, and the host's /run/portd bound read-only.
# Each container's processes get their scope's entries through the real nsswitch.conf, everyone
# else the host's; portctl who names the container of a listener; a scope added, changed and
# removed while the container runs is seen by its next lookup; with portd stopped, the booted
# container falls back to its own /etc/services.

scopes=/etc/portd/scopes
hex64() {
        head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'
}
# scope NAME MATCH-LINE ENTRY-LINE: a scope that gives its callers ENTRY.
scope() {
        mkdir -p $scopes/$1.d
        printf '%s\n' "$3" >$scopes/$1.d/10-$1.conf
        printf '[Match]\n%s\n' "$2" >$scopes/$1.scope
}
# A container's main process: a TCP listener on 127.0.0.1:PORT (the only argument).
listener='import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
time.sleep(300)'
# who_has PORT TEXT [PORTCTL ARGS...]: portctl who's row for the listener on PORT contains TEXT.
who_has() {
        portctl who -P "${@:3}" "tcp:$1" 2>&1 | grep -q -- "$2"
}
# start_container SLICE UNIT PORT: the container's main process as a runtime's systemd cgroup
# driver starts it: a scope UNIT in SLICE (systemd-run --scope execs the command: $! is its PID).
start_container() {
        systemd-run --quiet --scope --slice="$1" --unit="$2" python3 -c "$listener" "$3" \
                </dev/null >/dev/null 2>&1 &
        container_pid=$!
        wait_until 10 systemctl is-active -q "$2"
}
# exec_in PID COMMAND...: runs COMMAND in the cgroups of PID, as docker exec and podman exec do
# (runc exec writes the new process into each of the container's cgroups: the cgroup2 one and,
# on a hybrid host, the name=systemd one; the other v1 controllers do not name a unit).
exec_in() {
        (
                while IFS=: read -r _ controller path; do
                        case $controller in
                        "") dir=$(findmnt -n -o TARGET -t cgroup2 | head -1) ;;
                        name=systemd) dir=/sys/fs/cgroup/systemd ;;
                        *) continue ;;
                        esac
                        echo $BASHPID >"$dir$path/cgroup.procs" || exit 1
                done <"/proc/$1/cgroup"
                shift
                exec "$@"
        )
}
# http_is PORT/PROTO COMMAND-PREFIX...: a lookup of http/tcp run by the prefix answers that port.
http_is() {
        local want=$1
        shift
        "$@" getent services http/tcp | grep -q " $want "
}

# The host's first lookup starts portd (socket activation), before any container exists. What
# the host answers for http/tcp is whatever the scenarios before left; the scopes' ports are not.
host_http=$(getent services http/tcp)
host_port=$(awk '{ print $2 }' <<<"$host_http")
check "the host's http/tcp, before any scope: $host_http" test -n "$host_port"
check "portd is running before the containers are made" systemctl is-active portd.service
portd_pid=$(unit_prop portd.service MainPID)

# runtime_container WHAT SLICE UNIT PORT LISTEN-PORT CONTAINER: what every runtime's container must
# show: it runs in SLICE/UNIT, its lookups of http/tcp answer PORT (its scope's) through the real
# nsswitch.conf while the host's stay the host's, and portctl who names it CONTAINER. Its main
# process, still running, is $container_pid.
runtime_container() {
        local what=$1 slice=$2 unit=$3 port=$4 listen_port=$5 name=$6
        start_container "$slice" "$unit" "$listen_port"
        check_eq "$what: the container runs in $slice/${unit%%-*}-<id>.scope" "0::/$slice/$unit" \
                "$(grep '^0::' /proc/$container_pid/cgroup)"
        check "$what: a lookup in the container gives the scope's entry" \
                wait_until 10 http_is "$port" exec_in $container_pid
        check_eq "$what: getservbyname in the container, through nsswitch.conf" \
                "$(printf '%-21s %s www' http "$port")" "$(exec_in $container_pid getent services http/tcp)"
        check_eq "$what: the host's own lookup is the host's" "$host_http" "$(getent services http/tcp)"
        check "$what: portctl who shows the container of its listener" \
                wait_until 10 who_has "$listen_port" "$name"
}

# --- Docker: system.slice/docker-<64 hex>.scope, one container by its id.
docker_id=$(hex64)
scope docker "Cgroup=/system.slice/docker-$docker_id.scope" "http 5801/tcp www"
runtime_container docker system.slice "docker-$docker_id.scope" 5801/tcp 18080 "docker:${docker_id:0:12}"
check_eq "docker: getservbyport in the container" "http                  5801/tcp www" \
        "$(exec_in $container_pid getent services 5801/tcp)"
check_eq "docker: the host's entries the scope leaves alone" "ssh                   22/tcp" \
        "$(exec_in $container_pid getent services ssh/tcp)"
check_eq "docker: a container of another id is not matched" "$host_http" \
        "$(systemd-run --quiet --scope --slice=system.slice --unit="docker-$(hex64).scope" getent services http/tcp)"
kill $container_pid

# --- Podman (rootful, systemd cgroup manager): machine.slice/libpod-<id>.scope, every container.
podman_id=$(hex64)
scope podman "Cgroup=/machine.slice/libpod-*.scope" "http 5802/tcp www"
runtime_container podman machine.slice "libpod-$podman_id.scope" 5802/tcp 18081 "podman:${podman_id:0:12}"
kill $container_pid

# --- ip netns: a namespace made after portd started, matched by its path.
scope blue "NetworkNamespace=/run/netns/blue" "http 5803/tcp www"
check "netns: ip netns add blue, after portd started" ip netns add blue
check "netns: a lookup in the namespace gives the scope's entry" \
        wait_until 10 http_is 5803/tcp ip netns exec blue
check_eq "netns: ip netns exec blue getent, through nsswitch.conf" "http                  5803/tcp www" \
        "$(ip netns exec blue getent services http/tcp)"
check_eq "netns: the host's own lookup is the host's" "$host_http" "$(getent services http/tcp)"
check_eq "netns: portd is the one that started before the namespace" "$portd_pid" \
        "$(unit_prop portd.service MainPID)"
ip netns exec blue python3 -c "$listener" 18083 &
blue_listener=$!
check "netns: portctl who --netns blue sees its listener" wait_until 10 who_has 18083 python3 --netns blue
kill $blue_listener
ip netns del blue

# --- systemd-nspawn, booted: its own root (an overlay of this one, with only what an image has),
# the host's /run/portd bound read-only, registered with machined as machine-web.scope.
ct=/var/tmp/portd-ct-web
mkdir -p $ct/rw $ct/root $ct/ipc
mount -t tmpfs tmpfs $ct/rw && mkdir $ct/rw/upper $ct/rw/work &&
        mount -t overlay overlay -o lowerdir=/,upperdir=$ct/rw/upper,workdir=$ct/rw/work $ct/root
check "nspawn: the container's root is ready" mountpoint -q $ct/root
# An image with the NSS module and no daemon: portd's units masked, nothing of the test bed's.
rm -f $ct/root/etc/machine-id $ct/root/etc/systemd/system/portd-testbed.*
ln -sf /dev/null $ct/root/etc/systemd/system/portd.socket
ln -sf /dev/null $ct/root/etc/systemd/system/portd.service
rm -rf $ct/root/etc/portd $ct/root/etc/services.d
sed -i 's/^services:.*/services:       portd files/' $ct/root/etc/nsswitch.conf
printf 'http\t\t8099/tcp\twww\t# the image'"'"'s own\nimage-only\t4444/tcp\n' >$ct/root/etc/services
mkfifo $ct/ipc/req $ct/ipc/ans
# In the container, a service runs each command the test writes to /ipc/req and writes its output
# to /ipc/ans: every lookup is a new process of the container, in its cgroup and namespaces.
cat >$ct/root/usr/local/sbin/answer <<'EOS'
#!/bin/bash
touch /ipc/ready
while read -r -a command </ipc/req; do
        { "${command[@]}"; echo "exit $?"; } >/ipc/ans 2>&1
done
EOS
chmod 0755 $ct/root/usr/local/sbin/answer
printf '%s\n' "$listener" >$ct/root/usr/local/sbin/listener.py
cat >$ct/root/etc/systemd/system/answer.service <<'EOS'
[Service]
ExecStart=/usr/local/sbin/answer
EOS
cat >$ct/root/etc/systemd/system/listener.service <<'EOS'
[Service]
ExecStart=/usr/bin/python3 /usr/local/sbin/listener.py 18082
EOS
cat >$ct/root/etc/systemd/system/container.target <<'EOS'
[Unit]
Requires=basic.target answer.service listener.service
After=basic.target answer.service listener.service
AllowIsolate=yes
EOS
# in_web COMMAND...: runs COMMAND in the container and prints its output and exit status.
in_web() {
        timeout 20 sh -c 'echo "$*" >"$0/req" && cat "$0/ans"' $ct/ipc "$@"
}
# in_web_is WHAT EXPECTED-LOOKUP NAME: a check that the container's lookup of NAME prints that.
in_web_is() {
        check_eq "nspawn: $1" "$2"$'\n'"exit 0" "$(in_web getent services "$3")"
}
entry() {
        printf '%-21s %s' "$1" "$2"
}

# The checks with the container running; it is not asked anything if it did not boot.
nspawn_case() {
        local started leader
        started=$(date +%s%N)
        systemd-nspawn --quiet -M web -D $ct/root --private-network --console=passive \
                --bind-ro=/run/portd --bind=$ct/ipc:/ipc -b systemd.unit=container.target \
                >$ct/console.log 2>&1 &
        nspawn_pid=$!
        if ! wait_until 60 test -e $ct/ipc/ready; then
                not_ok "nspawn: a container boots inside the test bed" "$(tail -30 $ct/console.log)"
                return
        fi
        ok "nspawn: a container boots inside the test bed"
        diag "the container booted in $((($(date +%s%N) - started) / 1000000)) ms"
        check "nspawn: machined registered it" machinectl status web --no-pager
        leader=$(machinectl show web -p Leader --value)
        check "nspawn: from the host, in machine.slice/machine-web.scope" \
                grep -q '^0::/machine.slice/machine-web.scope/' /proc/$leader/cgroup
        check "nspawn: a private network namespace" \
                test "$(stat -L -c %i /proc/self/ns/net)" != "$(stat -L -c %i /proc/$leader/ns/net)"
        in_web_is "with no scope, the host's entries through the bound socket" "$host_http" http/tcp

        # A scope added, changed and removed while the container runs.
        scope web "Cgroup=/machine.slice/machine-web.scope" "http 5804/tcp www"
        wait_until 10 http_is 5804/tcp in_web
        in_web_is "a scope added: the next lookup has it" "$(entry http 5804/tcp) www" http/tcp
        check_eq "nspawn: the host's own lookup is the host's" "$host_http" "$(getent services http/tcp)"
        check "nspawn: portctl who shows the container of its listener" \
                wait_until 10 who_has 18082 "machine:web" --netns "$leader"
        printf 'http 5805/tcp www\n' >$scopes/web.d/10-web.conf
        wait_until 10 http_is 5805/tcp in_web
        in_web_is "the scope changed: the next lookup has the change" "$(entry http 5805/tcp) www" http/tcp
        rm -rf $scopes/web.scope $scopes/web.d
        wait_until 10 http_is "$host_port" in_web
        in_web_is "the scope removed: the next lookup is the host's again" "$host_http" http/tcp

        # The host's portd stopped: the container's own /etc/services answers.
        check "the host's portd stops (socket and service)" systemctl stop portd.socket portd.service
        in_web_is "portd stopped: the image's /etc/services answers" "$(entry http 8099/tcp) www" http/tcp
        in_web_is "portd stopped: an entry only the image has" "$(entry image-only 4444/tcp)" image-only
        check "the host's portd starts again" systemctl start portd.socket
        in_web_is "portd back: the host's entries again" "$host_http" http/tcp
        machinectl poweroff web
}
nspawn_case
wait_until 30 sh -c "! kill -0 $nspawn_pid" || kill $nspawn_pid
wait $nspawn_pid 2>/dev/null
umount $ct/root $ct/rw
rm -rf $ct
rm -rf $scopes/docker.* $scopes/podman.* $scopes/blue.* $scopes/web.*
