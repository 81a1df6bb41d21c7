"""A TCP front for the real OpenSearch node that misbehaves on command, for the chaos suite.

It stands in for what cannot run here: a network path that blackholes (accepts connections
and never answers: a dead load balancer, a partition that drops packets), and a cluster
whose security layer refuses our credentials (the OpenSearch security plugin is not
available to the test node). Modes:

  relay         bytes pass both ways to the node, untouched
  blackhole     connections are accepted, requests read, and nothing is ever answered
  unauthorized  every request is answered 401, as Elasticsearch answers a revoked API key

Changing the mode closes every open connection, so pooled keep-alive connections cannot
carry on in the old mode.
"""

import socket
import threading
from urllib.parse import urlparse

UNAUTHORIZED = (
    b'{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate '
    b'user [modelwatch] for REST request [/_bulk]"}],"type":"security_exception","reason":'
    b'"unable to authenticate user [modelwatch] for REST request [/_bulk]"},"status":401}')


class Front:
    def __init__(self, node_url):
        target = urlparse(node_url)
        self.target = (target.hostname, target.port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(512)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.mode = "relay"
        self.open = set()
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def set_mode(self, mode):
        assert mode in ("relay", "blackhole", "unauthorized"), mode
        with self.lock:
            self.mode = mode
            doomed, self.open = self.open, set()
        for s in doomed:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.listener.close()
        self.set_mode("relay")

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                mode = self.mode
                self.open.add(client)
            threading.Thread(target=getattr(self, mode), args=(client,), daemon=True).start()

    def blackhole(self, client):
        try:
            while client.recv(65536):
                pass
        except OSError:
            pass

    def unauthorized(self, client):
        buffered = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffered:
                    chunk = client.recv(65536)
                    if not chunk:
                        return
                    buffered += chunk
                head, buffered = buffered.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                while len(buffered) < length:
                    chunk = client.recv(65536)
                    if not chunk:
                        return
                    buffered += chunk
                buffered = buffered[length:]
                client.sendall(b"HTTP/1.1 401 Unauthorized\r\n"
                               b"content-type: application/json\r\n"
                               b'www-authenticate: ApiKey, Basic realm="security"\r\n'
                               b"content-length: " + str(len(UNAUTHORIZED)).encode() +
                               b"\r\n\r\n" + UNAUTHORIZED)
        except OSError:
            pass

    def relay(self, client):
        try:
            upstream = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        with self.lock:
            self.open.add(upstream)

        def pump(src, dst):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)
