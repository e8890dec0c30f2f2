# SPDX-License-Identifier: LGPL-2.1-or-later
# The scene of integration-who-lsof.sh: one process and a forked child that share its sockets (as a
# pre-forking server's workers do), holding TCP and UDP, IPv4 and IPv6 sockets that listen, are
# only bound, are connected, and were accepted.  Writes its ports and pids as JSON to argv[1], then
# waits to be killed.
import json, os, socket, sys, time

def tcp_pair(family, addr):
    l = socket.socket(family, socket.SOCK_STREAM)
    l.bind((addr, 0))
    l.listen(8)
    c = socket.socket(family, socket.SOCK_STREAM)
    c.connect(l.getsockname()[:2])
    a, _ = l.accept()
    return l, c, a

keep = []
ports = {}
l4, c4, a4 = tcp_pair(socket.AF_INET, "127.0.0.1")
keep += [l4, c4, a4]
ports["tcp4"] = l4.getsockname()[1]
ports["tcp4_client"] = c4.getsockname()[1]
l6, c6, a6 = tcp_pair(socket.AF_INET6, "::1")
keep += [l6, c6, a6]
ports["tcp6"] = l6.getsockname()[1]

u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u4.bind(("0.0.0.0", 0))
ports["udp4"] = u4.getsockname()[1]
u4c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u4c.connect(("127.0.0.1", ports["udp4"]))  # bound to an ephemeral port, connected
ports["udp4_client"] = u4c.getsockname()[1]
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u6.bind(("::1", 0))
ports["udp6"] = u6.getsockname()[1]
keep += [u4, u4c, u6]

tb = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # bound, never listening
tb.bind(("127.0.0.1", 0))
ports["tcp_bound"] = tb.getsockname()[1]
keep.append(tb)

# One port for a service name over TCP and UDP both.
for _ in range(100):
    st = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    st.bind(("127.0.0.1", 0))
    su = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        su.bind(("127.0.0.1", st.getsockname()[1]))
    except OSError:
        st.close(); su.close(); continue
    st.listen(8)
    ports["service"] = st.getsockname()[1]
    keep += [st, su]
    break

out = sys.argv[1]
r, w = os.pipe()
child = os.fork()
if child == 0:
    os.close(r)
    import ctypes
    ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL: gone with the parent
    # The child's own socket besides the inherited ones.
    mine = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    mine.bind(("127.0.0.1", 0))
    mine.listen(8)
    os.write(w, str(mine.getsockname()[1]).encode())
    os.close(w)
    time.sleep(3600)
    os._exit(0)
os.close(w)
ports["child_own"] = int(os.read(r, 16))
os.close(r)
with open(out + ".tmp", "w") as f:
    json.dump({"pids": [os.getpid(), child], "ports": ports}, f)
os.rename(out + ".tmp", out)  # whole or not at all for the reader
time.sleep(3600)
