"""python -m bench.refresh.proxy --listen-port P --upstream http://127.0.0.1:S --latency-ms 150

A TCP proxy that holds each connection's first request for the given time before passing it on, so that every
call to the sandbox behind it takes that much longer, as a call to a distant exchange does. The sandbox closes
every connection after its answer, so each call is one connection and pays the delay once. Everything else
(the bytes, their order, either side closing) passes through unchanged. One asyncio process: hundreds of
connections held at once cost it nothing but their sockets.
"""

import argparse
import asyncio
import urllib.parse


async def pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter, delay: float) -> None:
    try:
        first = True
        while data := await source.read(65536):
            if first and delay:
                await asyncio.sleep(delay)
            first = False
            target.write(data)
            await target.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        target.close()


def serve(*, listen_port: int, upstream: str, latency_ms: float) -> None:
    parts = urllib.parse.urlsplit(upstream)
    delay = latency_ms / 1000

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(parts.hostname, parts.port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer, delay), pipe(upstream_reader, client_writer, 0))

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", listen_port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen-port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the sandbox's URL (scheme, host and port)")
    parser.add_argument("--latency-ms", type=float, default=150)
    options = parser.parse_args()
    serve(listen_port=options.listen_port, upstream=options.upstream, latency_ms=options.latency_ms)
