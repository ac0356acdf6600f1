"""Digests against a local SMTP server and a local chat-bot receiver that the test starts."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from config import Settings
from outreach.digest import build_digests, send_digests
from tests.conftest import run_daily
from tests.serving.conftest import DAY


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = _port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


@pytest.fixture
def bot() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errcode": 0}')

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/webhook/send?key=test", received
    server.shutdown()


def test_digests_go_out_by_email_and_chat(
    engine: Engine, served_home: Path, smtp: tuple[int, Inbox], bot: tuple[str, list[Any]]
) -> None:
    run_daily(engine)
    digests = build_digests(engine, DAY)
    assert digests and all(d.tasks <= 15 for d in digests)
    port, inbox = smtp
    url, received = bot
    settings = Settings(
        home=served_home,
        smtp_host="127.0.0.1",
        smtp_port=port,
        digest_email_domain="corp.example",
        digest_emails={digests[0].owner: "lead.recruiter@corp.example"},
        chat_webhook_url=url,
    )
    report = send_digests(engine, settings, DAY)
    assert (report.emails, report.chats, report.failures) == (len(digests), len(digests), [])
    first = next(m for m in inbox.messages if m["To"] == "lead.recruiter@corp.example")
    assert first["Subject"].startswith(f"keepwarm {DAY} {digests[0].owner}：")
    assert "今日待办" in first.get_content()
    others = {m["To"] for m in inbox.messages} - {"lead.recruiter@corp.example"}
    assert others == {f"{d.owner}@corp.example" for d in digests[1:]}
    assert received[0]["msgtype"] == "markdown" and "今日待办" in received[0]["markdown"]["content"]

    feishu = Settings(home=served_home, chat_webhook_url=url, chat_flavor="feishu")
    received.clear()
    send_digests(engine, feishu, DAY)
    assert received[0]["msg_type"] == "text" and "今日待办" in received[0]["content"]["text"]


def test_digests_are_off_unless_configured(engine: Engine, served_home: Path) -> None:
    report = send_digests(engine, Settings(home=served_home), DAY)
    assert (report.emails, report.chats) == (0, 0)


def test_a_receiver_that_fails_is_reported_not_raised(engine: Engine, served_home: Path) -> None:
    run_daily(engine)
    dead = Settings(home=served_home, chat_webhook_url=f"http://127.0.0.1:{_port()}/hook")
    report = send_digests(engine, dead, DAY)
    assert (
        report.chats == 0 and report.failures and all(f.endswith(": chat") for f in report.failures)
    )
