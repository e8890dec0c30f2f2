# SPDX-License-Identifier: LGPL-2.1-or-later
# Everything portd does works inside the sandbox of portd.service, as systemd really applies it
# (the unit tests can only imitate ProtectSystem=, the capability bounding set and the system
# call filter): overrides written under /etc/portd and /run/portd, a container's scope read,
# owner queries naming the unit of a service (its cgroup) and the socket unit of PID 1's own
# listening socket (D-Bus), a container's sockets through `ip netns`. systemd-analyze security
# measures the sandbox.

# Every io.portd.Services method, called over the socket as any varlink client would (portctl's
# explain and verify read the files themselves; the NSS module asks for GetSnapshot).
cat >/tmp/varlink-call.py <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect("/run/portd/io.portd.Services")
call = {"method": "io.portd.Services." + sys.argv[1], "parameters": json.loads(sys.argv[2])}
if sys.argv[1] == "List":
    call["more"] = True
s.sendall(json.dumps(call).encode() + b"\0")
buf = b""
while True:
    while b"\0" not in buf:
        data = s.recv(65536)
        if not data:
            sys.exit("connection closed")
        buf += data
    msg, buf = buf.split(b"\0", 1)
    reply = json.loads(msg)
    if "error" in reply:
        sys.exit(json.dumps(reply))
    if not reply.get("continues"):
        break
PY
for call in 'GetServiceByName {"name":"http","protocol":"tcp"}' 'GetServiceByPort {"port":443}' \
        'List {}' 'GetSnapshot {}' 'Explain {"name":"http"}' 'Verify {}' 'Status {}' 'Reload {}' \
        'SetOverride {"name":"site-rpc","port":9202,"protocol":"tcp","aliases":[]}' \
        'UnsetOverride {"name":"site-rpc"}'; do
        check "io.portd.Services.${call%% *}" python3 /tmp/varlink-call.py ${call%% *} "${call#* }"
done
rm -f /tmp/varlink-call.py
check "portctl lookup, port and list" \
        sh -c 'portctl lookup fleet-api && portctl port 8443/tcp && portctl list | grep -q fleet-api'

# Overrides, persistent (/etc/portd, ProtectSystem=strict with ConfigurationDirectory=) and
# runtime (/run/portd).
check "portctl set --persistent" portctl set site-admin 9200/tcp admin
check "the override is written to /etc/portd/overrides.conf" grep -q '^site-admin' /etc/portd/overrides.conf
check "portctl set --runtime" portctl set --runtime site-debug 9201/tcp
check "the runtime override is written to /run/portd/overrides.conf" grep -q '^site-debug' /run/portd/overrides.conf
check "getent sees both overrides" sh -c 'getent services admin && getent services site-debug'
check "portctl unset of both" sh -c 'portctl unset site-admin && portctl unset --runtime site-debug'
check "the overrides are gone" sh -c '! getent services site-admin && ! getent services site-debug'
check "portctl explain names the drop-in of http" sh -c 'portctl explain http/tcp | grep -q 60-site.conf'
check "portctl verify" portctl verify

# A container, as Docker's systemd cgroup driver places one: a scope in system.slice, in a
# network namespace of its own, with a scope of portd's for it.
id=4f1de9c0aa11
mkdir -p /etc/portd/scopes/shop.d
printf '[Match]\nCgroup=/system.slice/docker-%s*.scope\n' "$id" >/etc/portd/scopes/shop.scope
printf 'http 8081/tcp www\nshop-api 9000/tcp\n!ftp\n' >/etc/portd/scopes/shop.d/10-shop.conf
# The daemon sees the new scope through inotify and reloads after a short quiet time: wait until a
# process placed as the container will be (a throwaway scope that matches the same glob) is
# answered from it, or the container below could ask before the reload and see the host's view.
probe=0
scope_served() {
        probe=$((probe + 1))
        systemd-run --quiet --scope --slice=system.slice --unit="docker-$id-probe$probe.scope" \
                getent services shop-api | grep -q '^shop-api *9000/tcp'
}
check "the daemon serves the new scope within 10 s" wait_until 10 scope_served
ip netns add tb-shop
ip -n tb-shop link set lo up
# The container's process: listens on shop-api's port and looks services up, from its scope.
cat >/tmp/container.py <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 9000))
s.listen()
with open(sys.argv[1], "w") as out:
    for name in ("shop-api", "http", "ftp"):
        try:
            out.write("%s %d\n" % (name, socket.getservbyname(name, "tcp")))
        except OSError:
            out.write("%s none\n" % name)
open(sys.argv[1] + ".ready", "w").close()
s.accept()
PY
systemd-run --quiet --scope --slice=system.slice --unit="docker-$id.scope" \
        ip netns exec tb-shop python3 /tmp/container.py /tmp/container.out &
container=$!
wait_until 10 test -e /tmp/container.out.ready
check_eq "the container's lookups come from its scope" "shop-api 9000
http 8081
ftp none" "$(cat /tmp/container.out)"
check "portctl who --netns tb-shop finds the container's listener and names the container" \
        sh -c 'portctl --json who --netns tb-shop tcp:9000 | grep -q "\"container\":\"[^\"]*'"$id"'"'

# A service's listener: the owner is named by its unit.
systemd-run --quiet --unit=site-metrics.service python3 -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 9100)); s.listen(); time.sleep(600)'
wait_until 10 sh -c 'ss -Htln | grep -q 127.0.0.1:9100'
check "portctl who names the service that listens on site-metrics" \
        sh -c 'portctl --json who tcp:9100 | grep -q "\"unit\":\"site-metrics.service\""'
# PID 1's own listening socket (a socket unit not yet triggered): only D-Bus can name it.
printf '[Socket]\nListenStream=127.0.0.1:9101\nAccept=yes\n' >/etc/systemd/system/site-echo.socket
printf '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n' >/etc/systemd/system/site-echo@.service
systemctl daemon-reload
systemctl start site-echo.socket
check "portctl who names the socket unit of PID 1's listener" \
        sh -c 'portctl --json who tcp:9101 | grep -q "\"unit\":\"site-echo.socket\""'

security=$(systemd-analyze security --no-pager portd.service 2>&1 | sed -n 's/.*Overall exposure level for portd.service: //p')
diag "systemd-analyze security portd.service, inside the test bed: $security"
check "systemd-analyze security gives an exposure level" test -n "$security"

systemctl stop site-metrics.service site-echo.socket
kill "$container" 2>/dev/null
systemctl stop "docker-$id.scope" 2>/dev/null
ip netns delete tb-shop
rm -rf /etc/portd/scopes /etc/systemd/system/site-echo.socket /etc/systemd/system/site-echo@.service \
        /tmp/container.py /tmp/container.out /tmp/container.out.ready
systemctl daemon-reload
