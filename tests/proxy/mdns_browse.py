"""Browses `_esphomelib._tcp` the way Home Assistant discovers ESPHome devices (python-zeroconf,
which aioesphomeapi installs), on 127.0.0.1 only, for `--seconds`; prints one
`FOUND {json}` line per service resolved (name, port, addresses, TXT properties).

Run by tests/proxy/mdns.rs inside a network namespace whose only interface is loopback.
"""

import argparse
import json
import time

from zeroconf import IPVersion, ServiceBrowser, ServiceListener, Zeroconf

SERVICE = "_esphomelib._tcp.local."


class Found(ServiceListener):
    def __init__(self):
        self.names = []

    def add_service(self, zc, type_, name):
        self.names.append(name)

    def update_service(self, zc, type_, name):
        pass

    def remove_service(self, zc, type_, name):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    found = Found()
    ServiceBrowser(zc, SERVICE, found)
    time.sleep(args.seconds)
    for name in sorted(set(found.names)):
        info = zc.get_service_info(SERVICE, name, 3000)
        if info is None:
            print("UNRESOLVED " + name, flush=True)
            continue
        properties = {k.decode(): (v or b"").decode() for k, v in info.properties.items()}
        print("FOUND " + json.dumps({"name": name, "port": info.port,
                                     "addresses": info.parsed_addresses(),
                                     "properties": properties}), flush=True)
    zc.close()


if __name__ == "__main__":
    main()
