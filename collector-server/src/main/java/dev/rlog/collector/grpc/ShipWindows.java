package dev.rlog.collector.grpc;

import dev.rlog.collector.auth.AgentIdentity;
import dev.rlog.collector.auth.AuthInterceptor;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandler;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Exception;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2LocalFlowController;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Stream;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wider HTTP/2 receive windows for the connections that carry an authenticated {@code Ship} or
 * {@code Send} stream (our agents and the original ones), out of a fixed budget.
 *
 * <p>Every connection starts with {@code grpc.flow_control_window} (8 KiB): what a connection may
 * have waiting unread, so a thousand connections that send and are not read pin a few MiB. At
 * that size an agent shipping at full speed spends most of its CPU, and the collector's HTTP/2
 * thread most of its, on window updates and 8 KiB reads (measured: about 2 us per 200-byte line on
 * each side). So when a Ship or Send call has passed authentication (this interceptor runs after
 * {@code AuthInterceptor}), its connection is granted {@code grpc.ship_window} (256 KiB) for the
 * connection and for its streams, if {@code grpc.ship_windows_budget} still has that much. The
 * grant is held until the connection closes: the credit an HTTP/2 peer was given cannot be taken
 * back, so returning the budget earlier would let a client collect credit on many connections.
 * Memory the windows can pin is therefore at most {@code connections x flow_control_window +
 * ship_windows_budget}, whatever the clients do; a connection that finds the budget spent keeps
 * the small window and works as before, only with more CPU. One agent holds at most {@link
 * #GRANTS_PER_AGENT} grants (its connection, and the one it reconnects on before the old one is
 * seen closed), so an agent opening connection after connection cannot take the budget from the
 * rest of the fleet.
 *
 * <p>The accepted connections are recorded by {@link #acceptRecorder()}, a handler on the gRPC
 * server channel's pipeline (public Netty API, through the channel factory), so that a call's
 * remote address leads to its connection's {@link Http2ConnectionHandler}.
 */
public final class ShipWindows implements ServerInterceptor {
  private static final Logger log = LoggerFactory.getLogger(ShipWindows.class);
  private static final String SHIP = LogServiceGrpc.getShipMethod().getFullMethodName();
  private static final String SEND = LogServiceGrpc.getSendMethod().getFullMethodName();
  /** Reads of a widened connection: larger than 8 KiB, so fewer syscalls; still a bounded pin. */
  private static final int WIDE_READ_BYTES = 64 << 10;
  /** Wide connections one agent may hold at once. */
  public static final int GRANTS_PER_AGENT = 2;

  private final int window;
  private final long budget;
  private final AtomicLong granted = new AtomicLong();
  private final LongAdder refused = new LongAdder();
  private final Map<SocketAddress, Connection> connections = new ConcurrentHashMap<>();
  /** Grants per agent uuid; guarded by this. */
  private final Map<String, Integer> agentGrants = new java.util.HashMap<>();

  /** One accepted connection; its fields are read and written under the budget's lock. */
  private static final class Connection {
    final Channel channel;
    boolean granted;
    String agent; // the agent the grant was made to
    boolean closed;
    boolean wideReads; // on the channel's event loop only

    Connection(Channel channel) {
      this.channel = channel;
    }
  }

  /**
   * @param window the window of a connection carrying a Ship or Send stream, in bytes
   * @param budget bytes of such windows all connections together may hold; 0 grants none
   */
  public ShipWindows(int window, long budget) {
    if (window < 1 || budget < 0) {
      throw new IllegalArgumentException("window " + window + ", budget " + budget);
    }
    this.window = window;
    this.budget = budget;
  }

  /** The handler that records each accepted connection; add it to the server channel. */
  public ChannelHandler acceptRecorder() {
    return new Recorder();
  }

  @ChannelHandler.Sharable
  private final class Recorder extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof Channel child && child.remoteAddress() != null) {
        SocketAddress remote = child.remoteAddress();
        Connection c = new Connection(child);
        connections.put(remote, c);
        child.closeFuture().addListener(f -> closed(remote, c));
      }
      ctx.fireChannelRead(msg);
    }
  }

  private void closed(SocketAddress remote, Connection c) {
    connections.remove(remote, c);
    synchronized (this) {
      c.closed = true;
      if (c.granted) {
        c.granted = false;
        granted.addAndGet(-window);
        agentGrants.computeIfPresent(c.agent, (k, n) -> n > 1 ? n - 1 : null);
      }
    }
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    AgentIdentity id = AuthInterceptor.IDENTITY.get();
    String method = call.getMethodDescriptor().getFullMethodName();
    if (id != null && (SHIP.equals(method) || SEND.equals(method))) {
      widen(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), id.agentUuid());
    }
    return next.startCall(call, headers);
  }

  /**
   * Grants the connection from {@code remote} its wide window if it has none and the budget and
   * the agent's share allow.
   */
  void widen(SocketAddress remote, String agent) {
    Connection c = remote == null ? null : connections.get(remote);
    if (c == null) {
      return; // not a connection of this server's channel (in-process transport)
    }
    synchronized (this) {
      if (c.closed) {
        return;
      }
      if (!c.granted) {
        if (granted.get() + window > budget
            || agentGrants.getOrDefault(agent, 0) >= GRANTS_PER_AGENT) {
          refused.increment();
          return;
        }
        granted.addAndGet(window);
        c.granted = true;
        c.agent = agent;
        agentGrants.merge(agent, 1, Integer::sum);
      }
    }
    // Each new stream of a granted connection starts at the small initial window: grow it.
    try {
      c.channel.eventLoop().execute(() -> apply(c));
    } catch (RejectedExecutionException e) {
      // the server is stopping: the connection keeps the window it has
    }
  }

  private void apply(Connection c) {
    Channel ch = c.channel;
    Http2ConnectionHandler h = ch.pipeline().get(Http2ConnectionHandler.class);
    if (h == null || !ch.isActive()) {
      return;
    }
    if (!c.wideReads) {
      c.wideReads = true;
      int wide = Math.min(window, WIDE_READ_BYTES);
      ch.config().setRecvByteBufAllocator(
          ch.config().getRecvByteBufAllocator() instanceof ConnectionReads r
              ? r.upTo(Math.max(r.max(), wide))
              : new ConnectionReads(512, 4096, Math.max(4096, wide)));
    }
    Http2LocalFlowController fc = h.decoder().flowController();
    try {
      grow(fc, h.connection().connectionStream());
      h.connection().forEachActiveStream(s -> {
        grow(fc, s);
        return true;
      });
      ch.flush(); // the WINDOW_UPDATE frames
    } catch (Http2Exception e) {
      log.debug("widening the window of {} failed", ch.remoteAddress(), e);
    }
  }

  private void grow(Http2LocalFlowController fc, Http2Stream s) throws Http2Exception {
    int now = fc.initialWindowSize(s);
    if (now < window) {
      fc.incrementWindowSize(s, window - now);
    }
  }

  /** Bytes of wide windows granted to open connections. */
  public long grantedBytes() {
    return granted.get();
  }

  /**
   * Ship/Send calls whose connection kept the small window: the budget was spent, or their agent
   * held {@link #GRANTS_PER_AGENT} already.
   */
  public long refused() {
    return refused.sum();
  }

  /**
   * The receive window each open connection has now (connection level, in bytes), read on each
   * connection's event loop: for tests and diagnostics.
   */
  public CompletableFuture<List<Integer>> connectionWindows() {
    List<CompletableFuture<Integer>> each = new ArrayList<>();
    for (Connection c : connections.values()) {
      CompletableFuture<Integer> f = new CompletableFuture<>();
      each.add(f);
      try {
        c.channel.eventLoop().execute(() -> {
          Http2ConnectionHandler h = c.channel.pipeline().get(Http2ConnectionHandler.class);
          f.complete(h == null || !c.channel.isActive() ? -1
              : h.decoder().flowController().initialWindowSize(h.connection().connectionStream()));
        });
      } catch (RejectedExecutionException e) {
        f.complete(-1);
      }
    }
    return CompletableFuture.allOf(each.toArray(CompletableFuture[]::new))
        .thenApply(v -> each.stream().map(CompletableFuture::join).filter(w -> w >= 0).toList());
  }
}
