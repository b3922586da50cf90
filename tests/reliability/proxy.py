"""A TCP proxy in front of a moto server that the fault tests switch at run time: forward,
refuse connections, or accept them and never answer."""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class SwitchableProxy:
    """A TCP proxy on 127.0.0.1 in front of an upstream server, switched at run time.

    ``forward`` pumps bytes both ways; ``refuse`` closes the listening socket, so connections
    are refused as on a port nothing listens on; ``blackhole`` accepts and reads but never
    answers. Every switch drops the connections open so far (botocore's pooled ones too).
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.mode = "forward"
        self.port = 0
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._stop = threading.Event()
        threading.Thread(target=self._accept, args=(listener, self._stop), daemon=True).start()

    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self._track(conn)
            if self.mode == "blackhole":
                threading.Thread(target=self._drain, args=(conn,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                self._close(conn)
                continue
            upstream.settimeout(None)
            self._track(upstream)
            for source, sink in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()
        listener.close()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.append(sock)

    @staticmethod
    def _close(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        self._close(source)
        self._close(sink)

    def _drain(self, conn: socket.socket) -> None:
        try:
            while conn.recv(65536):
                pass  # read the request, never answer it
        except OSError:
            pass

    def _drop_connections(self) -> None:
        with self._lock:
            connections, self._open = self._open, []
        for sock in connections:
            self._close(sock)

    def _stop_listening(self) -> None:
        if self._listener is not None:
            self._stop.set()
            time.sleep(0.1)  # the accept loop closes the socket within one 50 ms tick
            self._listener = None

    def refuse(self) -> None:
        self._stop_listening()
        self._drop_connections()

    def blackhole(self) -> None:
        self.mode = "blackhole"
        self._drop_connections()
        if self._listener is None:
            self._listen()

    def forward(self) -> None:
        self.mode = "forward"
        self._drop_connections()
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self._stop_listening()
        self._drop_connections()
