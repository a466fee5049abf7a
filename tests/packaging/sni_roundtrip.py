#!/usr/bin/python3
"""One TLS connection through a running sniproxy to a fake backend.

usage: sni_roundtrip.py PROXY_HOST:PORT BACKEND_HOST:PORT SERVER_NAME

The backend (a thread here, listening before the client connects) expects a
PROXY protocol v2 header followed by the client's ClientHello; it answers
with the SHA-256 of the hello record it got. The client is Python's ssl
module, so the hello is a real one (SNI = SERVER_NAME); it is produced
through a memory BIO and sent over a plain socket so that the backend's
answer can be read back raw (the TLS handshake itself could never succeed
against the fake backend). Exit 0 when the bytes arrived intact both ways.
"""
import hashlib
import socket
import ssl
import struct
import sys
import threading

TIMEOUT = 10
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def endpoint(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def backend(listener, result):
    try:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            head = recv_exact(conn, 16)
            sig, ver_cmd, fam, length = head[:12], head[12], head[13], struct.unpack("!H", head[14:16])[0]
            if sig != V2_SIGNATURE:
                raise ValueError(f"no PROXY v2 signature: {head!r}")
            if ver_cmd != 0x21:
                raise ValueError(f"PROXY v2 version/command byte {ver_cmd:#x}, want 0x21 (v2, PROXY)")
            if fam != 0x11:
                raise ValueError(f"PROXY v2 family byte {fam:#x}, want 0x11 (TCP over IPv4)")
            addrs = recv_exact(conn, length)
            src, dst = socket.inet_ntoa(addrs[0:4]), socket.inet_ntoa(addrs[4:8])
            sport, dport = struct.unpack("!HH", addrs[8:12])
            record_head = recv_exact(conn, 5)
            if record_head[0] != 0x16 or record_head[1] != 0x03:
                raise ValueError(f"not a TLS handshake record after the PROXY header: {record_head!r}")
            record = record_head + recv_exact(conn, struct.unpack("!H", record_head[3:5])[0])
            result["proxy"] = (src, sport, dst, dport)
            conn.sendall(b"OK " + hashlib.sha256(record).hexdigest().encode() + b"\n")
    except Exception as e:  # reported by the main thread
        result["error"] = f"backend: {type(e).__name__}: {e}"


def main():
    proxy, back, name = endpoint(sys.argv[1]), endpoint(sys.argv[2]), sys.argv[3]
    listener = socket.create_server(back)
    listener.settimeout(TIMEOUT)
    result = {}
    t = threading.Thread(target=backend, args=(listener, result), daemon=True)
    t.start()

    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()

    with socket.create_connection(proxy, timeout=TIMEOUT) as c:
        local = c.getsockname()
        c.sendall(hello)
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = c.recv(4096)
            if not chunk:
                break
            reply += chunk
    t.join(TIMEOUT)
    listener.close()
    if "error" in result:
        sys.exit(result["error"])
    want = b"OK " + hashlib.sha256(hello).hexdigest().encode() + b"\n"
    if reply != want:
        sys.exit(f"client: the backend's reply did not come back intact: {reply!r}")
    src, sport, dst, dport = result["proxy"]
    if (src, sport) != local or (dst, dport) != proxy:
        sys.exit(f"PROXY v2 addresses {src}:{sport} -> {dst}:{dport}, want {local[0]}:{local[1]} -> {proxy[0]}:{proxy[1]}")
    print(f"ok: {len(hello)}-byte ClientHello for {name} reached the backend after a PROXY v2 header "
          f"({src}:{sport} -> {dst}:{dport}); its reply came back")


if __name__ == "__main__":
    main()
