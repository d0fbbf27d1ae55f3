"""Drives `bluefleet proxy` with Home Assistant's own client stack.

aioesphomeapi's APIClient, bleak-esphome's ESPHomeClient over a habluetooth manager (never set
up, so no BlueZ or D-Bus is touched) and bleak-retry-connector's establish_connection: the
libraries Home Assistant runs, not ours. Run by tests/proxy/main.rs:

    driver.py SCENARIO --port P [--port P2] [--psk KEY] [--wrong-psk KEY] [--free N]

Prints one `PASS <check>` line per check; the first failed check prints `FAIL <check>: detail`
and exits 1. Every wait is bounded.
"""

import argparse
import asyncio
import sys
import time

from aioesphomeapi import APIClient
from aioesphomeapi.core import (
    BluetoothGATTAPIError,
    InvalidEncryptionKeyAPIError,
    RequiresEncryptionAPIError,
)

SENSOR = 0xA4C138000001
COUNTER = 0xA4C138000002
THERMOMETER = 0xA4C138000003
SPARE = 0xA4C138000004
FIFTH = 0xA4C138000005
BEACON = 0xC0FFEE000001
WORLD = {SENSOR, COUNTER, THERMOMETER, SPARE, FIFTH, BEACON}

TEMPERATURE = "00002a6e-0000-1000-8000-00805f9b34fb"
COUNTER_VALUE = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
COUNTER_CONFIG = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
TEMPERATURE_MEASUREMENT = "00002a1c-0000-1000-8000-00805f9b34fb"

REMOTE_CACHING = 1 << 2
FLAGS_EXPECTED = {"PASSIVE_SCAN": 1, "ACTIVE_CONNECTIONS": 2, "REMOTE_CACHING": 4,
                  "CACHE_CLEARING": 16, "RAW_ADVERTISEMENTS": 32, "STATE_AND_MODE": 64}
FLAGS_ABSENT = {"PAIRING": 8, "CONNECTION_PARAMS_SETTING": 128}


class Failed(Exception):
    pass


def check(name, ok, detail=""):
    if not ok:
        raise Failed(f"{name}: {detail}")
    print(f"PASS {name}", flush=True)


async def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


def mac(value):
    return ":".join(f"{(value >> s) & 0xFF:02X}" for s in range(40, -8, -8))


async def connect_api(port, psk=None):
    cli = APIClient("127.0.0.1", port, None, noise_psk=psk, client_info="bluefleet-test")
    await asyncio.wait_for(cli.connect(login=False), 10)
    return cli


class Slots:
    """The proxy's slot reports, as aioesphomeapi delivers them."""

    def __init__(self, cli):
        self.reports = []
        cli.subscribe_bluetooth_connections_free(
            lambda free, limit, allocated: self.reports.append((free, limit, list(allocated))))

    @property
    def last(self):
        return self.reports[-1] if self.reports else None


async def api_connect(cli, address, flags, has_cache=False):
    """A v3 connect through aioesphomeapi; returns the list of connection states seen."""
    states = []
    await cli.bluetooth_device_connect(
        address, lambda connected, mtu, error: states.append((connected, mtu, error)),
        timeout=25, feature_flags=flags, has_cache=has_cache, address_type=0)
    return states


class Bleak:
    """bleak-esphome's ESPHomeClient for one proxy, the way Home Assistant wires it."""

    def __init__(self, cli, info):
        from habluetooth import BluetoothManager, HaBluetoothConnector
        from habluetooth.central_manager import set_manager
        from bleak_esphome.backend.client import ESPHomeClientData
        from bleak_esphome.backend.device import ESPHomeBluetoothDevice
        from bleak_esphome.backend.scanner import ESPHomeScanner

        set_manager(BluetoothManager())
        source = info.bluetooth_mac_address
        self.source = source
        self.device = ESPHomeBluetoothDevice(info.name, source, available=True)
        cli.subscribe_bluetooth_connections_free(self.device.async_update_ble_connection_limits)
        connector = HaBluetoothConnector(ESPHomeClientData, source, lambda: True)
        self.scanner = ESPHomeScanner(source, info.name, connector, True)
        cli.subscribe_bluetooth_le_raw_advertisements(self.scanner.async_on_raw_advertisements)
        self.data = ESPHomeClientData(
            bluetooth_device=self.device, client=cli, device_info=info,
            api_version=cli.api_version, title=info.name, scanner=self.scanner)

    def ble_device(self, address):
        from bleak.backends.device import BLEDevice
        return BLEDevice(mac(address), "test", {"source": self.source, "address_type": 0})

    def client(self, address):
        from bleak_esphome.backend.client import ESPHomeClient
        return ESPHomeClient(self.ble_device(address), client_data=self.data, timeout=20,
                             disconnected_callback=None)


def char(client, uuid):
    """The characteristic object the backend client's calls take."""
    found = client.services.get_characteristic(uuid)
    if found is None:
        raise Failed(f"no characteristic {uuid}")
    return found


async def scenario_info(args):
    cli = await connect_api(args.port[0])
    info = await cli.device_info()
    check("device info: project name has a dot", info.project_name == "bluefleet.hub", info.project_name)
    check("device info: the real version", info.project_version == args.version, info.project_version)
    check("device info: locally administered unique MAC",
          len(info.mac_address) == 17 and int(info.mac_address[:2], 16) & 0x03 == 0x02, info.mac_address)
    check("device info: a Bluetooth MAC of its own",
          info.bluetooth_mac_address not in ("", info.mac_address), info.bluetooth_mac_address)
    flags = info.bluetooth_proxy_feature_flags_compat(cli.api_version)
    for name, bit in FLAGS_EXPECTED.items():
        check(f"flag {name}", flags & bit, f"flags={flags}")
    for name, bit in FLAGS_ABSENT.items():
        check(f"no flag {name}", not flags & bit, f"flags={flags}")
    entities, services = await asyncio.wait_for(cli.list_entities_services(), 5)
    check("list entities: none, then done", entities == [] and services == [], f"{entities} {services}")
    caps = await asyncio.wait_for(cli.device_capabilities(), 5)
    check("device capabilities: the same flags", caps.bluetooth_proxy.feature_flags == flags, str(caps))
    again = await connect_api(args.port[0])
    check("the MAC is stable", (await again.device_info()).mac_address == info.mac_address)
    await again.disconnect()
    await cli.disconnect()


async def scenario_adverts(args):
    cli = await connect_api(args.port[0])
    seen = {}
    states = []
    cli.subscribe_bluetooth_scanner_state(lambda state: states.append(state))
    cli.subscribe_bluetooth_le_raw_advertisements(
        lambda resp: [seen.setdefault(a.address, a) for a in resp.advertisements])
    check("raw adverts of every world device", await wait_for(lambda: WORLD <= set(seen), 8),
          f"{sorted(map(mac, seen))}")
    data = bytes(seen[SENSOR].data)
    check("adverts carry the AD bytes (local name)", b"Living room climate" in data, data.hex())
    check("adverts carry RSSI", -100 < seen[SENSOR].rssi < 0, str(seen[SENSOR].rssi))
    check("scanner state RUNNING on subscribe", await wait_for(lambda: bool(states)) and
          int(states[0].state) == 2, str(states))
    await cli.disconnect()


async def scenario_gatt(args):
    cli = await connect_api(args.port[0])
    info = await cli.device_info()
    bleak = Bleak(cli, info)
    check("slot report arrives", await wait_for(lambda: bleak.device.ble_connections_limit > 0),
          str(bleak.device.ble_connections_limit))
    free_before = bleak.device.ble_connections_free
    sensor = bleak.client(SENSOR)
    await asyncio.wait_for(sensor.connect(pair=False), 25)
    check("bleak-esphome connects", sensor.is_connected)
    check("services arrive", sensor.services.get_characteristic(TEMPERATURE) is not None)
    check("the connection takes a slot",
          await wait_for(lambda: bleak.device.ble_connections_free == free_before - 1),
          f"{bleak.device.ble_connections_free} of {free_before}")
    value = await asyncio.wait_for(sensor.read_gatt_char(char(sensor, TEMPERATURE)), 10)
    check("read", len(value) == 2, value.hex())

    got = []
    await asyncio.wait_for(sensor.start_notify(char(sensor, TEMPERATURE), lambda data: got.append(bytes(data))), 10)
    check("notify after bleak-esphome writes the CCCD", await wait_for(lambda: len(got) >= 2, 8), str(got))
    await sensor.stop_notify(char(sensor, TEMPERATURE))

    counter = bleak.client(COUNTER)
    await asyncio.wait_for(counter.connect(pair=False), 25)
    await asyncio.wait_for(counter.write_gatt_char(char(counter, COUNTER_CONFIG), b"\x07", response=True), 10)
    check("write with response", bytes(await counter.read_gatt_char(char(counter, COUNTER_CONFIG))) == b"\x07")
    await asyncio.wait_for(counter.write_gatt_char(char(counter, COUNTER_CONFIG), b"\x09", response=False), 10)
    check("write without response",
          await wait_for_async(lambda: counter.read_gatt_char(char(counter, COUNTER_CONFIG)), b"\x09"))

    thermometer = bleak.client(THERMOMETER)
    await asyncio.wait_for(thermometer.connect(pair=False), 25)
    indications = []
    await asyncio.wait_for(thermometer.start_notify(
        char(thermometer, TEMPERATURE_MEASUREMENT), lambda data: indications.append(bytes(data))), 10)
    check("indicate (CCCD 02 00 written by the client)",
          await wait_for(lambda: len(indications) >= 2, 8), str(indications))

    for client in (sensor, counter, thermometer):
        await asyncio.wait_for(client.disconnect(), 25)
    check("disconnect gives the slots back",
          await wait_for(lambda: bleak.device.ble_connections_free == free_before, 5),
          f"{bleak.device.ble_connections_free} of {free_before}")
    await cli.disconnect()


async def wait_for_async(read, expected, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bytes(await asyncio.wait_for(read(), 5)) == expected:
            return True
        await asyncio.sleep(0.05)
    return False


async def scenario_cccd(args):
    """Data flows only once the client writes the CCCD (REMOTE_CACHING semantics)."""
    cli = await connect_api(args.port[0])
    info = await cli.device_info()
    flags = info.bluetooth_proxy_feature_flags
    states = await api_connect(cli, SENSOR, flags)
    check("connected", await wait_for(lambda: states and states[-1][0]), str(states))
    services = await asyncio.wait_for(cli.bluetooth_gatt_get_services(SENSOR), 10)
    char = next(c for s in services.services for c in s.characteristics if c.uuid == TEMPERATURE)
    cccd = next(d for d in char.descriptors if d.uuid.startswith("00002902"))
    got = []
    await asyncio.wait_for(cli.bluetooth_gatt_start_notify(
        SENSOR, char.handle, lambda handle, data: got.append(bytes(data))), 10)
    await asyncio.sleep(2.5)
    check("notify registration alone sends nothing", got == [], str(got))
    await asyncio.wait_for(cli.bluetooth_gatt_write_descriptor(SENSOR, cccd.handle, b"\x01\x00"), 10)
    check("CCCD 01 00 starts the data", await wait_for(lambda: len(got) >= 1, 6), str(got))
    try:
        await asyncio.wait_for(cli.bluetooth_gatt_read(SENSOR, 999, timeout=5), 10)
        check("unknown handle is an error", False)
    except BluetoothGATTAPIError as err:
        check("unknown handle is an error", "0x0a" in str(err).lower() or "not found" in str(err).lower(), str(err))
    await cli.bluetooth_device_disconnect(SENSOR)
    await cli.disconnect()


async def scenario_cache(args):
    cli = await connect_api(args.port[0])
    info = await cli.device_info()
    bleak = Bleak(cli, info)
    await wait_for(lambda: bleak.device.ble_connections_limit > 0)
    calls = []
    original = cli.bluetooth_gatt_get_services

    async def counted(address):
        calls.append(address)
        return await original(address)

    cli.bluetooth_gatt_get_services = counted
    first = bleak.client(SENSOR)
    await asyncio.wait_for(first.connect(pair=False), 25)
    check("first connect discovers services", calls == [SENSOR], str(calls))
    await asyncio.wait_for(first.disconnect(), 25)
    again = bleak.client(SENSOR)
    await asyncio.wait_for(again.connect(pair=False, dangerous_use_bleak_cache=True), 25)
    check("reconnect with cache: connected", again.is_connected)
    check("reconnect with cache: no services request", calls == [SENSOR], str(calls))
    value = await asyncio.wait_for(again.read_gatt_char(char(again, TEMPERATURE)), 10)
    check("reconnect with cache: the cached handles work", len(value) == 2)
    await asyncio.wait_for(again.disconnect(), 25)
    await cli.disconnect()


async def scenario_slots(args):
    """Fill every slot; the next connect is out of slots in bleak-retry-connector's words."""
    from bleak_retry_connector import BleakOutOfConnectionSlotsError, establish_connection
    from bleak_esphome.backend.client import ESPHomeClient

    cli = await connect_api(args.port[0])
    info = await cli.device_info()
    bleak = Bleak(cli, info)
    await wait_for(lambda: bleak.device.ble_connections_limit > 0)
    limit = bleak.device.ble_connections_limit
    check("the pool is every radio's slots", limit == args.free, f"limit {limit}")
    flags = info.bluetooth_proxy_feature_flags
    fillers = [SENSOR, COUNTER, THERMOMETER, SPARE][:limit]
    for address in fillers:
        states = await api_connect(cli, address, flags)
        check(f"filler {mac(address)} connected", await wait_for(lambda: states and states[-1][0], 25), str(states))
    check("no slot left", await wait_for(lambda: bleak.device.ble_connections_free == 0),
          str(bleak.device.ble_connections_free))
    free, report_limit, allocated = bleak_reports_last(bleak)
    check("allocated lists our connections (len == limit - free)",
          len(allocated) == report_limit - free == limit, f"{free} {report_limit} {allocated}")
    from bleak import BleakClient

    class ProxyClient(BleakClient):
        """A BleakClient on bleak-esphome's backend, as habluetooth hands one to integrations."""

        def __init__(self, device, *args, **kwargs):
            kwargs.pop("_is_retry_client", None)
            super().__init__(device, *args, backend=ESPHomeClient, client_data=bleak.data, **kwargs)

    started = time.monotonic()
    try:
        await establish_connection(ProxyClient, bleak.ble_device(FIFTH), "fifth", max_attempts=1)
        check("out of slots", False, "connected")
    except BleakOutOfConnectionSlotsError as err:
        check("bleak-retry-connector says out of slots", "connection slot" in str(err), str(err))
    check("answered within the client's budget", time.monotonic() - started < 15)
    for address in fillers:
        await cli.bluetooth_device_disconnect(address)
    check("slots come back", await wait_for(lambda: bleak.device.ble_connections_free == limit))
    await cli.disconnect()


def bleak_reports_last(bleak):
    device = bleak.device
    return device.ble_connections_free, device.ble_connections_limit, list(device.ble_allocations)


async def scenario_noise(args):
    cli = await connect_api(args.port[0], psk=args.psk)
    info = await cli.device_info()
    check("noise: the right key connects", info.project_name == "bluefleet.hub")
    await cli.disconnect()
    try:
        await connect_api(args.port[0], psk=args.wrong_psk)
        check("noise: a wrong key is refused", False)
    except InvalidEncryptionKeyAPIError as err:
        check("noise: a wrong key is refused as an invalid key", True, str(err))
    try:
        await connect_api(args.port[0])
        check("noise: a plaintext client is refused", False)
    except RequiresEncryptionAPIError as err:
        check("noise: a plaintext client is told encryption is required", True, str(err))


async def scenario_plaintext_refuses_noise(args):
    from aioesphomeapi.core import EncryptionPlaintextAPIError
    try:
        await connect_api(args.port[0], psk=args.psk)
        check("plaintext proxy refuses a Noise client", False)
    except EncryptionPlaintextAPIError as err:
        check("plaintext proxy: the Noise client is told it is plaintext", True, str(err))


async def scenario_two_clients(args):
    a = await connect_api(args.port[0])
    b = await connect_api(args.port[0])
    info = await a.device_info()
    flags = info.bluetooth_proxy_feature_flags
    slots_a, slots_b = Slots(a), Slots(b)
    seen_a, seen_b = set(), set()
    a.subscribe_bluetooth_le_raw_advertisements(lambda r: seen_a.update(x.address for x in r.advertisements))
    b.subscribe_bluetooth_le_raw_advertisements(lambda r: seen_b.update(x.address for x in r.advertisements))
    check("both clients get adverts", await wait_for(lambda: SENSOR in seen_a and SENSOR in seen_b, 5))
    await wait_for(lambda: slots_a.last and slots_b.last)
    pool = slots_b.last[0]
    states = await api_connect(a, SENSOR, flags)
    check("A connects", await wait_for(lambda: states and states[-1][0], 25), str(states))
    check("B sees the pool shrink but not A's connection",
          await wait_for(lambda: slots_b.last[0] == pool - 1 and slots_b.last[2] == []), str(slots_b.last))
    check("A's report lists its connection", await wait_for(lambda: slots_a.last[2] == [SENSOR]), str(slots_a.last))
    try:
        await asyncio.wait_for(b.bluetooth_gatt_read(SENSOR, 3, timeout=5), 10)
        check("B cannot use A's connection", False)
    except BluetoothGATTAPIError as err:
        check("B cannot use A's connection (not connected)", True, str(err))
    await b.bluetooth_device_disconnect(SENSOR)
    await asyncio.sleep(0.3)
    value = await asyncio.wait_for(a.bluetooth_gatt_read(SENSOR, 3, timeout=5), 10)
    check("B's disconnect does not end A's connection", len(value) == 2)
    states_b = await api_connect(b, COUNTER, flags)
    check("B connects its own device", await wait_for(lambda: states_b and states_b[-1][0], 25), str(states_b))
    check("A sees B's slot taken", await wait_for(lambda: slots_a.last[0] == pool - 2), str(slots_a.last))
    await a.bluetooth_device_disconnect(SENSOR)
    await b.bluetooth_device_disconnect(COUNTER)
    check("every slot back", await wait_for(lambda: slots_a.last[0] == pool and slots_b.last[0] == pool))
    await a.disconnect()
    await b.disconnect()


async def scenario_per_radio(args):
    infos, adverts, limits = [], [], []
    for port in args.port:
        cli = await connect_api(port)
        infos.append(await cli.device_info())
        seen = {}
        cli.subscribe_bluetooth_le_raw_advertisements(
            lambda r, seen=seen: [seen.__setitem__(x.address, x.rssi) for x in r.advertisements])
        slots = Slots(cli)
        adverts.append(seen)
        limits.append(slots)
    check("one proxy per radio", len(infos) == 2)
    check("own names", infos[0].name != infos[1].name, f"{infos[0].name} {infos[1].name}")
    check("own MACs", infos[0].mac_address != infos[1].mac_address)
    check("own Bluetooth MACs", infos[0].bluetooth_mac_address != infos[1].bluetooth_mac_address)
    check("each hears the world", await wait_for(lambda: all(SENSOR in a for a in adverts), 5))
    check("each reports its radio's slots",
          await wait_for(lambda: all(s.last and s.last[1] == 2 for s in limits)),
          str([s.last for s in limits]))


async def scenario_chain(args):
    """bluefleet proxy over bluefleet's esphome backend over the fake proxy: the same client."""
    battery = "00002a19-0000-1000-8000-00805f9b34fb"
    cli = await connect_api(args.port[0])
    info = await cli.device_info()
    check("chain: device info from bluefleet", info.project_name == "bluefleet.hub")
    bleak = Bleak(cli, info)
    seen = set()
    cli.subscribe_bluetooth_le_raw_advertisements(lambda r: seen.update(x.address for x in r.advertisements))
    check("chain: the fake's adverts come through", await wait_for(lambda: SENSOR in seen, 8),
          str(sorted(map(mac, seen))))
    check("chain: the fake's slots are the pool",
          await wait_for(lambda: bleak.device.ble_connections_limit == args.free, 8),
          str(bleak.device.ble_connections_limit))
    client = bleak.client(SENSOR)
    await asyncio.wait_for(client.connect(pair=False), 25)
    check("chain: connect and services", client.services.get_characteristic(battery) is not None)
    value = bytes(await asyncio.wait_for(client.read_gatt_char(char(client, battery)), 10))
    check("chain: read through two proxies", value == bytes([100]), value.hex())
    got = []
    await asyncio.wait_for(client.start_notify(char(client, battery), lambda data: got.append(bytes(data))), 10)
    check("chain: notifications through two proxies", await wait_for(lambda: len(got) >= 1, 8), str(got))
    await asyncio.wait_for(client.disconnect(), 25)
    check("chain: the slot comes back",
          await wait_for(lambda: bleak.device.ble_connections_free == args.free, 8),
          str(bleak.device.ble_connections_free))
    await cli.disconnect()


async def scenario_hold(args):
    """Connect, say HOLDING, then wait to be killed."""
    cli = await connect_api(args.port[0])
    info = await cli.device_info()
    states = await api_connect(cli, SENSOR, info.bluetooth_proxy_feature_flags)
    check("holding a connection", await wait_for(lambda: states and states[-1][0], 25), str(states))
    print("HOLDING", flush=True)
    await asyncio.sleep(60)


async def scenario_free(args):
    """Wait until the proxy reports `--free` slots free."""
    cli = await connect_api(args.port[0])
    slots = Slots(cli)
    check(f"{args.free} slots free", await wait_for(lambda: slots.last and slots.last[0] == args.free, 10),
          str(slots.last))
    await cli.disconnect()


async def scenario_silent(args):
    """A raw client that connects a device, then goes silent: the server pings it, then gives up."""
    from aioesphomeapi.api_pb2 import (BluetoothDeviceRequest, HelloRequest)
    reader, writer = await asyncio.open_connection("127.0.0.1", args.port[0])

    def frame(kind, message):
        payload = message.SerializeToString()
        return bytes([0]) + varint(len(payload)) + varint(kind) + payload

    writer.write(frame(1, HelloRequest(client_info="silent", api_version_major=1, api_version_minor=10)))
    writer.write(frame(68, BluetoothDeviceRequest(address=SENSOR, request_type=5, has_address_type=True)))
    await writer.drain()
    started = time.monotonic()
    received = await asyncio.wait_for(reader.read(-1), 30)  # until the server closes
    waited = time.monotonic() - started
    check("the server pinged the silent client", b"\x00\x00\x07" in received, received.hex())
    check("then closed it after the keepalive timeout", waited >= args.free and waited < args.free + 10,
          f"{waited:.1f}s")
    writer.close()


def varint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


SCENARIOS = {name[len("scenario_"):].replace("_", "-"): fn
             for name, fn in globals().items() if name.startswith("scenario_")}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--port", type=int, action="append", required=True)
    parser.add_argument("--psk")
    parser.add_argument("--wrong-psk")
    parser.add_argument("--free", type=int, default=0)
    parser.add_argument("--version", default="")
    args = parser.parse_args()
    try:
        asyncio.run(asyncio.wait_for(SCENARIOS[args.scenario](args), 90))
    except Failed as err:
        print(f"FAIL {err}", flush=True)
        sys.exit(1)
    except Exception as err:  # anything else is a failure too, with its type
        print(f"FAIL {type(err).__name__}: {err}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
