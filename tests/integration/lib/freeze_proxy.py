"""A TCP relay on loopback that can stop forwarding without closing anything: a middlebox
that went quiet, for the heartbeat tests. Runs in threads of the test process; every socket
it opened is closed by close()."""

import select
import socket
import threading


class FreezeProxy:
    def __init__(self, target_port):
        self.target_port = target_port
        self.frozen = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._socks = []
        self.accepted = 0
        self._ls = socket.socket()
        self._ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._ls.bind(("127.0.0.1", 0))
        self._ls.listen(16)
        self._ls.settimeout(0.2)
        self.port = self._ls.getsockname()[1]
        self._t = threading.Thread(target=self._accept, daemon=True)
        self._t.start()

    def freeze(self):
        """Stop passing bytes either way; connections stay open, and new ones are accepted
        and held without being passed on."""
        self.frozen.set()

    def thaw(self):
        self.frozen.clear()

    def _accept(self):
        while not self._stop.is_set():
            try:
                c, _ = self._ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self._socks.append(c)
            threading.Thread(target=self._relay, args=(c,), daemon=True).start()

    def _relay(self, c):
        # While frozen, a new connection is held: nothing reaches the gateway yet.
        while self.frozen.is_set() and not self._stop.is_set():
            self._stop.wait(0.05)
        try:
            u = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            c.close()
            return
        with self._lock:
            self._socks.append(u)
        peers = {c: u, u: c}
        try:
            while not self._stop.is_set():
                if self.frozen.is_set():
                    self._stop.wait(0.05)
                    continue
                r, _, _ = select.select([c, u], [], [], 0.1)
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)
        except OSError:
            return
        finally:
            for s in (c, u):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self):
        self._stop.set()
        try:
            self._ls.close()
        except OSError:
            pass
        with self._lock:
            for s in self._socks:
                try:
                    s.close()
                except OSError:
                    pass
        self._t.join(timeout=2)
