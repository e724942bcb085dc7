"""The rendezvous of processes started without MPI: a small key-value store served over TCP by rank 0 at
``MASTER_ADDR:MASTER_PORT`` (as torchrun's). The processes exchange only small things through it: the NCCL
unique id, model signatures, random-generator states, barriers. The data themselves travel over NCCL.

Wire format: a request is an operation byte, a 4-byte key length, the key (UTF-8), an 8-byte value length and
the value; the reply is an 8-byte length and the value. ``get`` waits until the key is set.
"""
import socket
import socketserver
import struct
import threading
import time

_SET, _GET = b"S", b"G"


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address):
        super().__init__(address, _Handler)
        self.values = {}
        self.changed = threading.Condition()


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        server, connection = self.server, self.request
        while True:
            try:
                operation, key, value = _read_request(connection)
            except ConnectionError:
                return
            with server.changed:
                if operation == _SET:
                    server.values[key] = value
                    server.changed.notify_all()
                    reply = b""
                else:
                    server.changed.wait_for(lambda: key in server.values)
                    reply = server.values[key]
            connection.sendall(struct.pack("!Q", len(reply)) + reply)


def _receive(connection, size):
    chunks, left = [], size
    while left:
        chunk = connection.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("the rendezvous connection closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_request(connection):
    operation = _receive(connection, 1)
    key = _receive(connection, struct.unpack("!I", _receive(connection, 4))[0]).decode()
    value = _receive(connection, struct.unpack("!Q", _receive(connection, 8))[0])
    return operation, key, value


class TCPStore:
    """A client of the rendezvous store (rank 0 also serves it). ``timeout`` (seconds) bounds every wait: a
    process that never arrives makes the others fail with an error instead of hanging.

    Args:
        host, port: the rendezvous address (``MASTER_ADDR``, ``MASTER_PORT``).
        is_server: whether this process serves the store (rank 0).
        timeout: seconds to wait for the server to come up and for a key to be set.
    """

    def __init__(self, host, port, is_server, timeout=300.0):
        self.timeout = timeout
        self._server = None
        if is_server:
            self._server = _Server(("", port))
            threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self._connection = self._connect(host, port)

    def _connect(self, host, port):
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                connection = socket.create_connection((host, port), timeout=self.timeout)
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return connection
            except OSError as error:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"nnkit.distribution: no rendezvous server at {host}:{port} after "
                                       f"{self.timeout:.0f} s (is rank 0 running? MASTER_ADDR/MASTER_PORT must "
                                       f"name it): {error}") from None
                time.sleep(0.05)

    def _request(self, operation, key, value=b""):
        encoded = key.encode()
        message = operation + struct.pack("!I", len(encoded)) + encoded + struct.pack("!Q", len(value)) + value
        try:
            self._connection.sendall(message)
            return _receive(self._connection, struct.unpack("!Q", _receive(self._connection, 8))[0])
        except socket.timeout:
            raise TimeoutError(f"nnkit.distribution: waited {self.timeout:.0f} s for '{key}' at the rendezvous: "
                               f"another process stopped or is stuck.") from None

    def set(self, key, value):
        """Store ``value`` (bytes) under ``key``."""
        self._request(_SET, key, bytes(value))

    def get(self, key):
        """The bytes under ``key``, waiting (up to the timeout) until some process sets them."""
        return self._request(_GET, key)

    def close(self):
        """Close the connection (and stop serving, on rank 0)."""
        self._connection.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
