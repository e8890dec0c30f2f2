#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Plays portd's main process towards a real monitor ("portd --owner-worker=PID"): it starts one
# with the two channels on fds 3 and 4 and its executable on fd 5, as daemon/owner-handoff.c does, and hands it one
# io.portd.Sockets.List call for PORT with a catalog image read from IMAGE (a published
# snapshot), in a memfd that is sealed as the daemon seals them or not at all. It prints the
# service names of the rows the worker answers, one a line. Only what a compromised main process
# could do, to show what the worker accepts from it.
# Usage: fake-main.py PORTD IMAGE PORT sealed|unsealed
import fcntl
import json
import os
import signal
import socket
import struct
import sys

portd, image_path, port, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
HANDOFF_MAGIC = 0x6F776E31
HANDOFF_SNAPSHOT = 1

chan = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
ask = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
parent = os.getpid()
pid = os.fork()
if pid == 0:
    os.dup2(chan[1].fileno(), 3)
    os.dup2(ask[1].fileno(), 4)
    exe = os.open(portd, os.O_PATH)
    os.dup2(exe, 5)
    os.closerange(6, 1024)
    os.execv(portd, ["portd", "--owner-worker=%d" % parent])
chan[1].close()
ask[1].close()

with open(image_path, "rb") as f:
    image = f.read()
memfd = os.memfd_create("fake-snapshot", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
os.write(memfd, image)
if mode == "sealed":
    fcntl.fcntl(memfd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)

client, server = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
call = json.dumps({"method": "io.portd.Sockets.List", "parameters": {"port": port}, "more": True}).encode() + b"\0"
header = struct.pack("=III", HANDOFF_MAGIC, HANDOFF_SNAPSHOT, len(call))
socket.send_fds(chan[0], [header + call], [server.fileno(), memfd])
server.close()
os.close(memfd)

client.settimeout(20)
buf = b""
done = False
while not done:
    data = client.recv(65536)
    if not data:
        break
    buf += data
    while b"\0" in buf:
        msg, buf = buf.split(b"\0", 1)
        reply = json.loads(msg)
        if "error" in reply:
            print("error:", reply["error"], file=sys.stderr)
            done = True
            break
        row = reply.get("parameters", {}).get("owner")
        if row:
            print(row.get("service", "-"))
        if not reply.get("continues"):
            done = True
            break

os.kill(pid, signal.SIGTERM)
os.waitpid(pid, 0)
