#!/usr/bin/env python3
"""Fake ESPHome Bluetooth proxy speaking the ESPHome native API on loopback.

Purpose: let a client (for bluefleet: the Rust ESPHome adapter) be tested on a
machine with no Bluetooth radio and no ESP32.  The message classes come from
aioesphomeapi's generated protobuf module (``aioesphomeapi.api_pb2``); the
framing, connection flow and proxy behaviour are written here from the
protocol description in the project's ESPHome research notes.

What it serves
  * plaintext framing (0x00, varint length, varint type) and, with a PSK,
    the Noise_NNpsk0_25519_ChaChaPoly_SHA256 variant (0x01 + u16 length)
  * Hello / (legacy) Authentication / Disconnect / Ping / DeviceInfo /
    DeviceCapabilities / ListEntities (no entities) / SubscribeStates
  * raw advertisement batches for the scenario's fake peripherals,
    scanner state and scanner mode changes
  * connection slots (free / limit / allocated) with the firmware's
    accounting, connect (v3 with / without cache), disconnect, pair,
    unpair, clear cache, connection params
  * GATT services (batched, short UUIDs for clients >= 1.12), read, write,
    descriptor read / write, notify registration and notify data that
    only flows once the CCCD has been written (like a real peripheral
    behind a v3 proxy connection)
  * fault injection: out-of-slot error code, per-device connect errors,
    never-answered connects, link drops, GATT errors per handle, unknown
    devices answered with ESP_GATT_CONN_CONN_CANCEL, abrupt API close

Run ``python fake_proxy.py --help``.  On start it prints one line
``LISTENING <port>`` on stdout (use ``--port 0`` for an ephemeral port).
With ``--control stdin`` it reads commands from stdin, one per line:
``drop <MAC> [reason]``, ``close``, ``slots <n>``, ``count <Message>``,
``raw <hex>``, ``quit``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import random
import struct
import sys
from dataclasses import dataclass, field
from typing import Any

from aioesphomeapi import api_options_pb2, api_pb2
from google.protobuf.descriptor import FieldDescriptor as FD

LOG = logging.getLogger("fake_proxy")

# ---------------------------------------------------------------- constants

# BluetoothProxyFeature bits (DeviceInfoResponse.bluetooth_proxy_feature_flags)
FEATURE_PASSIVE_SCAN = 1 << 0
FEATURE_ACTIVE_CONNECTIONS = 1 << 1
FEATURE_REMOTE_CACHING = 1 << 2
FEATURE_PAIRING = 1 << 3
FEATURE_CACHE_CLEARING = 1 << 4
FEATURE_RAW_ADVERTISEMENTS = 1 << 5
FEATURE_STATE_AND_MODE = 1 << 6
FEATURE_CONNECTION_PARAMS = 1 << 7
ALL_FEATURES = (1 << 8) - 1

SUBSCRIPTION_RAW_ADVERTISEMENTS = 1 << 0

# BluetoothDeviceRequestType
REQ_CONNECT_V1 = 0
REQ_DISCONNECT = 1
REQ_PAIR = 2
REQ_UNPAIR = 3
REQ_CONNECT_V3_WITH_CACHE = 4
REQ_CONNECT_V3_WITHOUT_CACHE = 5
REQ_CLEAR_CACHE = 6

# error values that the firmware puts in `error` fields
ESP_GATT_NOT_CONNECTED = -1  # ESPHome's own value
ESP_GATT_INVALID_HANDLE = 0x01
ESP_GATT_READ_NOT_PERMIT = 0x02
ESP_GATT_WRITE_NOT_PERMIT = 0x03
ESP_GATT_REQ_NOT_SUPPORTED = 0x06
ESP_GATT_CONN_TIMEOUT = 0x08
ESP_GATT_CONN_TERMINATE_LOCAL_HOST = 0x16
ESP_GATT_CONN_CONN_CANCEL = 0x0100

# characteristic property bits
PROP_READ = 0x02
PROP_WRITE_NR = 0x04
PROP_WRITE = 0x08
PROP_NOTIFY = 0x10
PROP_INDICATE = 0x20

CCCD_UUID16 = 0x2902
NOISE_PROTOCOL = b"Noise_NNpsk0_25519_ChaChaPoly_SHA256"
NOISE_PROLOGUE_PREFIX = b"NoiseAPIInit"
MAX_SERVICES_PACKET = 1360  # the firmware's batching budget for services
MAX_FRAME = 65535


def _message_ids() -> tuple[dict[int, type], dict[type, int]]:
    """Map message id <-> class using the (id) option of api_options.proto."""
    by_id: dict[int, type] = {}
    for name, desc in api_pb2.DESCRIPTOR.message_types_by_name.items():
        opts = desc.GetOptions()
        if opts.HasExtension(api_options_pb2.id):
            by_id[opts.Extensions[api_options_pb2.id]] = getattr(api_pb2, name)
    return by_id, {cls: mid for mid, cls in by_id.items()}


MESSAGE_BY_ID, ID_BY_MESSAGE = _message_ids()

# ---------------------------------------------------------------- helpers


def mac_to_int(mac: str) -> int:
    return int(mac.replace(":", ""), 16)


def int_to_mac(value: int) -> str:
    raw = f"{value:012X}"
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2))


def uuid_parts(uuid: str) -> tuple[int, int, int]:
    """Return (high64, low64, short) for a UUID string or 16/32-bit hex."""
    text = uuid.lower().replace("-", "")
    if len(text) <= 8:
        short = int(text, 16)
        full = f"{short:08x}00001000800000805f9b34fb"
    else:
        full = text
        short = 0
        if full.endswith("00001000800000805f9b34fb"):
            short = int(full[:8], 16)
    value = int(full, 16)
    return value >> 64, value & ((1 << 64) - 1), short


def fill_uuid(msg: Any, uuid: str, short_ok: bool) -> None:
    """Encode like the firmware: short_uuid for >=1.12 clients unless 128-bit."""
    high, low, short = uuid_parts(uuid)
    if short_ok and short:
        msg.short_uuid = short
    else:
        msg.uuid.extend([high, low])


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


_VARINT_TYPES = {FD.TYPE_UINT32, FD.TYPE_UINT64, FD.TYPE_INT32, FD.TYPE_INT64, FD.TYPE_BOOL, FD.TYPE_ENUM}


def _is_repeated(fd: Any) -> bool:
    flag = getattr(fd, "is_repeated", None)
    return flag if flag is not None else fd.label == FD.LABEL_REPEATED


def encode_like_firmware(msg: Any) -> bytes:
    """Serialize as ESPHome's generated encoder does: repeated scalars are
    written one tag per element (never packed), zero scalars are omitted.
    Standard protobuf decoders accept both forms; a hand-written one must too."""
    out = bytearray()
    for fd, value in msg.ListFields():
        for item in value if _is_repeated(fd) else [value]:
            if fd.type == FD.TYPE_MESSAGE:
                body = encode_like_firmware(item)
                out += encode_varint(fd.number << 3 | 2) + encode_varint(len(body)) + body
            elif fd.type in (FD.TYPE_STRING, FD.TYPE_BYTES):
                body = item.encode() if isinstance(item, str) else bytes(item)
                out += encode_varint(fd.number << 3 | 2) + encode_varint(len(body)) + body
            elif fd.type in (FD.TYPE_SINT32, FD.TYPE_SINT64):
                zigzag = (item << 1) ^ (item >> 63)
                out += encode_varint(fd.number << 3) + encode_varint(zigzag & ((1 << 64) - 1))
            elif fd.type in _VARINT_TYPES:
                out += encode_varint(fd.number << 3) + encode_varint(int(item) & ((1 << 64) - 1))
            elif fd.type == FD.TYPE_FLOAT:
                out += encode_varint(fd.number << 3 | 5) + struct.pack("<f", item)
            elif fd.type == FD.TYPE_FIXED32:
                out += encode_varint(fd.number << 3 | 5) + struct.pack("<I", item)
            else:
                raise ValueError(f"field type {fd.type} not supported by the fake's encoder")
    return bytes(out)


async def read_varint(reader: asyncio.StreamReader) -> int:
    result = 0
    for shift in range(0, 28, 7):
        byte = (await reader.readexactly(1))[0]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result
    raise ProtocolError("varint longer than 4 bytes")


class ProtocolError(Exception):
    """The peer sent something the native API does not allow."""


# ---------------------------------------------------------------- scenario


@dataclass
class Attr:
    handle: int
    uuid: str
    properties: int = 0
    value: bytes = b""
    descriptors: list[Attr] = field(default_factory=list)


@dataclass
class Service:
    handle: int
    uuid: str
    characteristics: list[Attr]


def default_services(name: str) -> list[Service]:
    """A small GATT table: notify, indicate, read-only and write chars."""
    return [
        Service(0x0001, "1800", [Attr(0x0003, "2a00", PROP_READ, name.encode())]),
        Service(
            0x0010,
            "180f",
            [
                Attr(
                    0x0012,
                    "2a19",
                    PROP_READ | PROP_NOTIFY,
                    bytes([100]),
                    [Attr(0x0013, "2902", value=b"\x00\x00")],
                )
            ],
        ),
        Service(
            0x0020,
            "6e400001-b5a3-f393-e0a9-e50e24dcca9e",
            [
                Attr(
                    0x0022,
                    "6e400003-b5a3-f393-e0a9-e50e24dcca9e",
                    PROP_NOTIFY,
                    b"",
                    [Attr(0x0023, "2902", value=b"\x00\x00")],
                ),
                Attr(
                    0x0025,
                    "6e400002-b5a3-f393-e0a9-e50e24dcca9e",
                    PROP_WRITE | PROP_WRITE_NR,
                ),
            ],
        ),
        Service(
            0x0030,
            "181a",
            [
                Attr(
                    0x0032,
                    "2a6e",
                    PROP_READ | PROP_INDICATE,
                    (2150).to_bytes(2, "little", signed=True),
                    [Attr(0x0033, "2902", value=b"\x00\x00")],
                )
            ],
        ),
    ]


@dataclass
class FakeDevice:
    address: int
    address_type: int = 0
    name: str = "fake"
    rssi: int = -60
    connectable: bool = True
    advertise: bool = True
    manufacturer_id: int = 0xFFFF
    manufacturer_data: bytes = b"\x01\x02"
    connect_error: int = 0  # non-zero: connect fails with this code
    never_answer: bool = False  # connect request is never answered
    drop_after_s: float | None = None  # link loss after this long
    drop_reason: int = ESP_GATT_CONN_TIMEOUT
    gatt_errors: dict[int, int] = field(default_factory=dict)  # handle -> code
    services: list[Service] = field(default_factory=list)

    def attr(self, handle: int) -> tuple[Attr | None, Attr | None]:
        """Return (characteristic, descriptor) owning the handle."""
        for service in self.services:
            for char in service.characteristics:
                if char.handle == handle:
                    return char, None
                for desc in char.descriptors:
                    if desc.handle == handle:
                        return char, desc
        return None, None

    def adv_payload(self) -> bytes:
        name = self.name.encode()[:20]
        mfr = self.manufacturer_id.to_bytes(2, "little") + self.manufacturer_data
        data = bytes([2, 0x01, 0x06 if self.connectable else 0x04])
        data += bytes([len(name) + 1, 0x09]) + name
        data += bytes([len(mfr) + 1, 0xFF]) + mfr
        return data[:62]


@dataclass
class Scenario:
    name: str = "fake-proxy"
    friendly_name: str = "Fake Bluetooth Proxy"
    mac_address: str = "AC:BC:32:89:0E:A9"
    bluetooth_mac_address: str = "AC:BC:32:89:0E:AB"
    esphome_version: str = "2026.1.0"
    api_version: tuple[int, int] = (1, 14)
    feature_flags: int = ALL_FEATURES
    slots: int = 3
    mtu: int = 247
    adv_interval_s: float = 0.5
    notify_interval_s: float = 0.5
    connect_delay_s: float = 0.05
    unknown_device_delay_s: float = 0.2
    unknown_device_error: int = ESP_GATT_CONN_CONN_CANCEL
    full_error: int = 0  # firmware sends error=0 when out of slots
    require_adv_subscription: bool = True  # firmware: no subscriber, no replies
    packed_repeated: bool = False  # firmware never packs repeated scalars
    active_scan: bool = False
    password: str | None = None
    noise_psk: str | None = None
    close_after_s: float | None = None  # abruptly drop every API connection
    server_ping_s: float | None = None  # firmware uses 60 s; None: never ping
    seed: int = 1
    devices: list[FakeDevice] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scenario:
        devices = []
        for raw in data.pop("devices", None) or []:
            raw = dict(raw)
            raw["address"] = mac_to_int(raw["address"])
            if "manufacturer_data" in raw:
                raw["manufacturer_data"] = bytes.fromhex(raw["manufacturer_data"])
            raw["gatt_errors"] = {
                int(k, 0): int(v) for k, v in raw.get("gatt_errors", {}).items()
            }
            raw.pop("services", None)  # custom GATT tables: not needed yet
            dev = FakeDevice(**raw)
            dev.services = default_services(dev.name)
            devices.append(dev)
        if "api_version" in data:
            data["api_version"] = tuple(data["api_version"])
        scenario = cls(**data)
        scenario.devices = devices or default_devices()
        return scenario


def default_devices() -> list[FakeDevice]:
    devices = [
        FakeDevice(mac_to_int(f"A4:C1:38:00:00:0{i}"), 0, f"fake-sensor-{i}", -55 - 5 * i)
        for i in range(1, 5)
    ]
    devices.append(
        FakeDevice(
            mac_to_int("A4:C1:38:00:00:0F"),
            1,
            "fake-beacon",
            -80,
            connectable=False,
            manufacturer_id=0x004C,
            manufacturer_data=bytes.fromhex("0215") + bytes(16) + bytes(4) + b"\xc5",
        )
    )
    for dev in devices:
        dev.services = default_services(dev.name)
    return devices


# ---------------------------------------------------------------- framing


class PlainCodec:
    """0x00 | varint(len) | varint(type) | payload."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    async def handshake(self, proxy: FakeProxy) -> None:
        return None

    async def read(self) -> tuple[int, bytes]:
        indicator = (await self.reader.readexactly(1))[0]
        if indicator != 0x00:
            # The firmware answers an encrypted client with "\x00Bad indicator byte".
            self.writer.write(b"\x00Bad indicator byte")
            await self.writer.drain()
            raise ProtocolError(f"bad indicator byte {indicator:#x}")
        length = await read_varint(self.reader)
        if length > MAX_FRAME:
            raise ProtocolError(f"frame length {length} too large")
        msg_type = await read_varint(self.reader)
        return msg_type, await self.reader.readexactly(length)

    def encode(self, msg_type: int, payload: bytes) -> bytes:
        return b"\x00" + encode_varint(len(payload)) + encode_varint(msg_type) + payload


class NoiseCodec:
    """0x01 | u16 BE length | frame; handshake as in the firmware's responder."""

    def __init__(self, reader, writer, psk: bytes):
        self.reader, self.writer, self.psk = reader, writer, psk
        self.proto = None

    async def _read_frame(self) -> bytes:
        header = await self.reader.readexactly(3)
        if header[0] != 0x01:
            self._write_frame(b"\x01Bad indicator byte")
            await self.writer.drain()
            raise ProtocolError(f"bad indicator byte {header[0]:#x}")
        return await self.reader.readexactly((header[1] << 8) | header[2])

    def _write_frame(self, body: bytes) -> None:
        self.writer.write(bytes((0x01, len(body) >> 8, len(body) & 0xFF)) + body)

    async def handshake(self, proxy: FakeProxy) -> None:
        from noise.connection import NoiseConnection  # dependency of aioesphomeapi

        client_hello = await self._read_frame()
        prologue = (
            NOISE_PROLOGUE_PREFIX
            + len(client_hello).to_bytes(2, "big")
            + client_hello
        )
        scenario = proxy.scenario
        # server hello: chosen protocol 0x01, node name \0, MAC \0
        self._write_frame(
            b"\x01"
            + scenario.name.encode()
            + b"\x00"
            + scenario.mac_address.replace(":", "").lower().encode()
            + b"\x00"
        )
        proto = NoiseConnection.from_name(NOISE_PROTOCOL)
        proto.set_as_responder()
        proto.set_psks(self.psk)
        proto.set_prologue(prologue)
        proto.start_handshake()
        frame = await self._read_frame()
        if not frame or frame[0] != 0x00:
            self._write_frame(b"\x01Bad handshake error byte")
            await self.writer.drain()
            raise ProtocolError("bad handshake error byte")
        try:
            proto.read_message(frame[1:])
        except Exception as err:  # wrong PSK surfaces as an AEAD tag failure
            self._write_frame(b"\x01Handshake MAC failure")
            await self.writer.drain()
            raise ProtocolError(f"noise handshake failed: {err!r}") from err
        self._write_frame(b"\x00" + proto.write_message())
        await self.writer.drain()
        self.proto = proto

    async def read(self) -> tuple[int, bytes]:
        plain = self.proto.decrypt(await self._read_frame())
        if len(plain) < 4:
            raise ProtocolError("decrypted frame shorter than 4 bytes")
        msg_type = (plain[0] << 8) | plain[1]
        length = (plain[2] << 8) | plain[3]
        if length > len(plain) - 4:
            raise ProtocolError("data length beyond decrypted frame")
        return msg_type, plain[4 : 4 + length]

    def encode(self, msg_type: int, payload: bytes) -> bytes:
        inner = msg_type.to_bytes(2, "big") + len(payload).to_bytes(2, "big") + payload
        body = self.proto.encrypt(inner)
        return bytes((0x01, len(body) >> 8, len(body) & 0xFF)) + body


# ---------------------------------------------------------------- proxy state


@dataclass
class Slot:
    """One BLE connection slot (the firmware's BluetoothConnection)."""

    address: int
    state: str = "connecting"  # connecting | connected
    with_cache: bool = False
    services_sent: bool = False
    mtu: int = 0
    registered: set[int] = field(default_factory=set)  # notify-registered handles
    tasks: list[asyncio.Task] = field(default_factory=list)
    counter: int = 0


class ApiSession:
    """One TCP client of the native API."""

    def __init__(self, proxy: FakeProxy, reader, writer):
        self.proxy, self.reader, self.writer = proxy, reader, writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.codec: PlainCodec | NoiseCodec = (
            NoiseCodec(reader, writer, base64.b64decode(proxy.scenario.noise_psk))
            if proxy.scenario.noise_psk
            else PlainCodec(reader, writer)
        )
        self.hello_done = False
        self.client_api = (0, 0)
        self.raw_adverts = False
        self.closed = False
        self.last_rx = 0.0

    def send(self, *messages: Any) -> None:
        if self.closed:
            return
        serialize = (
            (lambda m: m.SerializeToString())
            if self.proxy.scenario.packed_repeated
            else encode_like_firmware
        )
        out = b"".join(
            self.codec.encode(ID_BY_MESSAGE[type(m)], serialize(m)) for m in messages
        )
        self.writer.write(out)

    async def _keepalive(self, interval: float) -> None:
        """Firmware keepalive: ping after `interval` idle, drop after 2.5x."""
        loop = asyncio.get_running_loop()
        while not self.closed:
            await asyncio.sleep(interval / 4)
            idle = loop.time() - self.last_rx
            if idle > interval * 2.5:
                LOG.warning("%s: no traffic for %.1fs, disconnecting", self.peer, idle)
                self.closed = True
                self.writer.close()
                return
            if idle > interval:
                self.send(api_pb2.PingRequest())

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.last_rx = loop.time()
        pinger = None
        try:
            await self.codec.handshake(self.proxy)
            if self.proxy.scenario.server_ping_s:
                pinger = asyncio.create_task(self._keepalive(self.proxy.scenario.server_ping_s))
            while True:
                msg_type, payload = await self.codec.read()
                self.last_rx = loop.time()
                cls = MESSAGE_BY_ID.get(msg_type)
                if cls is None:
                    LOG.warning("%s: unknown message type %d ignored", self.peer, msg_type)
                    continue
                msg = cls()
                msg.ParseFromString(payload)
                if not await self.proxy.dispatch(self, msg):
                    break
                await self.writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            LOG.info("%s: connection closed by peer", self.peer)
        except ProtocolError as err:
            LOG.warning("%s: protocol error: %s", self.peer, err)
        finally:
            if pinger is not None:
                pinger.cancel()
            self.closed = True
            self.proxy.session_closed(self)
            self.writer.close()


class FakeProxy:
    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.devices = {d.address: d for d in scenario.devices}
        self.slots: list[Slot | None] = [None] * scenario.slots
        self.sessions: set[ApiSession] = set()
        self.owner: ApiSession | None = None  # the advertisement subscriber
        self.active_scan = scenario.active_scan
        self.rng = random.Random(scenario.seed)
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self._background: set[asyncio.Task] = set()
        # received messages by class name (and "BluetoothDeviceRequest/<type>"), for `count`
        self.received: dict[str, int] = {}

    # ------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.server = await asyncio.start_server(self._accept, host, port)
        self.port = self.server.sockets[0].getsockname()[1]
        self._spawn(self._advertise_loop())
        if self.scenario.close_after_s:
            self._spawn(self._close_later(self.scenario.close_after_s))
        return self.port

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        self.close_all_sessions()
        if self.server:
            self.server.close()
            await self.server.wait_closed()

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _accept(self, reader, writer) -> None:
        session = ApiSession(self, reader, writer)
        self.sessions.add(session)
        LOG.info("%s: API client connected", session.peer)
        try:
            await session.run()
        except asyncio.CancelledError:
            pass  # shutdown: end the handler quietly

    async def _close_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        LOG.info("fault: closing every API connection")
        self.close_all_sessions()

    def close_all_sessions(self) -> None:
        for session in list(self.sessions):
            session.closed = True
            session.writer.close()

    def session_closed(self, session: ApiSession) -> None:
        self.sessions.discard(session)
        if self.owner is session:
            # firmware: with no API subscriber every BLE link is torn down
            self.owner = None
            for slot in list(self.slots):
                if slot is not None:
                    self._release(slot, None, notify=False)

    # ------------------------------------------------------------ dispatch

    async def dispatch(self, s: ApiSession, msg: Any) -> bool:  # noqa: C901
        sc = self.scenario
        name = type(msg).__name__
        self.received[name] = self.received.get(name, 0) + 1
        if name == "BluetoothDeviceRequest":
            key = f"{name}/{msg.request_type}"
            self.received[key] = self.received.get(key, 0) + 1
        if not s.hello_done and name not in ("HelloRequest", "PingRequest", "DisconnectRequest"):
            raise ProtocolError(f"{name} before HelloRequest")
        if name == "HelloRequest":
            s.hello_done = True
            s.client_api = (msg.api_version_major, msg.api_version_minor)
            LOG.info("%s: hello from %r api %d.%d", s.peer, msg.client_info, *s.client_api)
            s.send(
                api_pb2.HelloResponse(
                    api_version_major=sc.api_version[0],
                    api_version_minor=sc.api_version[1],
                    server_info=f"fake_proxy (ESPHome {sc.esphome_version})",
                    name=sc.name,
                )
            )
        elif name == "AuthenticationRequest":
            # Removed from ESPHome 2026.1.0; older firmware answered it.
            if sc.password is not None:
                ok = msg.password == sc.password
                s.send(api_pb2.AuthenticationResponse(invalid_password=not ok))
                if not ok:
                    await s.writer.drain()
                    return False
        elif name == "DisconnectRequest":
            s.send(api_pb2.DisconnectResponse())
            await s.writer.drain()
            return False
        elif name == "DisconnectResponse":
            return False
        elif name == "PingRequest":
            s.send(api_pb2.PingResponse())
        elif name == "DeviceInfoRequest":
            s.send(self._device_info())
        elif name == "DeviceCapabilitiesRequest":
            resp = api_pb2.DeviceCapabilitiesResponse()
            resp.bluetooth_proxy.feature_flags = sc.feature_flags
            resp.bluetooth_proxy.mac_address = sc.bluetooth_mac_address
            s.send(resp)
        elif name == "ListEntitiesRequest":
            s.send(api_pb2.ListEntitiesDoneResponse())
        elif name in ("SubscribeStatesRequest", "SubscribeLogsRequest", "SubscribeHomeassistantServicesRequest", "SubscribeHomeAssistantStatesRequest", "PingResponse"):
            pass
        elif name == "SubscribeBluetoothLEAdvertisementsRequest":
            self._subscribe_adverts(s, msg.flags)
        elif name == "UnsubscribeBluetoothLEAdvertisementsRequest":
            if self.owner is s:
                self.owner = None
        elif name == "SubscribeBluetoothConnectionsFreeRequest":
            s.send(self._connections_free())
        elif name == "BluetoothScannerSetModeRequest":
            self._spawn(self._set_scan_mode(msg.mode == 1))
        elif name == "BluetoothDeviceRequest":
            self._device_request(s, msg)
        elif name.startswith("BluetoothGATT") or name == "BluetoothSetConnectionParamsRequest":
            self._gatt_request(s, msg)
        else:
            LOG.info("%s: %s not handled by the fake", s.peer, name)
        return True

    def _reply_target(self, requester: ApiSession) -> ApiSession | None:
        """The firmware sends BLE replies to the advertisement subscriber only."""
        if self.owner is not None:
            return self.owner
        if self.scenario.require_adv_subscription:
            LOG.warning(
                "%s: BLE request without an advertisement subscription; "
                "the firmware would drop the reply",
                requester.peer,
            )
            return None
        return requester

    # ------------------------------------------------------------ info

    def _device_info(self) -> Any:
        sc = self.scenario
        return api_pb2.DeviceInfoResponse(
            name=sc.name,
            friendly_name=sc.friendly_name,
            mac_address=sc.mac_address,
            esphome_version=sc.esphome_version,
            compilation_time="Jan  1 2026, 00:00:00",
            model="esp32dev",
            manufacturer="Espressif",
            legacy_bluetooth_proxy_version=5
            if sc.feature_flags & FEATURE_ACTIVE_CONNECTIONS
            else 1,
            bluetooth_proxy_feature_flags=sc.feature_flags,
            bluetooth_mac_address=sc.bluetooth_mac_address,
            api_encryption_supported=bool(sc.noise_psk),
        )

    def _connections_free(self) -> Any:
        allocated = [slot.address for slot in self.slots if slot is not None]
        return api_pb2.BluetoothConnectionsFreeResponse(
            free=len(self.slots) - len(allocated),
            limit=len(self.slots),
            allocated=allocated,
        )

    # ------------------------------------------------------------ scanning

    def _subscribe_adverts(self, s: ApiSession, flags: int) -> None:
        if self.owner is not None and self.owner is not s:
            LOG.warning("%s: advertisement subscription replaces %s", s.peer, self.owner.peer)
        self.owner = s
        s.raw_adverts = bool(flags & SUBSCRIPTION_RAW_ADVERTISEMENTS)
        if not s.raw_adverts:
            LOG.warning(
                "%s: subscribed without the raw flag; ESPHome >= 2025.8 sends no "
                "parsed advertisements, so neither does the fake",
                s.peer,
            )
        if self.scenario.feature_flags & FEATURE_STATE_AND_MODE:
            s.send(self._scanner_state(2))

    def _scanner_state(self, state: int) -> Any:
        return api_pb2.BluetoothScannerStateResponse(
            state=state,
            mode=1 if self.active_scan else 0,
            configured_mode=1 if self.scenario.active_scan else 0,
        )

    async def _set_scan_mode(self, active: bool) -> None:
        if active == self.active_scan:
            return
        for state in (4, 1):  # STOPPING, STARTING
            if self.owner:
                self.owner.send(self._scanner_state(state))
            await asyncio.sleep(0.01)
        self.active_scan = active
        if self.owner:
            self.owner.send(self._scanner_state(2))  # RUNNING

    async def _advertise_loop(self) -> None:
        while True:
            await asyncio.sleep(self.scenario.adv_interval_s)
            owner = self.owner
            if owner is None or not owner.raw_adverts:
                continue
            busy = {slot.address for slot in self.slots if slot and slot.state == "connected"}
            resp = api_pb2.BluetoothLERawAdvertisementsResponse()
            for dev in self.devices.values():
                if not dev.advertise or dev.address in busy:
                    continue  # a connected peripheral stops advertising
                adv = resp.advertisements.add()
                adv.address = dev.address
                adv.rssi = dev.rssi + self.rng.randint(-3, 3)
                adv.address_type = dev.address_type
                adv.data = dev.adv_payload()
            if resp.advertisements:
                owner.send(resp)

    # ------------------------------------------------------------ slots

    def _slot_for(self, address: int) -> Slot | None:
        return next((s for s in self.slots if s is not None and s.address == address), None)

    def _reserve(self, address: int) -> Slot | None:
        for i, slot in enumerate(self.slots):
            if slot is None:
                self.slots[i] = Slot(address)
                return self.slots[i]
        return None

    def _release(self, slot: Slot, target: ApiSession | None, notify: bool = True) -> None:
        for task in slot.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        self.slots = [None if s is slot else s for s in self.slots]
        if notify and target is not None:
            target.send(self._connections_free())

    def _device_request(self, s: ApiSession, msg: Any) -> None:  # noqa: C901
        target = self._reply_target(s)
        sc = self.scenario
        address, kind = msg.address, msg.request_type
        conn = api_pb2.BluetoothDeviceConnectionResponse
        if kind in (REQ_CONNECT_V3_WITH_CACHE, REQ_CONNECT_V3_WITHOUT_CACHE, REQ_CONNECT_V1):
            if not sc.feature_flags & FEATURE_ACTIVE_CONNECTIONS:
                if target:
                    target.send(conn(address=address, connected=False, error=ESP_GATT_NOT_CONNECTED))
                return
            if kind == REQ_CONNECT_V1:  # "V1 connections removed"
                if target:
                    target.send(conn(address=address, connected=False))
                return
            slot = self._slot_for(address)
            if slot is not None:
                if slot.state == "connected" and target:
                    target.send(conn(address=address, connected=True, mtu=slot.mtu), self._connections_free())
                else:
                    LOG.info("%s: connect request ignored, already connecting", int_to_mac(address))
                return
            slot = self._reserve(address)
            if slot is None:
                LOG.info("no free connection slot for %s", int_to_mac(address))
                if target:
                    target.send(conn(address=address, connected=False, error=sc.full_error))
                return
            if not msg.has_address_type:
                self._release(slot, None, notify=False)
                if target:
                    target.send(conn(address=address, connected=False))
                return
            slot.with_cache = kind == REQ_CONNECT_V3_WITH_CACHE
            if target:
                target.send(self._connections_free())
            slot.tasks.append(self._spawn(self._establish(slot, msg.address_type)))
        elif kind == REQ_DISCONNECT:
            slot = self._slot_for(address)
            if slot is None:
                if target:
                    target.send(conn(address=address, connected=False), self._connections_free())
                return
            if slot.state == "connected":
                reason = ESP_GATT_CONN_TERMINATE_LOCAL_HOST
                if target:  # DISCONNECT_EVT, then CLOSE_EVT frees the slot
                    target.send(conn(address=address, connected=False, error=reason))
                    target.send(conn(address=address, connected=False, error=reason))
            elif target:
                target.send(conn(address=address, connected=False))
            self._release(slot, target)
        elif kind == REQ_PAIR:
            slot = self._slot_for(address)
            if slot is not None and slot.state == "connected" and target:
                target.send(api_pb2.BluetoothDevicePairingResponse(address=address, paired=True))
        elif kind == REQ_UNPAIR:
            if target:
                target.send(api_pb2.BluetoothDeviceUnpairingResponse(address=address, success=True))
        elif kind == REQ_CLEAR_CACHE:
            if target:
                target.send(api_pb2.BluetoothDeviceClearCacheResponse(address=address, success=True))

    async def _establish(self, slot: Slot, address_type: int) -> None:
        sc = self.scenario
        dev = self.devices.get(slot.address)
        conn = api_pb2.BluetoothDeviceConnectionResponse
        if dev is None or not dev.connectable or not dev.advertise:
            # the ESP-IDF stack gives up when nothing answers the connect
            await asyncio.sleep(sc.unknown_device_delay_s)
            self._fail(slot, sc.unknown_device_error)
            return
        if dev.never_answer:
            return  # the slot stays allocated until a disconnect request
        await asyncio.sleep(sc.connect_delay_s)
        if dev.connect_error:
            self._fail(slot, dev.connect_error)
            return
        if address_type != dev.address_type:
            LOG.warning("%s: connect with address_type %d, device uses %d",
                        int_to_mac(slot.address), address_type, dev.address_type)
        slot.state = "connected"
        slot.mtu = sc.mtu
        for service in dev.services:  # an unbonded peripheral forgets its CCCDs
            for char in service.characteristics:
                for desc in char.descriptors:
                    if uuid_parts(desc.uuid)[2] == CCCD_UUID16:
                        desc.value = b"\x00\x00"
        if self.owner:
            self.owner.send(conn(address=slot.address, connected=True, mtu=slot.mtu), self._connections_free())
        slot.tasks.append(self._spawn(self._notify_loop(slot, dev)))
        if dev.drop_after_s is not None:
            slot.tasks.append(self._spawn(self._drop_later(slot, dev.drop_after_s, dev.drop_reason)))

    def _fail(self, slot: Slot, error: int) -> None:
        if self.owner:
            self.owner.send(api_pb2.BluetoothDeviceConnectionResponse(
                address=slot.address, connected=False, error=error))
        self._release(slot, self.owner)

    async def _drop_later(self, slot: Slot, delay: float, reason: int) -> None:
        await asyncio.sleep(delay)
        self.drop_link(slot.address, reason)

    def drop_link(self, address: int, reason: int = ESP_GATT_CONN_TIMEOUT) -> bool:
        slot = self._slot_for(address)
        if slot is None:
            return False
        LOG.info("fault: link to %s lost, reason %#x", int_to_mac(address), reason)
        if self.owner:  # DISCONNECT_EVT and CLOSE_EVT each report it
            msg = api_pb2.BluetoothDeviceConnectionResponse(address=address, connected=False, error=reason)
            self.owner.send(msg, msg)
        self._release(slot, self.owner)
        return True

    # ------------------------------------------------------------ GATT

    def _gatt_request(self, s: ApiSession, msg: Any) -> None:  # noqa: C901
        target = self._reply_target(s)
        if target is None:
            return
        name = type(msg).__name__
        address = msg.address
        handle = getattr(msg, "handle", 0)
        slot = self._slot_for(address)
        dev = self.devices.get(address)
        err = api_pb2.BluetoothGATTErrorResponse
        if name == "BluetoothSetConnectionParamsRequest":
            ok = slot is not None and slot.state == "connected"
            target.send(api_pb2.BluetoothSetConnectionParamsResponse(
                address=address, error=0 if ok else ESP_GATT_NOT_CONNECTED))
            return
        if slot is None or slot.state != "connected" or dev is None:
            target.send(err(address=address, handle=handle, error=ESP_GATT_NOT_CONNECTED))
            return
        if name == "BluetoothGATTGetServicesRequest":
            self._send_services(target, slot, dev)
            return
        if handle in dev.gatt_errors:
            target.send(err(address=address, handle=handle, error=dev.gatt_errors[handle]))
            return
        char, desc = dev.attr(handle)
        if char is None:
            target.send(err(address=address, handle=handle, error=ESP_GATT_INVALID_HANDLE))
            return
        if name == "BluetoothGATTReadRequest":
            if desc is not None or not char.properties & PROP_READ:
                target.send(err(address=address, handle=handle, error=ESP_GATT_READ_NOT_PERMIT))
            else:
                target.send(api_pb2.BluetoothGATTReadResponse(address=address, handle=handle, data=char.value))
        elif name == "BluetoothGATTWriteRequest":
            if desc is not None or not char.properties & (PROP_WRITE | PROP_WRITE_NR):
                target.send(err(address=address, handle=handle, error=ESP_GATT_WRITE_NOT_PERMIT))
                return
            char.value = bytes(msg.data)
            if msg.response:
                target.send(api_pb2.BluetoothGATTWriteResponse(address=address, handle=handle))
            self._echo(target, slot, dev, bytes(msg.data))
        elif name == "BluetoothGATTReadDescriptorRequest":
            if desc is None:
                target.send(err(address=address, handle=handle, error=ESP_GATT_INVALID_HANDLE))
            else:
                target.send(api_pb2.BluetoothGATTReadResponse(address=address, handle=handle, data=desc.value))
        elif name == "BluetoothGATTWriteDescriptorRequest":
            if desc is None:
                target.send(err(address=address, handle=handle, error=ESP_GATT_INVALID_HANDLE))
                return
            desc.value = bytes(msg.data)
            target.send(api_pb2.BluetoothGATTWriteResponse(address=address, handle=handle))
        elif name == "BluetoothGATTNotifyRequest":
            if desc is not None or not char.properties & (PROP_NOTIFY | PROP_INDICATE):
                target.send(err(address=address, handle=handle, error=ESP_GATT_REQ_NOT_SUPPORTED))
                return
            if msg.enable:
                slot.registered.add(handle)
            else:
                slot.registered.discard(handle)
            target.send(api_pb2.BluetoothGATTNotifyResponse(address=address, handle=handle))

    def _send_services(self, target: ApiSession, slot: Slot, dev: FakeDevice) -> None:
        done = api_pb2.BluetoothGATTGetServicesDoneResponse(address=slot.address)
        if slot.with_cache or slot.services_sent:
            # v3 with cache never discovers; v3 without cache frees the table
            # once sent. Either way the firmware answers with only "done".
            target.send(done)
            return
        short_ok = target.client_api >= (1, 12)
        batch = api_pb2.BluetoothGATTGetServicesResponse(address=slot.address)
        for service in dev.services:
            svc = api_pb2.BluetoothGATTService(handle=service.handle)
            fill_uuid(svc, service.uuid, short_ok)
            for char in service.characteristics:
                c = svc.characteristics.add(handle=char.handle, properties=char.properties)
                fill_uuid(c, char.uuid, short_ok)
                for desc in char.descriptors:
                    d = c.descriptors.add(handle=desc.handle)
                    fill_uuid(d, desc.uuid, short_ok)
            if batch.services and batch.ByteSize() + svc.ByteSize() + 3 > MAX_SERVICES_PACKET:
                target.send(batch)
                batch = api_pb2.BluetoothGATTGetServicesResponse(address=slot.address)
            batch.services.append(svc)
        if batch.services:
            target.send(batch)
        target.send(done)
        slot.services_sent = True

    def _enabled(self, slot: Slot, char: Attr) -> bool:
        """Data flows only when registered on the proxy AND the CCCD is set."""
        cccd = next((d for d in char.descriptors if uuid_parts(d.uuid)[2] == CCCD_UUID16), None)
        return (
            char.handle in slot.registered
            and cccd is not None
            and int.from_bytes(cccd.value[:2] or b"\0", "little") & 0x3 != 0
        )

    def _echo(self, target: ApiSession, slot: Slot, dev: FakeDevice, data: bytes) -> None:
        """A write to the UART RX characteristic comes back on TX."""
        tx, _ = dev.attr(0x0022)
        if tx is not None and self._enabled(slot, tx):
            target.send(api_pb2.BluetoothGATTNotifyDataResponse(address=slot.address, handle=tx.handle, data=data))

    async def _notify_loop(self, slot: Slot, dev: FakeDevice) -> None:
        while True:
            await asyncio.sleep(self.scenario.notify_interval_s)
            if self.owner is None:
                continue
            slot.counter += 1
            for service in dev.services:
                for char in service.characteristics:
                    if char.handle == 0x0022 or not self._enabled(slot, char):
                        continue
                    if char.uuid == "2a19":
                        char.value = bytes([max(0, 100 - slot.counter % 101)])
                    elif char.uuid == "2a6e":
                        char.value = (2150 + slot.counter).to_bytes(2, "little", signed=True)
                    self.owner.send(api_pb2.BluetoothGATTNotifyDataResponse(
                        address=slot.address, handle=char.handle, data=char.value))

    # ------------------------------------------------------------ control

    async def control(self, line: str) -> bool:
        words = line.split()
        if not words:
            return True
        cmd = words[0]
        if cmd == "drop" and len(words) >= 2:
            reason = int(words[2], 0) if len(words) > 2 else ESP_GATT_CONN_TIMEOUT
            print("OK" if self.drop_link(mac_to_int(words[1]), reason) else "NO-SUCH-LINK", flush=True)
        elif cmd == "close":
            self.close_all_sessions()
            print("OK", flush=True)
        elif cmd == "slots" and len(words) == 2:
            # change the limit; only free slots are removed
            want = int(words[1])
            used = [s for s in self.slots if s is not None]
            self.slots = used + [None] * max(0, want - len(used))
            if self.owner:
                self.owner.send(self._connections_free())
            print("OK", flush=True)
        elif cmd == "count" and len(words) == 2:
            print(f"COUNT {self.received.get(words[1], 0)}", flush=True)
        elif cmd == "raw" and len(words) in (2, 3):
            # hostile-input fault: raw bytes (hex) written to every API connection as is;
            # `raw <hex> close` closes right after them (a frame truncated by a reboot)
            for session in list(self.sessions):
                session.writer.write(bytes.fromhex(words[1]))
            if words[2:] == ["close"]:
                self.close_all_sessions()
            print("OK", flush=True)
        elif cmd == "quit":
            return False
        else:
            print(f"ERR unknown command {line.strip()!r}", flush=True)
        return True


# ---------------------------------------------------------------- main


async def _read_stdin_lines(proxy: FakeProxy) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or not await proxy.control(line):
            return


async def amain(args: argparse.Namespace) -> None:
    data: dict[str, Any] = {}
    if args.scenario:
        with open(args.scenario, encoding="utf-8") as fh:
            data = json.load(fh)
    for key in ("slots", "full_error", "noise_psk", "password", "seed"):
        value = getattr(args, key)
        if value is not None:
            data[key] = value
    proxy = FakeProxy(Scenario.from_dict(data))
    port = await proxy.start(args.host, args.port)
    print(f"LISTENING {port}", flush=True)
    try:
        if args.control == "stdin":
            await _read_stdin_lines(proxy)
        else:
            await asyncio.Event().wait()
    finally:
        await proxy.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="bind address (keep it on loopback)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--scenario", help="JSON scenario file (see scenario.example.json)")
    parser.add_argument("--slots", type=int, help="connection slot limit (default 3)")
    parser.add_argument("--full-error", type=lambda v: int(v, 0),
                        help="error code sent when out of slots (firmware: 0; try 0x100)")
    parser.add_argument("--noise-psk", help="base64 32-byte key: serve the Noise variant")
    parser.add_argument("--password", help="legacy AuthenticationRequest password")
    parser.add_argument("--seed", type=int, help="RSSI jitter seed")
    parser.add_argument("--control", choices=("none", "stdin"), default="none")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(amain(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
