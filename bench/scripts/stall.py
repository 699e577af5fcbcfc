#!/usr/bin/env python3
"""N clients each send a HELLO, a DATA header of SIZE bytes and SIZE-1 of its
payload, stall, then send the last byte and read the answer; prints the
server's RSS stalled, at its peak and after. RELIABILITY.md.

    python3 bench/scripts/stall.py 127.0.0.1 PORT 300 1048576 SERVER_PID
"""
import socket, struct, sys, time, threading
addr=(sys.argv[1], int(sys.argv[2])); n=int(sys.argv[3]); size=int(sys.argv[4]); pid=int(sys.argv[5])
def rss():
    for l in open(f'/proc/{pid}/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])//1024
hello=b'\x00'+struct.pack('>I',6)+b'SHOUT\x01'
payload=b'x'*size
go=threading.Event(); sentall=threading.Barrier(n+1); results=[]
def client():
    s=socket.create_connection(addr)
    s.sendall(hello+b'\x01'+struct.pack('>I',size))
    s.settimeout(60)
    def push():
        s.sendall(payload[:-1])
    t=threading.Thread(target=push); t.start(); t.join(8)
    try: sentall.wait(20)
    except Exception: pass
    go.wait(); t.join()
    s.sendall(payload[-1:])
    want=5+11+5+size; got=bytearray()
    try:
        while len(got)<want:
            b=s.recv(1<<20)
            if not b: break
            got+=b
    except Exception as e: pass
    results.append(len(got)==want and got[-size:]==b'X'*size)
    s.close()
ts=[threading.Thread(target=client) for _ in range(n)]
for t in ts: t.start()
try: sentall.wait(30)
except Exception: print('barrier broken (some pushes blocked)')
time.sleep(1)
print('stalled: server RSS MiB', rss(), flush=True)
t0=time.time(); go.set()
peak=0
while any(t.is_alive() for t in ts) and time.time()-t0<60:
    peak=max(peak,rss()); time.sleep(0.05)
print('completed', sum(results), 'of', n, 'in %.1fs'%(time.time()-t0), 'peak RSS MiB', peak)
time.sleep(2); print('after: RSS MiB', rss())
