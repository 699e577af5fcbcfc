#!/usr/bin/env python3
"""N clients send up to PER bytes of ascii each and never read; prints what
the server holds per client. RELIABILITY.md.

    python3 bench/scripts/noread.py 127.0.0.1 PORT 1000 4194304 SERVER_PID 25
"""
import socket, sys, time, selectors
addr=(sys.argv[1], int(sys.argv[2])); n=int(sys.argv[3]); per=int(sys.argv[4]); pid=int(sys.argv[5])
def rss():
    for l in open(f'/proc/{pid}/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])/1024
base=rss()
chunk=b'abcdefgh'*8192
socks=[]
for i in range(n):
    s=socket.create_connection(addr); s.setblocking(False); socks.append([s,0])
deadline=time.time()+float(sys.argv[6]) if len(sys.argv)>6 else time.time()+20
while time.time()<deadline:
    prog=False
    for e in socks:
        if e[1]<per:
            try: k=e[0].send(chunk[:min(len(chunk),per-e[1])]); e[1]+=k; prog=True
            except BlockingIOError: pass
    if not prog: time.sleep(0.2); 
    if not prog and time.time()>deadline-15: break
time.sleep(1)
r=rss()
print(f'{n} never-readers, sent {sum(e[1] for e in socks)>>20} MiB: server RSS {r} MiB (base {base}), {(r-base)*1024/n:.1f} KiB each')
