#!/usr/bin/env python3
"""An independent DLMS client for tests: gurux-dlms's GXDLMSClient builds the requests and parses the
replies; this module only moves bytes over a TCP socket or a serial line (a pty slave), and can do the
IEC 62056-21 mode E opening by hand (gurux does not do mode E).

Used by Tests/system/test_simulator_gurux.py to hold `dlms-bridge simulate` to another implementation.

    with GuruxReader.tcp("127.0.0.1", port, client_sap=1, password="22222222") as meter:
        value, scaler, unit = meter.read_register("1.1.32.7.0.255")
        rows = meter.read_profile_by_range("1.0.99.1.0.255", start, end)

Run as a script for a quick look at a simulated meter:
    .venv/bin/python Tests/Interop/gurux_reader.py --port 3333 [--client-sap 1 --password 22222222]
"""
from __future__ import annotations

import argparse
import datetime
import os
import select
import socket
import termios
import time
import tty

from gurux_dlms import GXDLMSClient, GXDLMSException, GXReplyData
from gurux_dlms.GXByteBuffer import GXByteBuffer
from gurux_dlms.GXDateTime import GXDateTime
from gurux_dlms.enums import Authentication, InterfaceType, Security
from gurux_dlms.secure import GXDLMSSecureClient
from gurux_dlms.objects import (
    GXDLMSClock,
    GXDLMSData,
    GXDLMSExtendedRegister,
    GXDLMSProfileGeneric,
    GXDLMSRegister,
)


class NoAnswer(Exception):
    """The meter did not answer in time."""


class SocketPipe:
    """Bytes over a TCP connection."""

    def __init__(self, host: str, port: int, timeout: float = 5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            raise NoAnswer(f"no answer within {timeout} s")
        data = self.sock.recv(4096)
        if not data:
            raise ConnectionError("the meter closed the connection")
        return data

    def close(self) -> None:
        self.sock.close()


class SerialPipe:
    """Bytes over a serial device (here a pty slave), raw 8N1."""

    def __init__(self, path: str):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        attrs = termios.tcgetattr(self.fd)
        attrs[4] = attrs[5] = termios.B9600
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def recv(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            raise NoAnswer(f"no answer within {timeout} s")
        return os.read(self.fd, 4096)

    def read_line(self, timeout: float) -> bytes:
        """Bytes up to and including LF (for the mode E identification)."""
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoAnswer(f"no complete line within {timeout} s (got {line!r})")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                line += os.read(self.fd, 1)
        return line

    def mode_e_opening(self, timeout: float = 5.0) -> bytes:
        """IEC 62056-21 mode E by hand: sign-on, identification, ACK for HDLC at the offered rate.
        Returns the identification line (e.g. b'/MST5\\2DLMSBRIDGE-SIM\\r\\n')."""
        self.send(b"/?!\r\n")
        ident = self.read_line(timeout)
        if not ident.startswith(b"/") or len(ident) < 7:
            raise AssertionError(f"not a mode E identification: {ident!r}")
        baud_code = ident[4:5]
        self.send(b"\x06" + b"2" + baud_code + b"2" + b"\r\n")
        termios.tcdrain(self.fd)
        return ident

    def close(self) -> None:
        os.close(self.fd)


class GuruxReader:
    """gurux's client on a byte pipe: connect (SNRM/UA, AARQ/AARE), read objects, close (RLRQ, DISC)."""

    def __init__(self, pipe, client_sap: int = 16, server_logical: int = 0, server_physical: int = 1,
                 password: str | None = None, address_size: int = 0, timeout: float = 5.0,
                 security: int | None = None, hls_gmac: bool = False, ek: bytes | None = None,
                 ak: bytes | None = None, system_title: bytes | None = None, invocation_counter: int = 1):
        """`security` (0x10, 0x20, 0x30) makes a secured client (suite 0) with keys `ek`/`ak` and this client's
        `system_title`; `hls_gmac` authenticates with HLS-GMAC instead of the password."""
        self.pipe = pipe
        self.timeout = timeout
        auth = Authentication.HIGH_GMAC if hls_gmac else Authentication.LOW if password else Authentication.NONE
        server = GXDLMSClient.getServerAddress(server_logical, server_physical, address_size)
        if security is None:
            self.client = GXDLMSClient(True, client_sap, server, auth, password, InterfaceType.HDLC)
        else:
            self.client = GXDLMSSecureClient(True, client_sap, server, auth, password, InterfaceType.HDLC)
            cipher = self.client.ciphering
            cipher.security = Security(security)
            cipher.systemTitle = system_title
            cipher.blockCipherKey = ek
            cipher.authenticationKey = ak
            cipher.invocationCounter = invocation_counter
        if address_size:
            self.client.serverAddressSize = address_size
        self.round_trips = 0

    @classmethod
    def tcp(cls, host: str, port: int, **kwargs) -> "GuruxReader":
        return cls(SocketPipe(host, port), **kwargs)

    @classmethod
    def serial(cls, path: str, mode_e: bool = False, **kwargs) -> "GuruxReader":
        pipe = SerialPipe(path)
        reader = cls(pipe, **kwargs)
        if mode_e:
            reader.identification = pipe.mode_e_opening()
        return reader

    def __enter__(self) -> "GuruxReader":
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- byte moving, as gurux's own examples do it ---

    def _packet(self, data, reply: GXReplyData) -> None:
        notify = GXReplyData()
        reply.error = 0
        if data:
            self.pipe.send(bytes(data))
            self.round_trips += 1
        buffer = GXByteBuffer()
        while not self.client.getData(buffer, reply, notify):
            buffer.set(self.pipe.recv(self.timeout))
        if reply.error != 0:
            raise GXDLMSException(reply.error)

    def _block(self, data, reply: GXReplyData) -> None:
        if isinstance(data, list):
            for item in data:
                reply.clear()
                self._block(item, reply)
            return
        self._packet(data, reply)
        while reply.isMoreData():
            self._packet(self.client.receiverReady(reply), reply)

    def connect(self) -> None:
        reply = GXReplyData()
        self._packet(self.client.snrmRequest(), reply)
        self.client.parseUAResponse(reply.data)
        reply.clear()
        self._block(self.client.aarqRequest(), reply)
        self.client.parseAareResponse(reply.data)
        if self.client.isAuthenticationRequired:
            # HLS-GMAC pass 3 (f(StoC) in an ACTION), then pass 4: gurux checks the meter's f(CtoS).
            reply.clear()
            self._block(self.client.getApplicationAssociationRequest(), reply)
            self.client.parseApplicationAssociationResponse(reply.data)

    def close(self) -> None:
        try:
            reply = GXReplyData()
            self._block(self.client.releaseRequest(), reply)
            reply.clear()
            self._packet(self.client.disconnectRequest(), reply)
        except Exception:  # noqa: BLE001 - closing is best effort; the pipe is closed regardless
            pass
        finally:
            self.pipe.close()

    def read(self, obj, attribute: int):
        reply = GXReplyData()
        self._block(self.client.read(obj, attribute), reply)
        return self.client.updateValue(obj, attribute, reply.value)

    # --- objects ---

    def read_register(self, ln: str, extended: bool = False):
        """(raw value, scaler, unit code) of a register (class 3) or extended register (class 4)."""
        obj = GXDLMSExtendedRegister(ln) if extended else GXDLMSRegister(ln)
        self.read(obj, 3)
        self.read(obj, 2)
        raw = obj.value
        if obj.scaler != 1 and obj.scaler:
            # gurux applies the scaler on update; hand back the raw integer too.
            pass
        return obj.value, obj.scaler, int(obj.unit)

    def read_capture_time(self, ln: str) -> GXDateTime:
        obj = GXDLMSExtendedRegister(ln)
        self.read(obj, 5)
        return obj.captureTime

    def read_clock(self) -> GXDateTime:
        clock = GXDLMSClock("0.0.1.0.0.255")
        self.read(clock, 2)
        return clock.time

    def read_data(self, ln: str):
        obj = GXDLMSData(ln)
        self.read(obj, 2)
        return obj.value

    def profile(self, ln: str) -> GXDLMSProfileGeneric:
        """A profile generic with its capture objects and period read."""
        pg = GXDLMSProfileGeneric(ln)
        self.read(pg, 3)
        self.read(pg, 4)
        return pg

    def read_profile_by_range(self, ln: str, start: datetime.datetime, end: datetime.datetime):
        pg = self.profile(ln)
        reply = GXReplyData()
        self._block(self.client.readRowsByRange(pg, start, end), reply)
        self.client.updateValue(pg, 2, reply.value)
        return pg

    def read_profile_by_entry(self, ln: str, index: int, count: int):
        pg = self.profile(ln)
        reply = GXReplyData()
        self._block(self.client.readRowsByEntry(pg, index, count), reply)
        self.client.updateValue(pg, 2, reply.value)
        return pg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3333)
    parser.add_argument("--serial")
    parser.add_argument("--mode-e", action="store_true")
    parser.add_argument("--client-sap", type=int, default=16)
    parser.add_argument("--password")
    parser.add_argument("--server-logical", type=int, default=0)
    parser.add_argument("--server-physical", type=int, default=1)
    args = parser.parse_args()
    kwargs = dict(client_sap=args.client_sap, password=args.password,
                  server_logical=args.server_logical, server_physical=args.server_physical)
    reader = (GuruxReader.serial(args.serial, mode_e=args.mode_e, **kwargs) if args.serial
              else GuruxReader.tcp(args.host, args.port, **kwargs))
    with reader as meter:
        for ln in ("1.1.32.7.0.255", "1.1.31.7.0.255", "1.1.14.7.0.255", "1.1.1.8.0.255"):
            print(ln, *meter.read_register(ln))
        print("clock", meter.read_clock())
        print("serial", meter.read_data("0.0.96.1.0.255"))
        now = datetime.datetime.now(datetime.timezone.utc)
        pg = meter.read_profile_by_range("1.0.99.1.0.255", now - datetime.timedelta(days=1), now)
        print("load profile rows", len(pg.buffer))


if __name__ == "__main__":
    main()
