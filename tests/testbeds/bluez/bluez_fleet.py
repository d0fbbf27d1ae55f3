"""bluez5 + GATT + fault injection: a python-dbusmock template for bluefleet's tests.

Owned by bluefleet (tests/bluez/ starts one per test); started from the research test bed.

Load with:  python3 -m dbusmock --system --template /path/to/bluez_fleet.py
Everything of dbusmock's stock `bluez5` template is kept (AddAdapter, AddDevice, ...); this adds
correctly typed LE devices, GATT objects, notifications and fault injection on org.bluez.Mock.
"""

from xml.etree import ElementTree as ET

import dbus
import dbus.service
from gi.repository import GLib  # python3-gi (Debian) or PyGObject; only for delayed replies

from dbusmock import OBJECT_MANAGER_IFACE, mockobject
from dbusmock.templates import bluez5
from dbusmock.templates.bluez5 import *  # noqa: F401,F403  (re-export the stock mock methods)

BUS_NAME = bluez5.BUS_NAME
MAIN_OBJ = bluez5.MAIN_OBJ
SYSTEM_BUS = bluez5.SYSTEM_BUS
IS_OBJECT_MANAGER = bluez5.IS_OBJECT_MANAGER

MOCK = "org.bluez.Mock"
ADAPTER = "org.bluez.Adapter1"
DEVICE = "org.bluez.Device1"
SERVICE = "org.bluez.GattService1"
CHRC = "org.bluez.GattCharacteristic1"
DESC = "org.bluez.GattDescriptor1"


class OrderedIntrospectObject(mockobject.DBusMockObject):
    """dbusmock appends property-only interfaces (GattService1) after the child <node>s in its
    Introspect XML; bluez-async (btleplug) parses it with serde-xml-rs, which then fails with
    "duplicate field `interface`". Real BlueZ lists every <interface> before the <node>s."""

    @dbus.service.method(
        dbus.INTROSPECTABLE_IFACE,
        in_signature="",
        out_signature="s",
        path_keyword="object_path",
        connection_keyword="connection",
    )
    def Introspect(self, object_path, connection):
        tree = ET.fromstring(mockobject.DBusMockObject.Introspect(self, object_path, connection))
        for node in [c for c in tree if c.tag == "node"]:
            tree.remove(node)
            tree.append(node)
        return ET.tostring(tree, encoding="unicode")


class LeDevice(OrderedIntrospectObject):
    """Device1 whose Connect can take time (SetConnectDelay), replying later from the GLib loop,
    so tests can see how many connects are in flight per adapter (GetConnectStats)."""

    @dbus.service.method(DEVICE, in_signature="", out_signature="", async_callbacks=("ok", "err"))
    def Connect(self, ok, err):
        adapter = mockobject.objects[str(self.props[DEVICE]["Adapter"])]
        adapter.in_flight = getattr(adapter, "in_flight", 0) + 1
        adapter.max_in_flight = max(getattr(adapter, "max_in_flight", 0), adapter.in_flight)
        self.log("Connect (in flight on adapter: %d)" % adapter.in_flight)

        def finish():
            self.pending_connect = None
            adapter.in_flight -= 1
            try:
                dev_connect(self)
            except dbus.exceptions.DBusException as e:
                err(e)
            else:
                ok()
            return False

        delay = getattr(self, "connect_delay_ms", 0)
        if delay:
            self.pending_connect = (GLib.timeout_add(delay, finish), err, adapter)
        else:
            finish()

    def cancel_pending_connect(self):
        """Disconnect while Connect is pending cancels it, as BlueZ does; the Connect caller gets
        the kernel's abort reason. True if there was one to cancel."""
        pending = getattr(self, "pending_connect", None)
        if not pending:
            return False
        source, err, adapter = pending
        self.pending_connect = None
        GLib.source_remove(source)
        adapter.in_flight -= 1
        err(dbus.exceptions.DBusException("le-connection-abort-by-local", name="org.bluez.Error.Failed"))
        return True


def load(mock, parameters):
    bluez5.load(mock, parameters)


def _added(path, iface, props):
    mockobject.objects["/"].EmitSignal(
        OBJECT_MANAGER_IFACE, "InterfacesAdded", "oa{sa{sv}}", [dbus.ObjectPath(path), {iface: props}]
    )


def _fault(obj, method):
    """A fault set with InjectError(path, method, error_name, message, sticky): raise it (once or always)."""
    faults = getattr(obj, "faults", {})
    f = faults.get(method)
    if f:
        name, message, sticky = f
        if not sticky:
            del faults[method]
        raise dbus.exceptions.DBusException(message, name=name)


# --- Device1 methods with real state (the stock ones leave the Connected property false) ---
def dev_connect(device):
    _fault(device, "Connect")
    if device.props[DEVICE]["Connected"]:
        raise dbus.exceptions.DBusException("Already Connected", name="org.bluez.Error.AlreadyConnected")
    device.UpdateProperties(DEVICE, {"Connected": dbus.Boolean(True)})
    device.UpdateProperties(DEVICE, {"ServicesResolved": dbus.Boolean(True)})


def dev_disconnect(device):
    _fault(device, "Disconnect")
    if device.cancel_pending_connect():
        return
    if not device.props[DEVICE]["Connected"]:
        raise dbus.exceptions.DBusException("Not Connected", name="org.bluez.Error.NotConnected")
    device.UpdateProperties(DEVICE, {"ServicesResolved": dbus.Boolean(False), "Connected": dbus.Boolean(False)})


@dbus.service.method(MOCK, in_signature="sssn", out_signature="s")
def AddLeDevice(self, adapter_name, address, name, rssi):
    """Add an LE device with BlueZ's real property types (the stock AddDevice sends aa{qv} etc.)."""
    adapter_path = "/org/bluez/" + adapter_name
    path = adapter_path + "/dev_" + address.replace(":", "_").upper()
    props = {
        "Address": dbus.String(address),
        "AddressType": dbus.String("random"),
        "Name": dbus.String(name),
        "Alias": dbus.String(name),
        "Adapter": dbus.ObjectPath(adapter_path),
        "Paired": dbus.Boolean(False),
        "Bonded": dbus.Boolean(False),
        "Trusted": dbus.Boolean(False),
        "Blocked": dbus.Boolean(False),
        "LegacyPairing": dbus.Boolean(False),
        "Connected": dbus.Boolean(False),
        "ServicesResolved": dbus.Boolean(False),
        "UUIDs": dbus.Array([], signature="s"),
        "RSSI": dbus.Int16(rssi),
        "ManufacturerData": dbus.Dictionary({}, signature="qv"),
        "ServiceData": dbus.Dictionary({}, signature="sv"),
    }
    self.AddObject(
        path,
        DEVICE,
        props,
        [
            ("Disconnect", "", "", dev_disconnect),
            ("Pair", "", "", ""),
            ("CancelPairing", "", "", ""),
        ],
        mock_class=LeDevice,
    )
    _added(path, DEVICE, props)
    return path


@dbus.service.method(MOCK, in_signature="sna{qay}", out_signature="")
def Advertise(self, device_path, rssi, manufacturer_data):
    """Simulate an advertisement: RSSI + ManufacturerData change (PropertiesChanged)."""
    md = dbus.Dictionary(
        {dbus.UInt16(k): dbus.Array(v, signature="y", variant_level=1) for k, v in manufacturer_data.items()},
        signature="qv",
    )
    device = mockobject.objects[device_path]
    adapter = mockobject.objects[str(device.props[DEVICE]["Adapter"])]
    if getattr(adapter, "stalled", ""):
        return  # a stuck discovery delivers nothing
    device.UpdateProperties(DEVICE, {"RSSI": dbus.Int16(rssi), "ManufacturerData": md})


# --- A discovery that stops delivering (for the radio watchdog) ---
def _watch_recovery(adapter):
    """Counts StartDiscovery calls and power-offs on this adapter, and clears a stall when the
    step that cures it happens: a restart of discovery ("restart"), or Powered going off then
    on ("power")."""
    if getattr(adapter, "recovery_watched", False):
        return
    adapter.recovery_watched = True
    adapter.discovery_starts = 0
    adapter.power_offs = 0

    def start_discovery(a):
        bluez5.StartDiscovery(a)
        a.discovery_starts += 1
        if a.stalled == "restart":
            a.stalled = ""

    adapter.AddMethod(ADAPTER, "StartDiscovery", "", "", start_discovery)
    emit = adapter.EmitSignal

    def emit_watching_power(interface, name, signature, sigargs):
        changed = sigargs[1] if name == "PropertiesChanged" and sigargs[0] == ADAPTER else {}
        if "Powered" in changed:
            if not changed["Powered"]:
                adapter.power_offs += 1
                if adapter.stalled == "power":
                    adapter.stalled = "power-off-seen"
            elif adapter.stalled == "power-off-seen":
                adapter.stalled = ""
        emit(interface, name, signature, sigargs)

    # Properties.Set (how clients write Powered) announces the change through self.EmitSignal.
    adapter.EmitSignal = emit_watching_power


@dbus.service.method(MOCK, in_signature="ss", out_signature="")
def StallDiscovery(self, adapter_path, cured_by):
    """From now on the adapter delivers no advertisement (Advertise is swallowed) until it is
    cured: cured_by "restart" (StartDiscovery again) or "power" (Powered off, then on)."""
    adapter = mockobject.objects[adapter_path]
    _watch_recovery(adapter)
    adapter.stalled = str(cured_by)


@dbus.service.method(MOCK, in_signature="s", out_signature="as")
def GetMonitors(self, adapter_path):
    """Application roots registered with this adapter's AdvertisementMonitorManager1."""
    return dbus.Array([str(m) for m in getattr(mockobject.objects[adapter_path], "monitors", [])], signature="s")


@dbus.service.method(MOCK, in_signature="s", out_signature="uu")
def GetRecoveryCounts(self, adapter_path):
    """(StartDiscovery calls, power-offs) on this adapter since StallDiscovery was first used."""
    adapter = mockobject.objects[adapter_path]
    return (dbus.UInt32(getattr(adapter, "discovery_starts", 0)), dbus.UInt32(getattr(adapter, "power_offs", 0)))


@dbus.service.method(MOCK, in_signature="ssssb", out_signature="")
def InjectError(self, path, method, error_name, message, sticky):
    """Make the next (sticky: every) call of `method` on `path` fail with error_name/message.
    An empty error_name clears the fault."""
    obj = mockobject.objects[path]
    if not hasattr(obj, "faults"):
        obj.faults = {}
    if error_name:
        obj.faults[str(method)] = (str(error_name), str(message), bool(sticky))
    else:
        obj.faults.pop(str(method), None)


@dbus.service.method(MOCK, in_signature="su", out_signature="")
def SetConnectDelay(self, device_path, delay_ms):
    """Connect on this device replies after delay_ms (0: at once)."""
    mockobject.objects[device_path].connect_delay_ms = int(delay_ms)


@dbus.service.method(MOCK, in_signature="s", out_signature="u")
def GetMaxConnectsInFlight(self, adapter_path):
    """Highest number of Device1.Connect calls in flight at once on this adapter so far."""
    return dbus.UInt32(getattr(mockobject.objects[adapter_path], "max_in_flight", 0))


@dbus.service.method(MOCK, in_signature="s", out_signature="u")
def GetConnectsInFlight(self, adapter_path):
    """Device1.Connect calls in flight on this adapter now."""
    return dbus.UInt32(getattr(mockobject.objects[adapter_path], "in_flight", 0))


@dbus.service.method(MOCK, in_signature="s", out_signature="s")
def GetLastWriteType(self, chrc_path):
    """The `type` option of the last WriteValue on this characteristic ("" before any)."""
    return dbus.String(getattr(mockobject.objects[chrc_path], "last_write_type", ""))


@dbus.service.method(MOCK, in_signature="s", out_signature="")
def DropConnection(self, device_path):
    """The link drops on its own (out of range, supervision timeout): Connected -> false."""
    mockobject.objects[device_path].UpdateProperties(
        DEVICE, {"ServicesResolved": dbus.Boolean(False), "Connected": dbus.Boolean(False)}
    )


@dbus.service.method(MOCK, in_signature="sqs", out_signature="s")
def AddGattService(self, device_path, handle, uuid):
    path = f"{device_path}/service{handle:04x}"
    props = {
        "UUID": dbus.String(uuid),
        "Primary": dbus.Boolean(True),
        "Device": dbus.ObjectPath(device_path),
        "Includes": dbus.Array([], signature="o"),
        "Handle": dbus.UInt16(handle),
    }
    self.AddObject(path, SERVICE, props, [], mock_class=OrderedIntrospectObject)
    _added(path, SERVICE, props)
    return path


def chrc_read(chrc, options):
    _fault(chrc, "ReadValue")
    return dbus.Array(chrc.props[CHRC]["Value"], signature="y")


def chrc_write(chrc, value, options):
    """BlueZ does not touch the cached Value on a write (only reads and notifications change it,
    with PropertiesChanged); the mock stores it silently so a later read returns it."""
    _fault(chrc, "WriteValue")
    chrc.last_write_type = str(options.get("type", "request"))
    chrc.props[CHRC]["Value"] = dbus.Array(value, signature="y")


def chrc_start_notify(chrc):
    _fault(chrc, "StartNotify")
    chrc.UpdateProperties(CHRC, {"Notifying": dbus.Boolean(True)})


def chrc_stop_notify(chrc):
    chrc.UpdateProperties(CHRC, {"Notifying": dbus.Boolean(False)})


@dbus.service.method(MOCK, in_signature="sqsas", out_signature="s")
def AddGattCharacteristic(self, service_path, handle, uuid, flags):
    path = f"{service_path}/char{handle:04x}"
    props = {
        "UUID": dbus.String(uuid),
        "Service": dbus.ObjectPath(service_path),
        "Value": dbus.Array([], signature="y"),
        "Notifying": dbus.Boolean(False),
        "Flags": dbus.Array(flags, signature="s"),
        "Handle": dbus.UInt16(handle),
        "MTU": dbus.UInt16(247),
    }
    self.AddObject(
        path,
        CHRC,
        props,
        [
            ("ReadValue", "a{sv}", "ay", chrc_read),
            ("WriteValue", "aya{sv}", "", chrc_write),
            ("StartNotify", "", "", chrc_start_notify),
            ("StopNotify", "", "", chrc_stop_notify),
        ],
        mock_class=OrderedIntrospectObject,
    )
    _added(path, CHRC, props)
    return path


@dbus.service.method(MOCK, in_signature="sqs", out_signature="s")
def AddGattDescriptor(self, chrc_path, handle, uuid):
    path = f"{chrc_path}/desc{handle:04x}"
    props = {
        "UUID": dbus.String(uuid),
        "Characteristic": dbus.ObjectPath(chrc_path),
        "Value": dbus.Array([], signature="y"),
        "Flags": dbus.Array(["read"], signature="s"),
        "Handle": dbus.UInt16(handle),
    }
    self.AddObject(
        path,
        DESC,
        props,
        [
            ("ReadValue", "a{sv}", "ay", 'ret = dbus.Array(self.props["org.bluez.GattDescriptor1"]["Value"], signature="y")'),
            ("WriteValue", "aya{sv}", "", ""),
        ],
        mock_class=OrderedIntrospectObject,
    )
    _added(path, DESC, props)
    return path


@dbus.service.method(MOCK, in_signature="say", out_signature="")
def Notify(self, chrc_path, value):
    """A notification from the peripheral: Value changes (PropertiesChanged), as BlueZ reports it."""
    chrc = mockobject.objects[chrc_path]
    chrc.UpdateProperties(CHRC, {"Value": dbus.Array(value, signature="y")})


def _removed(path, interfaces):
    mockobject.objects["/"].EmitSignal(
        OBJECT_MANAGER_IFACE,
        "InterfacesRemoved",
        "oas",
        [dbus.ObjectPath(path), dbus.Array(interfaces, signature="s")],
    )


def _below(path, interface):
    """Objects under `path` with `interface`, by handle."""
    found = [p for p, o in mockobject.objects.items() if p.startswith(path + "/") and interface in o.props]
    return sorted(found, key=lambda p: int(mockobject.objects[p].props[interface]["Handle"]))


@dbus.service.method(MOCK, in_signature="sq", out_signature="s")
def ShiftGattService(self, service_path, new_handle):
    """The device's attribute database changed while connected (new firmware; the device sends
    a Service Changed indication): BlueZ drops the service's objects (InterfacesRemoved, the
    deepest first) and adds what it rediscovered (InterfacesAdded). Here the same service comes
    back with the same UUIDs and flags at handles from new_handle on. Returns its new path."""
    service = mockobject.objects[service_path]
    device_path = str(service.props[SERVICE]["Device"])
    uuid = str(service.props[SERVICE]["UUID"])
    plan = []
    for chrc_path in _below(service_path, CHRC):
        chrc = mockobject.objects[chrc_path].props[CHRC]
        descriptors = [str(mockobject.objects[d].props[DESC]["UUID"]) for d in _below(chrc_path, DESC)]
        plan.append((str(chrc["UUID"]), [str(f) for f in chrc["Flags"]], descriptors))
    for path in sorted(_below(service_path, CHRC) + _below(service_path, DESC), key=len, reverse=True):
        interface = DESC if DESC in mockobject.objects[path].props else CHRC
        self.RemoveObject(path)
        _removed(path, [interface])
    self.RemoveObject(service_path)
    _removed(service_path, [SERVICE])
    new_service = AddGattService(self, device_path, new_handle, uuid)
    handle = int(new_handle)
    for chrc_uuid, flags, descriptors in plan:
        handle += 1
        chrc_path = AddGattCharacteristic(self, new_service, handle, chrc_uuid, flags)
        for descriptor_uuid in descriptors:
            handle += 1
            AddGattDescriptor(self, chrc_path, handle, descriptor_uuid)
    return new_service
