"""Run one cell through a live Jupyter Notebook server, as a browser would: start a kernel over REST, send an
execute_request on the kernel's websocket (messages built by jupyter_client's Session), collect stdout.

Usage: kernel-client.py BASE_URL TOKEN KERNEL_NAME CODE
Prints one JSON line: {"status": "ok"|"error", "stdout": "...", "stderr": "..."}; exit 0 when it got a reply.
"""
import asyncio
import json
import sys
import urllib.request

from jupyter_client.session import Session
from tornado import httpclient, websocket

TIMEOUT_S = 120


def rest(base, token, method, path, body=None):
    req = urllib.request.Request(
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read().decode()
        return json.loads(text) if text else None


async def run_cell(base, token, kernel_id, code):
    url = base.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels"
    conn = await websocket.websocket_connect(httpclient.HTTPRequest(url, headers={"Authorization": f"token {token}"}))
    msg = Session(username="midtrain-test").msg(
        "execute_request",
        {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    )
    msg["channel"] = "shell"
    await conn.write_message(json.dumps(msg, default=str))
    out = {"status": None, "stdout": "", "stderr": ""}
    idle = False
    while out["status"] is None or not idle:
        raw = await asyncio.wait_for(conn.read_message(), TIMEOUT_S)
        if raw is None:
            raise RuntimeError("the kernel websocket closed")
        m = json.loads(raw)
        if m.get("parent_header", {}).get("msg_id") != msg["header"]["msg_id"]:
            continue
        kind, content = m["msg_type"], m["content"]
        if kind == "stream":
            out[content["name"]] += content["text"]
        elif kind == "execute_reply":
            out["status"] = content["status"]
        elif kind == "status" and content["execution_state"] == "idle":
            idle = True
    conn.close()
    return out


def main():
    base, token, kernel_name, code = sys.argv[1:5]
    kernel = rest(base, token, "POST", "api/kernels", {"name": kernel_name})
    try:
        out = asyncio.run(run_cell(base, token, kernel["id"], code))
    finally:
        rest(base, token, "DELETE", f"api/kernels/{kernel['id']}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
