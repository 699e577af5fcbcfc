#!/usr/bin/env python3
"""N clients send continuously and read 16 KiB every 100 ms; prints what the
server holds per client, averaged over the second half. RELIABILITY.md.

    python3 bench/scripts/slowread.py 127.0.0.1 PORT 300 SERVER_PID 8
"""
import socket, sys, time
addr=(sys.argv[1], int(sys.argv[2])); n=int(sys.argv[3]); pid=int(sys.argv[4]); secs=float(sys.argv[5])
def rss():
    for l in open(f'/proc/{pid}/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])
base=rss(); chunk=b'abcdefgh'*8192
socks=[socket.create_connection(addr) for _ in range(n)]
for s in socks: s.setblocking(False)
t0=time.time(); samples=[]; lastread=0
while time.time()-t0<secs:
    for s in socks:
        try: s.send(chunk)
        except BlockingIOError: pass
    if time.time()-lastread>0.1:
        lastread=time.time()
        for s in socks:
            try: s.recv(16384)
            except BlockingIOError: pass
        if time.time()-t0>secs/2: samples.append(rss())
    time.sleep(0.01)
avg=sum(samples)/len(samples)
print(f'{n} slow readers: RSS avg {avg/1024:.1f} MiB, base {base/1024:.1f}: {(avg-base)/n:.1f} KiB each')
