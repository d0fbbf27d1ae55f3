"""How Home Assistant's stack classifies each failure `bluefleet proxy` answers a connect with.

Run by tests/proxy/failures.rs against a proxy whose one simulated radio fails every connect in
one class (the sim's `faults`). It connects the world's sensor through bleak-retry-connector's
`establish_connection` over bleak-esphome's ESPHomeClient, exactly as a Home Assistant
integration does, and checks the exception class, the advice and the backoff the library
chooses, and how long the proxy took to answer:

    failures.py --port P --expect CLASS --advice TEXT --backoff SECONDS [--min-s S] [--max-s S]

bleak-retry-connector retries transient errors up to `MAX_TRANSIENT_ERRORS` times whatever
`max_attempts` says; the test sets that limit to 1 so the first answer is the one classified.
Prints `PASS <check>` lines and `CLASSIFIED {json}`; exits 1 on the first failed check.
"""

import argparse
import asyncio
import json
import sys
import time

from driver import SENSOR, Bleak, Failed, check, connect_api, mac, wait_for


async def classify(args):
    import bleak_retry_connector
    from bleak import BleakClient
    from bleak_esphome.backend.client import ESPHomeClient

    cli = await connect_api(args.port[0])
    info = await cli.device_info()
    bleak = Bleak(cli, info)
    check("slot report arrives", await wait_for(lambda: bleak.device.ble_connections_free > 0, 8),
          str(bleak.device.ble_connections_free))
    check("the sensor is heard", await wait_for(
        lambda: mac(SENSOR) in {d.address for d in bleak.scanner.discovered_devices}, 8))

    class ProxyClient(BleakClient):
        """A BleakClient on bleak-esphome's backend, as habluetooth hands one to integrations."""

        def __init__(self, device, *a, **kwargs):
            kwargs.pop("_is_retry_client", None)
            super().__init__(device, *a, backend=ESPHomeClient, client_data=bleak.data, **kwargs)

        async def connect(self, **kwargs):
            # When the answer came: the library then sleeps its backoff before raising.
            try:
                return await super().connect(**kwargs)
            finally:
                answered.append(time.monotonic())

    bleak_retry_connector.MAX_TRANSIENT_ERRORS = 1
    answered = []
    started = time.monotonic()
    try:
        client = await bleak_retry_connector.establish_connection(
            ProxyClient, bleak.ble_device(SENSOR), "sensor", max_attempts=1)
        await client.disconnect()
        raise Failed("the connect failed: it connected")
    except Failed:
        raise
    except Exception as err:  # what the library raised is the thing under test
        took = answered[0] - started if answered else time.monotonic() - started
        cause = err.__cause__ if err.__cause__ is not None else err
        seen = {"class": type(err).__name__, "message": str(err), "cause": str(cause),
                "backoff_s": bleak_retry_connector.calculate_backoff_time(cause),
                "answered_after_s": round(took, 2)}
        print("CLASSIFIED " + json.dumps(seen), flush=True)
    check(f"classified as {args.expect}", seen["class"] == args.expect, seen["message"])
    check(f"advice: {args.advice}", args.advice in seen["message"], seen["message"])
    check(f"backoff {args.backoff} s", abs(seen["backoff_s"] - args.backoff) < 1e-9, str(seen["backoff_s"]))
    check(f"answered after at least {args.min_s} s", took >= args.min_s, f"{took:.1f} s")
    check(f"answered within {args.max_s} s", took <= args.max_s, f"{took:.1f} s")
    check("the slot is free again", await wait_for(
        lambda: bleak.device.ble_connections_free == bleak.device.ble_connections_limit, 10),
        f"{bleak.device.ble_connections_free} of {bleak.device.ble_connections_limit}")
    await cli.disconnect()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, action="append", required=True)
    parser.add_argument("--expect", required=True)
    parser.add_argument("--advice", required=True)
    parser.add_argument("--backoff", type=float, required=True)
    parser.add_argument("--min-s", type=float, default=0.0)
    parser.add_argument("--max-s", type=float, default=20.0)
    parser.add_argument("--version", help="the bluefleet version (unused here)")
    args = parser.parse_args()
    try:
        asyncio.run(asyncio.wait_for(classify(args), 60))
    except Failed as err:
        print(f"FAIL {err}", flush=True)
        sys.exit(1)
    except Exception as err:
        print(f"FAIL {type(err).__name__}: {err}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
