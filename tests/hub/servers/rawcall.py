"""A hand-written stdio MCP server (no SDK) whose ``tools/call`` answers are scripted, for the
tests of the hub's lean ``tools/call`` path (tests/hub/test_fastcall.py).

    python tests/hub/servers/rawcall.py LOG

Every line it receives is appended to LOG as it arrives, so a test can see the requests and the
``notifications/cancelled`` the client sent. It speaks the handshake-era protocol
(``server/discover`` is an unknown method). The tools, by name:

``echo {text}``            a text result
``rpc_error``              a JSON-RPC error response (code -32602, with data)
``sleep {seconds}``        the echo result, ``seconds`` later (a late one, if the client gave up)
``chatty``                 a log message and tools/list_changed, then the result
``string_id``              the result under the request's id as a string ("7" for 7)
``twice``                  two answers, the second different
``malformed {kind}``       a broken response: ``result`` not an object, ``error`` not an error
                           object, or ``jsonrpc`` missing
``deaf``                   stdin closed, then the result (the next request cannot be written)
``crash``                  stderr's last words, then exit code 5 without an answer

Run by file path, not ``-m``: the hub starts servers in the workspace directory.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

TOOLS = [
    "echo",
    "rpc_error",
    "sleep",
    "chatty",
    "string_id",
    "twice",
    "malformed",
    "deaf",
    "crash",
]

_out = threading.Lock()


def send(message: dict[str, Any]) -> None:
    data = json.dumps(message).encode() + b"\n"
    with _out:
        os.write(1, data)


def result(request_id: Any, text: str) -> dict[str, Any]:
    content = [{"type": "text", "text": text}]
    return {"jsonrpc": "2.0", "id": request_id, "result": {"content": content, "isError": False}}


def call(request_id: Any, name: str, args: dict[str, Any]) -> bool:
    """Answer one tools/call; False when the server stops reading stdin."""
    if name == "echo":
        send(result(request_id, str(args.get("text", ""))))
    elif name == "rpc_error":
        error = {"code": -32602, "message": "Unknown tool: nope", "data": {"tool": "nope"}}
        send({"jsonrpc": "2.0", "id": request_id, "error": error})
    elif name == "sleep":
        seconds = float(args.get("seconds", 1))
        timer = threading.Timer(seconds, lambda: send(result(request_id, f"slept {seconds}")))
        timer.daemon = True
        timer.start()
    elif name == "chatty":
        log = {"level": "warning", "logger": "rawcall", "data": "working on it"}
        send({"jsonrpc": "2.0", "method": "notifications/message", "params": log})
        send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        send(result(request_id, "chatted"))
    elif name == "string_id":
        send(result(str(request_id), "string id"))
    elif name == "twice":
        send(result(request_id, "first"))
        send(result(request_id, "second"))
    elif name == "malformed":
        kind = args.get("kind")
        if kind == "result":
            send({"jsonrpc": "2.0", "id": request_id, "result": ["not", "an", "object"]})
        elif kind == "error":
            send({"jsonrpc": "2.0", "id": request_id, "error": "boom"})
        else:
            send({"id": request_id, "result": {"content": []}})
    elif name == "deaf":
        os.close(0)  # before answering, so the client's next request finds no reader
        send(result(request_id, "not listening any more"))
        return False
    elif name == "crash":
        os.write(2, b"rawcall: crashing on purpose\n")
        os._exit(5)
    else:
        send(result(request_id, f"no such tool {name}"))
    return True


def handle(message: dict[str, Any]) -> bool:
    method = message.get("method")
    request_id = message.get("id")
    params = message.get("params") or {}
    if request_id is None:
        return True  # a notification: logged, nothing to answer
    if method == "initialize":
        send(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "result": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {"tools": {"listChanged": True}, "logging": {}},
                    "serverInfo": {"name": "rawcall", "version": "1"},
                },
            }
        )
    elif method == "tools/list":
        schema = {"type": "object", "additionalProperties": True}
        tools = [{"name": name, "inputSchema": schema} for name in TOOLS]
        send({"jsonrpc": "2.0", "id": request_id, "result": {"tools": tools}})
    elif method == "tools/call":
        return call(request_id, params.get("name", ""), params.get("arguments") or {})
    elif method == "ping":
        send({"jsonrpc": "2.0", "id": request_id, "result": {}})
    else:
        error = {"code": -32601, "message": "Method not found"}
        send({"jsonrpc": "2.0", "id": request_id, "error": error})
    return True


def main() -> None:
    log = open(sys.argv[1], "ab", buffering=0)  # noqa: SIM115 - open for the process's life
    for line in sys.stdin.buffer:
        log.write(line)
        if not handle(json.loads(line)):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
