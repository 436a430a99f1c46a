"""The media plane in `callwire serve`: its flags, its UDP ports, and bytes that are no
protocol of ours dropped, counted in /metrics, and harmless."""

import socket
import subprocess
import unittest

from harness import Server, callwire_bin, free_port, wait_until


def metric(server, name):
    status, _, text = server.request("GET", "/metrics")
    assert status == 200
    for line in text.splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    raise AssertionError(f"{name} not in /metrics")


def free_udp_range(n):
    """n consecutive UDP ports free on loopback right now."""
    for _ in range(50):
        base = free_port()
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free UDP port range")


class MediaPlaneTest(unittest.TestCase):

    def start(self, *extra):
        server = Server(extra_args=list(extra))
        self.addCleanup(server.cleanup)
        server.start()
        return server

    def test_workers_listen_on_the_configured_ports_and_count_what_they_drop(self):
        base = free_udp_range(2)
        server = self.start("--media-workers", "2", "--media-ports", f"{base}-{base + 1}")
        self.assertEqual(metric(server, "callwire_media_workers"), 2)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(udp.close)
        for port in (base, base + 1):
            udp.sendto(b"\xffnot a protocol", ("127.0.0.1", port))
            udp.sendto(b"\x16\xfe\xfd" + b"\x00" * 20, ("127.0.0.1", port))  # DTLS-like
            udp.sendto(b"\x00\x01\x00\x00" + b"\x00" * 4, ("127.0.0.1", port))  # bad STUN
        wait_until(lambda: metric(server, "callwire_media_rx_packets_total") == 6, 5,
                   "the workers to read the datagrams")
        self.assertEqual(metric(server, "callwire_media_dropped_unknown_total"), 2)
        self.assertEqual(metric(server, "callwire_media_dropped_unverified_total"), 2)
        self.assertEqual(metric(server, "callwire_media_stun_malformed_total"), 2)
        self.assertEqual(metric(server, "callwire_media_tx_packets_total"), 0)
        status, _, _ = server.request("GET", "/healthz")
        self.assertEqual(status, 200)

    def test_bad_media_flags_are_refused_with_a_clear_message(self):
        port = free_port()
        for flags, text in ((["--media-ports", "9000"], "MIN-MAX"),
                            (["--media-ports", "9001-9000"], "MIN-MAX"),
                            (["--media-workers", "0"], "--media-workers"),
                            (["--media-workers", "2", "--media-ports", "9000-9000"],
                             "fewer ports than workers"),
                            (["--public-ip", "10.0.0.300"], "not an IP address")):
            with self.subTest(flags=flags):
                r = subprocess.run([callwire_bin(), "serve", "--listen", f"127.0.0.1:{port}",
                                    "--data", "/nonexistent/never-created"] + flags,
                                   capture_output=True, text=True, timeout=10)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(text, r.stderr)

    def test_a_taken_media_port_stops_the_start_with_a_message(self):
        base = free_udp_range(1)
        holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        holder.bind(("127.0.0.1", base))
        self.addCleanup(holder.close)
        server = Server(extra_args=["--media-workers", "1", "--media-ports", f"{base}-{base}"])
        self.addCleanup(server.cleanup)
        server.expect_start_failure()
        self.assertIn("cannot start the media workers", server.log())


if __name__ == "__main__":
    unittest.main()
