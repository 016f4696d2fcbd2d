"""A minimal real SMTP server (RFC 5321 subset) on loopback that keeps what it receives."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: str


@dataclass
class SmtpSink:
    messages: list[Received] = field(default_factory=list)
    refuse_recipients: bool = False
    # A whole reply line for RCPT, "{rcpt}" standing for the address (as real servers quote it).
    refuse_with: str | None = None
    server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> SmtpSink:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write((line + "\r\n").encode())
            await writer.drain()

        await reply("220 sink ready")
        sender, recipients = "", []
        try:
            while line := (await reader.readline()).decode().rstrip("\r\n"):
                verb = line.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    await reply("250 sink")
                elif verb == "MAIL":
                    sender = line.split(":", 1)[1].strip()
                    await reply("250 ok")
                elif verb == "RCPT":
                    if self.refuse_with is not None:
                        address = line.split(":", 1)[1].strip()
                        await reply(self.refuse_with.replace("{rcpt}", address))
                    elif self.refuse_recipients:
                        await reply("550 no such user")
                    else:
                        recipients.append(line.split(":", 1)[1].strip())
                        await reply("250 ok")
                elif verb == "DATA":
                    await reply("354 go on")
                    lines = []
                    while (chunk := (await reader.readline()).decode()) not in (".\r\n", ""):
                        lines.append(chunk)
                    self.messages.append(Received(sender, recipients, "".join(lines)))
                    await reply("250 queued")
                elif verb == "QUIT":
                    await reply("221 bye")
                    break
                else:
                    await reply("250 ok")
        finally:
            writer.close()
