"""Cluster bus links: one asyncio protocol per TCP connection on the cluster port (inbound) or to a peer's
(outbound).  Frames are whole clusterMsg packets ("RCmb" + totlen); each is handed to ClusterState.process."""
import asyncio
import socket
import time

from cluster import proto


class Link(asyncio.Protocol):
    __slots__ = ("state", "node", "inbound", "transport", "buf", "ctime", "closed", "connected")

    def __init__(self, state, node, inbound):
        self.state = state
        self.node = node
        self.inbound = inbound
        self.transport = None
        self.buf = bytearray()
        self.ctime = int(time.time() * 1000)
        self.closed = False
        self.connected = False

    # -- asyncio callbacks
    def connection_made(self, transport):
        self.transport = transport
        self.connected = True
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        if self.closed:
            transport.close()
            return
        if self.inbound:
            self.state.inbound_links.add(self)
        else:
            self.state.link_connected(self)

    def data_received(self, data):
        buf = self.buf
        buf += data
        while len(buf) >= 8:
            if buf[:4] != proto.SIG:
                self.state.log.verbose("Bad message signature on the cluster bus, closing link")
                self.close()
                return
            totlen = int.from_bytes(buf[4:8], "big")
            if totlen < proto.HDR_LEN:
                self.close()
                return
            if len(buf) < totlen:
                return
            msg = bytes(buf[:totlen])
            del buf[:totlen]
            try:
                keep = self.state.process(self, msg)
            except Exception as exc:       # a bug must not take the bus down
                self.state.log.warning("Cluster bus message processing failed: %r" % (exc,))
                keep = True
            if not keep or self.closed:
                return

    def connection_lost(self, exc):
        self._release()

    # -- API
    def send(self, data):
        if self.transport is not None and not self.closed:
            self.transport.write(data)
            return True
        return False

    def buffered(self):
        t = self.transport
        return t.get_write_buffer_size() if t is not None else 0

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self._release()

    def _release(self):
        self.closed = True
        st = self.state
        st.inbound_links.discard(self)
        n = self.node
        if n is not None:
            if n.link is self:
                n.link = None
            if n.inbound_link is self:
                n.inbound_link = None
        self.node = None
