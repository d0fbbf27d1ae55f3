#!/usr/bin/env bash
# populate the mock: 2 adapters, one LE device with a GATT service/char/desc and a manufacturer advert
set -euo pipefail
M="gdbus call --system --dest org.bluez --object-path / --method"
val() { grep -o "'[^']*'" | tr -d "'"; }
$M org.bluez.Mock.AddAdapter hci0 hub >/dev/null; $M org.bluez.Mock.AddAdapter hci1 hub2 >/dev/null
D=$($M org.bluez.Mock.AddLeDevice hci0 D4:00:00:00:00:01 Thermo -- -70 | val)
S=$($M org.bluez.Mock.AddGattService $D 0x10 0000181a-0000-1000-8000-00805f9b34fb | val)
C=$($M org.bluez.Mock.AddGattCharacteristic $S 0x11 00002a6e-0000-1000-8000-00805f9b34fb "['read','write','notify']" | val)
$M org.bluez.Mock.AddGattDescriptor $C 0x12 00002902-0000-1000-8000-00805f9b34fb >/dev/null
$M org.bluez.Mock.Advertise $D -- -48 "{0x0499: [byte 0x05, 0x10]}" >/dev/null
$M org.bluez.Mock.Notify $C "[byte 0x2a]" >/dev/null
echo "$D $C"
