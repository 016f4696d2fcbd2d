"""Fake relying parties for the logout fan-out benchmark: one process, N loopback ports, each
answering a back-channel logout POST with 200 after a fixed delay and recording when it
answered.

Run by bench/fanout.py; prints "READY <first_port>" when listening. GET /stats on the first
port returns the arrival times (time.time()) as JSON. With a certificate chain and key file as
fourth and fifth arguments every port speaks TLS.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
import time

ARRIVALS: list[float] = []


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            if head.startswith(b"GET /stats"):
                body = json.dumps(ARRIVALS).encode()
                ARRIVALS.clear()
            else:
                # The RP has handled the token once it answers: record that moment.
                await asyncio.sleep(delay)
                ARRIVALS.append(time.time())
                body = b""
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def main(first_port: int, count: int, delay_ms: int, tls: ssl.SSLContext | None) -> None:
    delay = delay_ms / 1000
    servers = [
        await asyncio.start_server(
            lambda r, w: handle(r, w, delay), "127.0.0.1", first_port + i, ssl=tls
        )
        for i in range(count)
    ]
    print(f"READY {first_port}", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


def tls_context(chain: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key)
    return context


if __name__ == "__main__":
    tls = tls_context(sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else None
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), tls))
