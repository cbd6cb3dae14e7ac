package dev.rlog.common.net;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A loopback TCP proxy for tests that records every byte it forwards, both ways: put it between a
 * client and a server to see what crosses the network. Listens on a free port of 127.0.0.1; one
 * pump thread per direction and connection. {@link #close()} closes everything and waits for the
 * threads.
 *
 * <p>Memory: what it captured is kept until closed, so use it for test-sized traffic.
 */
public final class CapturingProxy implements AutoCloseable {
  private final ServerSocket server;
  private final InetSocketAddress target;
  private final ByteArrayOutputStream captured = new ByteArrayOutputStream();
  private final List<Socket> sockets = new ArrayList<>();
  private final List<Thread> threads = new ArrayList<>();
  private final Thread acceptor;
  private volatile boolean closed;

  public CapturingProxy(String targetHost, int targetPort) throws IOException {
    this.target = new InetSocketAddress(targetHost, targetPort);
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    this.acceptor = new Thread(this::acceptLoop, "capturing-proxy-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  public int port() {
    return server.getLocalPort();
  }

  /** Everything forwarded so far, both directions interleaved. */
  public byte[] captured() {
    synchronized (captured) {
      return captured.toByteArray();
    }
  }

  /** Bytes forwarded so far. */
  public int capturedBytes() {
    synchronized (captured) {
      return captured.size();
    }
  }

  /** True when {@code text}'s UTF-8 bytes appear anywhere in what was forwarded. */
  public boolean sawText(String text) {
    return indexOf(captured(), text.getBytes(StandardCharsets.UTF_8)) >= 0;
  }

  static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  private void acceptLoop() {
    while (!closed) {
      try {
        Socket in = server.accept();
        Socket out = new Socket();
        synchronized (sockets) {
          sockets.add(in);
          sockets.add(out);
        }
        out.connect(target, 10_000);
        pump(in, out, "capturing-proxy-up");
        pump(out, in, "capturing-proxy-down");
      } catch (IOException e) {
        if (!closed) {
          // a connection that failed to reach the target: its client sees it closed
          continue;
        }
        return;
      }
    }
  }

  private void pump(Socket from, Socket to, String name) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[16 << 10];
      try (InputStream in = from.getInputStream()) {
        OutputStream out = to.getOutputStream();
        for (int n; (n = in.read(buf)) > 0; ) {
          synchronized (captured) {
            captured.write(buf, 0, n);
          }
          out.write(buf, 0, n);
          out.flush();
        }
        to.shutdownOutput();
      } catch (IOException e) {
        closeQuietly(to);
      }
    }, name);
    t.setDaemon(true);
    synchronized (threads) {
      threads.add(t);
    }
    t.start();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }

  @Override
  public void close() throws Exception {
    closed = true;
    server.close();
    synchronized (sockets) {
      sockets.forEach(CapturingProxy::closeQuietly);
    }
    acceptor.join(10_000);
    List<Thread> all;
    synchronized (threads) {
      all = new ArrayList<>(threads);
    }
    for (Thread t : all) {
      t.join(10_000);
    }
  }
}
