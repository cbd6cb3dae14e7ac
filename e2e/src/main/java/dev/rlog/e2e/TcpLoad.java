package dev.rlog.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * Drives the raw TCP ingest port: {@code connections} sockets, each sending {@code perConnection}
 * frames of {@code recordBytes} payload bytes, from a few non-blocking selector threads so the
 * client side costs little CPU. The frames are prebuilt once and written as large buffers.
 */
final class TcpLoad {
  private final int port;
  private final int connections;
  private final int recordBytes;
  private final long perConnection;
  private final int threads;

  TcpLoad(int port, int connections, int recordBytes, long perConnection, int threads) {
    this.port = port;
    this.connections = connections;
    this.recordBytes = recordBytes;
    this.perConnection = perConnection;
    this.threads = Math.min(threads, connections);
  }

  long totalRecords() {
    return perConnection * connections;
  }

  /** Connects everything first, then sends; returns when every byte is written. */
  void run() throws Exception {
    int frame = 4 + recordBytes;
    int framesPerBuffer = Math.max(1, (256 * 1024) / frame);
    ByteBuffer proto = ByteBuffer.allocateDirect(framesPerBuffer * frame);
    byte[] payload = new byte[recordBytes];
    for (int i = 0; i < recordBytes; i++) {
      payload[i] = (byte) ('a' + i % 26);
    }
    for (int i = 0; i < framesPerBuffer; i++) {
      proto.putInt(recordBytes).put(payload);
    }
    proto.flip();

    List<List<SocketChannel>> groups = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      groups.add(new ArrayList<>());
    }
    List<SocketChannel> all = new ArrayList<>();
    try {
      for (int c = 0; c < connections; c++) {
        SocketChannel ch = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
        ch.setOption(StandardSocketOptions.TCP_NODELAY, false);
        ch.configureBlocking(false);
        all.add(ch);
        groups.get(c % threads).add(ch);
      }
      List<Thread> workers = new ArrayList<>();
      List<Throwable> errors = new ArrayList<>();
      for (List<SocketChannel> g : groups) {
        Thread th = new Thread(() -> {
          try {
            send(g, proto, frame, framesPerBuffer);
          } catch (Throwable e) {
            synchronized (errors) {
              errors.add(e);
            }
          }
        }, "tcp-load");
        workers.add(th);
        th.start();
      }
      for (Thread th : workers) {
        th.join();
      }
      if (!errors.isEmpty()) {
        throw new IOException("tcp load failed", errors.get(0));
      }
    } finally {
      for (SocketChannel ch : all) {
        ch.close();
      }
    }
  }

  private void send(List<SocketChannel> chans, ByteBuffer proto, int frame, int framesPerBuffer)
      throws IOException {
    try (Selector sel = Selector.open()) {
      for (SocketChannel ch : chans) {
        ConnState st = new ConnState(proto.duplicate(), perConnection);
        st.refill(frame, framesPerBuffer);
        ch.register(sel, SelectionKey.OP_WRITE, st);
      }
      int open = chans.size();
      while (open > 0) {
        sel.select();
        for (SelectionKey k : sel.selectedKeys()) {
          ConnState st = (ConnState) k.attachment();
          SocketChannel ch = (SocketChannel) k.channel();
          while (st.buf.hasRemaining()) {
            if (ch.write(st.buf) == 0) {
              break;
            }
          }
          if (!st.buf.hasRemaining()) {
            if (st.remainingFrames == 0) {
              k.cancel();
              open--;
            } else {
              st.refill(frame, framesPerBuffer);
            }
          }
        }
        sel.selectedKeys().clear();
      }
    }
  }

  private static final class ConnState {
    final ByteBuffer buf;
    long remainingFrames;

    ConnState(ByteBuffer buf, long frames) {
      this.buf = buf;
      this.remainingFrames = frames;
    }

    void refill(int frame, int framesPerBuffer) {
      long n = Math.min(framesPerBuffer, remainingFrames);
      buf.clear();
      buf.limit((int) (n * frame));
      remainingFrames -= n;
    }
  }
}
