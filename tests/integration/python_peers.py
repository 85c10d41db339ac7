#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Peers written with libraries no one here wrote, for sherlock's protocol tests
(tests/integration/sherlock_protocols_test.cpp). Run with Debian's python3 (python3-grpcio).

  grpc-serve PORT ID        a gRPC server (h2c): /echo.Echo/Say answers ID + ":" + the request,
                            /echo.Echo/Count streams the request's number of messages "ID:n"
  grpc-call TARGET AUTHORITY METHOD ARG
                            one call over a fresh channel, its answer(s) on stdout, one a line;
                            exit 1 with the status on stderr when the call fails
  sse-serve PORT COUNT GAP_MS
                            an HTTP/1.1 server whose every GET answers a text/event-stream of
                            COUNT events GAP_MS apart, each carrying the time it was written (ns)
  sse-read URL              reads such a stream; prints each event's delay from write to arrival
                            in microseconds, one a line
  ws-serve PORT ID          a WebSocket server (python3-websockets) that echoes ID + ":" + each
                            message
  ws-chat URL IDLE_S        sends "hello", waits IDLE_S seconds without a byte, sends "again";
                            prints the two answers
"""
import http.server
import socketserver
import sys
import time
import urllib.request
from concurrent import futures


def grpc_serve(port, ident):
    import grpc

    def say(request, context):
        return ident.encode() + b":" + request

    def count(request, context):
        for n in range(int(request.decode())):
            yield f"{ident}:{n}".encode()

    handlers = {
        "Say": grpc.unary_unary_rpc_method_handler(say),
        "Count": grpc.unary_stream_rpc_method_handler(count),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("echo.Echo", handlers),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("serving", flush=True)
    server.wait_for_termination()


def grpc_call(target, authority, method, arg):
    import grpc

    options = [("grpc.default_authority", authority)]
    with grpc.insecure_channel(target, options=options) as channel:
        try:
            if method == "Say":
                call = channel.unary_unary("/echo.Echo/Say")
                print(call(arg.encode(), timeout=10).decode())
            else:
                call = channel.unary_stream("/echo.Echo/Count")
                for answer in call(arg.encode(), timeout=10):
                    print(answer.decode(), flush=True)
        except grpc.RpcError as e:
            print(f"{e.code().name}: {e.details()}", file=sys.stderr)
            sys.exit(1)


def sse_serve(port, count, gap_ms):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(count):
                event = f"data: {time.time_ns()}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
                time.sleep(gap_ms / 1000)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def log_message(self, *args):
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", port), Handler)
    print("serving", flush=True)
    server.serve_forever()


def sse_read(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        for line in answer:
            if line.startswith(b"data: "):
                sent = int(line[6:].strip())
                print((time.time_ns() - sent) // 1000, flush=True)


def ws_serve(port, ident):
    import asyncio
    import websockets

    async def echo(socket, path=None):
        async for message in socket:
            await socket.send(f"{ident}:{message}")

    async def main():
        async with websockets.serve(echo, "127.0.0.1", port, ping_interval=None):
            print("serving", flush=True)
            await asyncio.Future()

    asyncio.run(main())


def ws_chat(url, idle_s):
    import asyncio
    import websockets

    async def main():
        # No pings: the connection must stay open while nothing at all crosses it.
        async with websockets.connect(url, ping_interval=None, open_timeout=10) as socket:
            await socket.send("hello")
            print(await asyncio.wait_for(socket.recv(), 10), flush=True)
            await asyncio.sleep(idle_s)
            await socket.send("again")
            print(await asyncio.wait_for(socket.recv(), 10), flush=True)

    asyncio.run(main())


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "grpc-serve":
        grpc_serve(int(args[0]), args[1])
    elif command == "grpc-call":
        grpc_call(*args)
    elif command == "sse-serve":
        sse_serve(int(args[0]), int(args[1]), int(args[2]))
    elif command == "sse-read":
        sse_read(args[0])
    elif command == "ws-serve":
        ws_serve(int(args[0]), args[1])
    elif command == "ws-chat":
        ws_chat(args[0], float(args[1]))
    else:
        sys.exit(f"unknown command {command}")
