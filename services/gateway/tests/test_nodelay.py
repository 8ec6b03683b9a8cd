"""The gateway's web server sends small and large answers without waiting for the client's delayed
acknowledgement: its listening socket (inherited by every connection) has TCP_NODELAY."""
import socket

import eventlet

from gateway.http import HttpEntrypoint, NoDelayWebServer


def test_the_gateway_listens_with_tcp_nodelay():
    sock = eventlet.listen(("127.0.0.1", 0))
    try:
        NoDelayWebServer().get_wsgi_server(sock, lambda environ, start_response: [])
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        sock.close()
    assert isinstance(HttpEntrypoint.server, NoDelayWebServer)
