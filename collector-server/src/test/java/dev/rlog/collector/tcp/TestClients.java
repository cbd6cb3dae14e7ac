package dev.rlog.collector.tcp;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.rlog.common.wire.FrameEncoder;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.util.Arrays;

/** Blocking loopback clients for the TCP ingest tests. */
final class TestClients {
  private TestClients() {}

  static Socket connect(int port) throws IOException {
    Socket s = new Socket();
    s.setTcpNoDelay(true); // so separate writes really go out as separate segments
    // a bound for reads in tests that wait for the server's close; never reached when it works
    s.setSoTimeout(30_000);
    s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
    return s;
  }

  static byte[] frames(String... payloads) {
    return FrameEncoder.encodeAll(Arrays.stream(payloads).map(p -> p.getBytes(UTF_8))
        .toArray(byte[][]::new));
  }

  static byte[] header(long length) {
    return new byte[] {
      (byte) (length >>> 24), (byte) (length >>> 16), (byte) (length >>> 8), (byte) length
    };
  }

  /** "127.0.0.1:port" of the client's end, as the server names the peer. */
  static String localPeer(Socket s) {
    return "127.0.0.1:" + s.getLocalPort();
  }

  /** Blocks until the server closes the connection; true on EOF or reset. */
  static boolean closedByServer(Socket s) throws IOException {
    InputStream in = s.getInputStream();
    try {
      return in.read() == -1;
    } catch (SocketException reset) {
      return true; // the server closed with our bytes unread: RST
    }
  }
}
