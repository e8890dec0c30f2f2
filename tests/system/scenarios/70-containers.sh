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
        systemd-run --quiet --scope --slice="$1" --unit="$2" python3 -c "$listener" "$3" </dev/null >/dev/null 2>&1 &
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

# The host's first lookup starts portd (socket activation), before any container exists.
check_eq "the host, before any scope" "http                  80/tcp www" "$(getent services http/tcp)"
check "portd is running before the containers are made" systemctl is-active portd.service
portd_pid=$(unit_prop portd.service MainPID)

# --- Docker: system.slice/docker-<64 hex>.scope, one container by its id.
docker_id=$(hex64)
scope docker "Cgroup=/system.slice/docker-$docker_id.scope" "http 8080/tcp www"
start_container system.slice "docker-$docker_id.scope" 18080
docker_pid=$container_pid
check_eq "docker: the container runs in system.slice/docker-<id>.scope" "0::/system.slice/docker-$docker_id.scope" \
        "$(grep '^0::' /proc/$docker_pid/cgroup)"
check "docker: a lookup in the container gives the scope's entry" \
        wait_until 10 http_is 8080/tcp exec_in $docker_pid
check_eq "docker: getservbyname in the container, through nsswitch.conf" "http                  8080/tcp www" \
        "$(exec_in $docker_pid getent services http/tcp)"
check_eq "docker: getservbyport in the container" "http                  8080/tcp www" \
        "$(exec_in $docker_pid getent services 8080/tcp)"
check_eq "docker: the host's entries the scope leaves alone" "ssh                   22/tcp" \
        "$(exec_in $docker_pid getent services ssh/tcp)"
check_eq "docker: the host's own lookup is the host's" "http                  80/tcp www" \
        "$(getent services http/tcp)"
check_eq "docker: a container of another id is not matched" "http                  80/tcp www" \
        "$(systemd-run --quiet --scope --slice=system.slice --unit="docker-$(hex64).scope" getent services http/tcp)"
check "docker: portctl who shows the container of its listener" \
        wait_until 10 who_has 18080 "docker:${docker_id:0:12}"
kill $docker_pid

# --- Podman (rootful, systemd cgroup manager): machine.slice/libpod-<id>.scope, every container.
podman_id=$(hex64)
scope podman "Cgroup=/machine.slice/libpod-*.scope" "http 8081/tcp www"
start_container machine.slice "libpod-$podman_id.scope" 18081
podman_pid=$container_pid
check_eq "podman: the container runs in machine.slice/libpod-<id>.scope" "0::/machine.slice/libpod-$podman_id.scope" \
        "$(grep '^0::' /proc/$podman_pid/cgroup)"
check "podman: a lookup in the container gives the scope's entry" \
        wait_until 10 http_is 8081/tcp exec_in $podman_pid
check_eq "podman: getservbyname in the container, through nsswitch.conf" "http                  8081/tcp www" \
        "$(exec_in $podman_pid getent services http/tcp)"
check_eq "podman: the host's own lookup is the host's" "http                  80/tcp www" \
        "$(getent services http/tcp)"
check "podman: portctl who shows the container of its listener" \
        wait_until 10 who_has 18081 "podman:${podman_id:0:12}"
kill $podman_pid

# --- ip netns: a namespace made after portd started, matched by its path.
scope blue "NetworkNamespace=/run/netns/blue" "http 8083/tcp www"
check "netns: ip netns add blue, after portd started" ip netns add blue
check "netns: a lookup in the namespace gives the scope's entry" \
        wait_until 10 http_is 8083/tcp ip netns exec blue
check_eq "netns: ip netns exec blue getent, through nsswitch.conf" "http                  8083/tcp www" \
        "$(ip netns exec blue getent services http/tcp)"
check_eq "netns: the host's own lookup is the host's" "http                  80/tcp www" \
        "$(getent services http/tcp)"
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
cat >$ct/root/etc/systemd/system/answer.service <<'EOS'
[Service]
ExecStart=/usr/local/sbin/answer
EOS
cat >$ct/root/etc/systemd/system/listener.service <<EOS
[Service]
ExecStart=/usr/bin/python3 -c '$(printf '%s; ' "import socket, time" 's = socket.socket()' 's.bind(("127.0.0.1", 18082))' 's.listen()' 'time.sleep(300)')'
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
started=$(date +%s%N)
systemd-nspawn --quiet -M web -D $ct/root --private-network --console=passive \
        --bind-ro=/run/portd --bind=$ct/ipc:/ipc -b systemd.unit=container.target >$ct/console.log 2>&1 &
nspawn_pid=$!
if wait_until 60 test -e $ct/ipc/ready; then
        ok "nspawn: a container boots inside the test bed"
        diag "the container booted in $((($(date +%s%N) - started) / 1000000)) ms"
else
        not_ok "nspawn: a container boots inside the test bed" "$(tail -30 $ct/console.log)"
fi
check "nspawn: machined registered it" machinectl status web --no-pager
check "nspawn: from the host, in machine.slice/machine-web.scope" \
        grep -q '^0::/machine.slice/machine-web.scope/' /proc/"$(machinectl show web -p Leader --value)"/cgroup
check_eq "nspawn: a private network namespace" "different" \
        "$([ "$(stat -L -c %i /proc/self/ns/net)" != "$(stat -L -c %i /proc/"$(machinectl show web -p Leader --value)"/ns/net)" ] && echo different)"
check_eq "nspawn: with no scope, the host's entries through the bound socket" \
        "$(printf 'http                  80/tcp www\nexit 0')" "$(in_web getent services http/tcp)"

# A scope added, changed and removed while the container runs.
scope web "Cgroup=/machine.slice/machine-web.scope" "http 8082/tcp www"
wait_until 10 http_is 8082/tcp in_web
check_eq "nspawn: a scope added: the next lookup has it" \
        "$(printf 'http                  8082/tcp www\nexit 0')" "$(in_web getent services http/tcp)"
check_eq "nspawn: the host's own lookup is the host's" "http                  80/tcp www" \
        "$(getent services http/tcp)"
check "nspawn: portctl who shows the container of its listener" \
        wait_until 10 who_has 18082 "machine:web" --netns "$(machinectl show web -p Leader --value)"
printf 'http 8084/tcp www\n' >$scopes/web.d/10-web.conf
wait_until 10 http_is 8084/tcp in_web
check_eq "nspawn: the scope changed: the next lookup has the change" \
        "$(printf 'http                  8084/tcp www\nexit 0')" "$(in_web getent services http/tcp)"
rm -rf $scopes/web.scope $scopes/web.d
wait_until 10 http_is 80/tcp in_web
check_eq "nspawn: the scope removed: the next lookup is the host's again" \
        "$(printf 'http                  80/tcp www\nexit 0')" "$(in_web getent services http/tcp)"

# The host's portd stopped: the container's own /etc/services answers.
check "the host's portd stops (socket and service)" systemctl stop portd.socket portd.service
check_eq "nspawn: portd stopped: the image's /etc/services answers" \
        "$(printf 'http                  8099/tcp www\nexit 0')" "$(in_web getent services http/tcp)"
check_eq "nspawn: portd stopped: an entry only the image has" \
        "$(printf 'image-only            4444/tcp\nexit 0')" "$(in_web getent services image-only)"
check "the host's portd starts again" systemctl start portd.socket
check_eq "nspawn: portd back: the host's entries again" \
        "$(printf 'http                  80/tcp www\nexit 0')" "$(in_web getent services http/tcp)"

machinectl poweroff web
wait_until 30 sh -c "! kill -0 $nspawn_pid" || kill $nspawn_pid
wait $nspawn_pid 2>/dev/null
umount $ct/root $ct/rw
rm -rf $ct
rm -rf $scopes/docker.* $scopes/podman.* $scopes/blue.* $scopes/docker.d $scopes/podman.d $scopes/blue.d
