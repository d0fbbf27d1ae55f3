"""Two Home Assistant-style clients holding a connection each, for the diagnostics test.

Run by tests/proxy/clients.rs: two aioesphomeapi APIClients connect to `bluefleet proxy`,
subscribe to adverts and slot reports, each connects one device of the world, prints
`HOLDING`, then keeps still until it is killed:

    clients.py --port P [--psk KEY]
"""

import argparse
import asyncio
import sys

from driver import COUNTER, SENSOR, Failed, Slots, api_connect, check, connect_api, wait_for


async def hold_two(args):
    holders = []
    for name, address in (("climate", SENSOR), ("counter", COUNTER)):
        cli = await connect_api(args.port[0], psk=args.psk)
        info = await cli.device_info()
        cli.subscribe_bluetooth_le_raw_advertisements(lambda _: None)
        holders.append((cli, Slots(cli)))
        states = await api_connect(cli, address, info.bluetooth_proxy_feature_flags)
        check(f"{name} client holds its device",
              await wait_for(lambda: states and states[-1][0], 25), str(states))
    print("HOLDING", flush=True)
    await asyncio.sleep(120)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, action="append", required=True)
    parser.add_argument("--psk")
    parser.add_argument("--version", help="the bluefleet version (unused here)")
    args = parser.parse_args()
    try:
        asyncio.run(hold_two(args))
    except Failed as err:
        print(f"FAIL {err}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
