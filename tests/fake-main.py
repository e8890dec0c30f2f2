#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Plays portd's main process towards a real monitor ("portd --owner-worker=PID"): it starts one
# with the two channels on fds 3 and 4, its executable on fd 5 and an io.portd.Sockets listening
# socket on fd 6, as daemon/owner-handoff.c does, sends on the channel what the main process once
# sent the worker to name ports from, a catalog image read from IMAGE (a published snapshot) in a
# memfd sealed as the daemon seals them, then makes io.portd.Sockets.List calls for PORT on that
# socket, one before and one after a pause.  It prints the service names of the rows the worker
# answers, one a line ("-" for none).  Only what a compromised main process could do, to show
# that the worker takes nothing from it.
# Usage: fake-main.py PORTD IMAGE PORT
import fcntl
import json
import os
import signal
import socket
import struct
import sys
import tempfile
import time

portd, image_path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
HANDOFF_MAGIC = 0x6F776E32
HANDOFF_SNAPSHOT = 1

tmp = tempfile.mkdtemp(prefix="portd-fake-main.")
path = os.path.join(tmp, "io.portd.Sockets")
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(path)
listener.listen(16)
chan = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
ask = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
parent = os.getpid()
pid = os.fork()
if pid == 0:
    # Out of the way of 3 to 6 first, as the daemon moves them.
    lfd = fcntl.fcntl(listener.fileno(), fcntl.F_DUPFD, 10)
    os.dup2(chan[1].fileno(), 3)
    os.dup2(ask[1].fileno(), 4)
    exe = os.open(portd, os.O_PATH)
    os.dup2(exe, 5)
    os.dup2(lfd, 6)
    os.closerange(7, 1024)
    os.execv(portd, ["portd", "--owner-worker=%d" % parent])
chan[1].close()
ask[1].close()
listener.close()

with open(image_path, "rb") as f:
    image = f.read()
memfd = os.memfd_create("fake-snapshot", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
os.write(memfd, image)
fcntl.fcntl(memfd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)

# The message as the main process sent it when the worker named ports: a header, the memfd.
header = struct.pack("=III", HANDOFF_MAGIC, HANDOFF_SNAPSHOT, 0)
socket.send_fds(chan[0], [header], [memfd])
os.close(memfd)


def list_port():
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    call = json.dumps({"method": "io.portd.Sockets.List", "parameters": {"port": port}, "more": True})
    client.sendall(call.encode() + b"\0")
    client.settimeout(20)
    buf = b""
    while True:
        data = client.recv(65536)
        if not data:
            return
        buf += data
        while b"\0" in buf:
            msg, buf = buf.split(b"\0", 1)
            reply = json.loads(msg)
            if "error" in reply:
                print("error:", reply["error"], file=sys.stderr)
                return
            row = reply.get("parameters", {}).get("owner")
            if row:
                print(row.get("service", "-"), flush=True)
            if not reply.get("continues"):
                return


# Once as the worker may still be reading the channel, once when it has long read it.
list_port()
time.sleep(0.5)
list_port()

os.kill(pid, signal.SIGTERM)
os.waitpid(pid, 0)
os.unlink(path)
os.rmdir(tmp)
