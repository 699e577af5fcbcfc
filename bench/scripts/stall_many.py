#!/usr/bin/env python3
"""N clients each send a HELLO, a DATA header of SIZE bytes and HALF bytes of
its payload, then stall (non-blocking sockets, one process); prints the
server's RSS. RELIABILITY.md.

    python3 bench/scripts/stall_many.py 127.0.0.1 PORT 10000 1048576 524288 SERVER_PID
"""
import socket, struct, sys, time, resource
resource.setrlimit(resource.RLIMIT_NOFILE,(20000,20000))
addr=(sys.argv[1], int(sys.argv[2])); n=int(sys.argv[3]); size=int(sys.argv[4]); half=int(sys.argv[5]); pid=int(sys.argv[6])
def rss():
    for l in open(f'/proc/{pid}/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])//1024
print('base RSS MiB', rss(), flush=True)
hello=b'\x00'+struct.pack('>I',6)+b'SHOUT\x01'
socks=[]
for i in range(n):
    s=socket.create_connection(addr); s.sendall(hello+b'\x01'+struct.pack('>I',size)); s.setblocking(False); socks.append([s,0])
print('connected', n, 'RSS', rss(), flush=True)
body=b'x'*65536; peak=0; t0=time.time()
while time.time()-t0<60:
    moved=0
    for e in socks:
        if e[1]<half:
            try: k=e[0].send(body[:min(65536,half-e[1])]); e[1]+=k; moved+=k
            except (BlockingIOError, OSError): pass
    peak=max(peak,rss())
    if moved==0: break
time.sleep(2); peak=max(peak,rss())
print(f'{n} stalled, {sum(e[1] for e in socks)>>20} MiB of payload sent: RSS now {rss()} MiB, peak {peak} MiB', flush=True)
for e in socks: e[0].close()
time.sleep(3); print('after close: RSS', rss())
