package dev.rlog.collector.tcp;

import dev.rlog.collector.flow.IngestQueue;
import dev.rlog.common.lifecycle.Service;
import dev.rlog.common.time.Clock;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The raw TCP ingest listener (DESIGN.md "Raw TCP ingest"): accepts connections that send
 * length-prefixed records ({@link dev.rlog.common.wire.FrameDecoder}) and feeds them, one chunk
 * per socket read, into the shared {@link IngestQueue}.
 *
 * <p><b>Threading.</b> One accept thread ({@code rlog-tcp-accept}) and
 * {@link TcpIngestOptions#workerThreads()} event-loop threads ({@code rlog-tcp-io}); each
 * connection lives on one of them. Epoll is used when available (and allowed), NIO otherwise.
 *
 * <p><b>Bounds.</b> One read is at most {@link TcpIngestOptions#maxReadBytes()} (the receive
 * buffer allocator is capped), one record at most {@link TcpIngestOptions#maxFrameLength()}
 * (a larger declared length closes that connection only). Each event loop keeps one scratch array
 * of {@code maxReadBytes}; an idle connection holds no buffer.
 *
 * <p><b>When the queue is full or paused</b> a connection stops reading and keeps at most the one
 * chunk it decoded; the kernel window then closes and the sender blocks. Memory is thus bounded by
 * the queue's capacity plus one chunk per paused connection, whatever the number of connections.
 * (With epoll, a paused connection whose peer has closed is read to its end, which adds at most
 * what its socket receive buffer held; see {@link FrameIngestHandler}. NIO never reads a paused
 * connection.)
 *
 * <p><b>Hostile input.</b> Incomplete records of all connections share one
 * {@link TcpIngestOptions#partialBytesBudget()} ({@link PartialBudget}); an incomplete record idle
 * for {@link TcpIngestOptions#partialTimeout()} closes its connection; connections past
 * {@link TcpIngestOptions#maxConnections()} or from outside {@link TcpIngestOptions#allow()} are
 * closed as soon as accepted. Each is counted in {@link TcpIngestMetrics}.
 *
 * <p><b>TLS</b> (optional): with an {@link SslContext} every admitted connection gets an
 * {@code SslHandler} in front of the frame handler, which then sees plaintext only; a failed
 * handshake (a plaintext sender, a missing or unknown client certificate) closes the connection
 * and is counted ({@link TlsHandshakeObserver}). Pausing works as without TLS ({@code
 * autoRead=false}); the {@code SslHandler} may still read to complete one TLS record it has
 * begun, so a paused TLS connection can hold one TLS record (at most 16 KiB of plaintext plus
 * its overhead) on top of the one read above.
 *
 * <p><b>Shutdown</b> stops accepting, then on each connection's event loop stops reading, forces
 * any held chunk into the queue ({@link IngestQueue#forceOffer}) and closes the connection, then
 * stops the event loops. Records read before shutdown are never lost; bytes still in kernel
 * buffers are not read (the sender sees the connection reset). Shut this server down before
 * closing the queue.
 */
public final class TcpIngestServer implements Service {
  private static final Logger log = LoggerFactory.getLogger(TcpIngestServer.class);

  /** Smallest and first guess of the adaptive receive buffer (Netty's usual values). */
  private static final int MIN_READ_GUESS = 512;
  private static final int INITIAL_READ_GUESS = 16 << 10;
  /**
   * Reads per socket wakeup at most, as Netty's own default; the allocator's is one, which
   * costs an extra epoll_wait per read of a busy connection. A paused connection still stops
   * after the read that paused it (the loop checks autoRead before each read).
   */
  private static final int READS_PER_WAKEUP = 16;
  /** Quiet period and bound of event-loop shutdown: nothing is left to run once flushed. */
  private static final long LOOP_QUIET_SECONDS = 0;
  private static final long LOOP_TIMEOUT_SECONDS = 2;

  private final TcpIngestOptions options;
  private final IngestQueue queue;
  private final Clock clock;
  private final TcpIngestMetrics metrics;
  /** Connections open, or closed but still holding records to hand over. */
  private final Set<FrameIngestHandler> live = ConcurrentHashMap.newKeySet();
  private final FastThreadLocal<byte[]> readScratch;
  private final PartialBudget partialBudget;
  private final SourceAllowlist allow;
  /** Connections past the allowlist and the limit, open now. */
  private final AtomicInteger openConnections = new AtomicInteger();
  private final AtomicBoolean refusalLogged = new AtomicBoolean();
  private final AtomicBoolean handshakeFailureLogged = new AtomicBoolean();
  /** Null for a plaintext port. */
  private final SslContext tls;

  private final Object lock = new Object();
  private EventLoopGroup acceptGroup; // guarded by lock
  private EventLoopGroup ioGroup; // guarded by lock
  private volatile Channel serverChannel;
  private volatile boolean nativeTransport;
  private CompletableFuture<Void> shutdownFuture; // guarded by lock

  public TcpIngestServer(
      TcpIngestOptions options, IngestQueue queue, Clock clock, TcpIngestMetrics metrics) {
    this(options, queue, clock, metrics, null);
  }

  /**
   * @param tls when not null, every connection must complete a TLS handshake with this context
   *     before any byte reaches the frame decoder; a failed handshake is counted
   *     ({@link TcpIngestMetrics#tlsHandshakeFailed}) and closes the connection
   */
  public TcpIngestServer(TcpIngestOptions options, IngestQueue queue, Clock clock,
      TcpIngestMetrics metrics, SslContext tls) {
    this.tls = tls;
    this.options = Objects.requireNonNull(options, "options");
    this.queue = Objects.requireNonNull(queue, "queue");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.partialBudget = new PartialBudget(options.partialBytesBudget());
    this.allow = SourceAllowlist.parse(options.allow());
    int scratchSize = options.maxReadBytes();
    this.readScratch = new FastThreadLocal<>() {
      @Override
      protected byte[] initialValue() {
        return new byte[scratchSize];
      }
    };
  }

  /**
   * Binds the port and starts accepting.
   *
   * @throws IOException when the address cannot be bound
   * @throws IllegalStateException when already started or shut down
   */
  @Override
  public void start() throws IOException, InterruptedException {
    synchronized (lock) {
      if (shutdownFuture != null) {
        throw new IllegalStateException("TCP ingest server was shut down");
      }
      if (acceptGroup != null) {
        throw new IllegalStateException("TCP ingest server already started");
      }
      NettyTransport transport = NettyTransport.choose(options.nativeTransport());
      acceptGroup = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("rlog-tcp-accept"),
          transport.ioHandlerFactory());
      ioGroup = new MultiThreadIoEventLoopGroup(options.workerThreads(),
          new DefaultThreadFactory("rlog-tcp-io"), transport.ioHandlerFactory());
      nativeTransport = !transport.name().equals("nio");

      int maxRead = options.maxReadBytes();
      ServerBootstrap bootstrap = new ServerBootstrap()
          .group(acceptGroup, ioGroup)
          .channel(transport.serverChannelType())
          .option(ChannelOption.SO_REUSEADDR, true) // rebind at once after a restart
          .childOption(ChannelOption.RECVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(
              Math.min(MIN_READ_GUESS, maxRead), Math.min(INITIAL_READ_GUESS, maxRead), maxRead)
              .maxMessagesPerRead(READS_PER_WAKEUP))
          // idle senders are normal; keepalive eventually frees connections of vanished hosts
          .childOption(ChannelOption.SO_KEEPALIVE, true)
          .childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              if (admit(ch)) {
                if (tls != null) {
                  // Decrypts before the frame handler; it honours autoRead, so a paused
                  // connection still stops reading. One socket read (maxReadBytes) is what a
                  // paused connection can hold, decrypted, as on a plaintext port.
                  ch.pipeline().addLast(tls.newHandler(ch.alloc()),
                      new TlsHandshakeObserver(metrics, handshakeFailureLogged));
                }
                ch.pipeline().addLast(new FrameIngestHandler(queue, clock, metrics,
                    options.maxFrameLength(), readScratch, live, partialBudget,
                    options.partialTimeout()));
              }
            }
          });
      ChannelFuture bound = bootstrap.bind(options.host(), options.port()).await();
      if (!bound.isSuccess()) {
        // Nothing was accepted: stop the loops now, so a later start() may try again.
        acceptGroup.shutdownGracefully(LOOP_QUIET_SECONDS, LOOP_TIMEOUT_SECONDS, TimeUnit.SECONDS)
            .awaitUninterruptibly();
        ioGroup.shutdownGracefully(LOOP_QUIET_SECONDS, LOOP_TIMEOUT_SECONDS, TimeUnit.SECONDS)
            .awaitUninterruptibly();
        acceptGroup = null;
        ioGroup = null;
        throw new IOException("cannot listen for TCP ingest on " + options.host() + ":"
            + options.port(), bound.cause());
      }
      serverChannel = bound.channel();
      log.info("TCP ingest listening on {} ({}{}, {} I/O threads, records up to {} bytes, up to {}"
          + " connections from {})", serverChannel.localAddress(), transport.name(),
          tls == null ? "" : ", TLS",
          options.workerThreads(), options.maxFrameLength(), options.maxConnections(), allow);
    }
  }

  /**
   * The allowlist and the connection limit, on the new connection's loop before any read:
   * refused connections are closed at once and counted (the first refusal of each kind is logged
   * at WARN, later ones at DEBUG: a scan must not flood the log).
   */
  private boolean admit(Channel ch) {
    InetAddress ip = ch.remoteAddress() instanceof InetSocketAddress inet ? inet.getAddress()
        : null;
    if (!allow.allows(ip)) {
      metrics.refusedNotAllowed();
      logRefusal("TCP ingest: refused a connection from {}: not in tcp.allow ({})",
          FrameIngestHandler.peerOf(ch.remoteAddress()), allow);
      ch.close();
      return false;
    }
    if (openConnections.incrementAndGet() > options.maxConnections()) {
      openConnections.decrementAndGet();
      metrics.refusedMaxConnections();
      logRefusal("TCP ingest: refused a connection from {}: tcp.max_connections ({}) are open",
          FrameIngestHandler.peerOf(ch.remoteAddress()), options.maxConnections());
      ch.close();
      return false;
    }
    ch.closeFuture().addListener(f -> openConnections.decrementAndGet());
    return true;
  }

  private void logRefusal(String format, Object a, Object b) {
    if (refusalLogged.compareAndSet(false, true)) {
      log.warn(format + " (further refusals are logged at DEBUG and counted)", a, b);
    } else {
      log.debug(format, a, b);
    }
  }

  /** Bytes of incomplete records held by all connections now (the budget's use). */
  public long partialBytes() {
    return partialBudget.used();
  }

  /** The bound port (the real one when configured as 0). */
  public int port() {
    Channel ch = serverChannel;
    if (ch == null) {
      throw new IllegalStateException("TCP ingest server is not started");
    }
    return ((InetSocketAddress) ch.localAddress()).getPort();
  }

  /** True when the epoll transport is in use (valid after {@link #start()}). */
  public boolean isNativeTransport() {
    return nativeTransport;
  }

  @Override
  public CompletableFuture<Void> shutdown() {
    CompletableFuture<Void> done;
    EventLoopGroup accept;
    EventLoopGroup workers;
    synchronized (lock) {
      if (shutdownFuture != null) {
        return shutdownFuture;
      }
      shutdownFuture = new CompletableFuture<>();
      done = shutdownFuture;
      accept = acceptGroup;
      workers = ioGroup;
    }
    if (accept == null) {
      done.complete(null); // never started
      return done;
    }
    Channel server = serverChannel;
    CompletableFuture<Void> stoppedAccepting =
        server == null ? CompletableFuture.completedFuture(null) : completion(server.close());
    stoppedAccepting
        // Closing on the accept loop orders after any accept in progress, whose registration is
        // then already queued on its I/O loop, ahead of the flush task submitted below.
        .thenCompose(v -> flushConnections(workers))
        .thenCompose(v -> CompletableFuture.allOf(
            completion(workers.shutdownGracefully(
                LOOP_QUIET_SECONDS, LOOP_TIMEOUT_SECONDS, TimeUnit.SECONDS)),
            completion(accept.shutdownGracefully(
                LOOP_QUIET_SECONDS, LOOP_TIMEOUT_SECONDS, TimeUnit.SECONDS))))
        .whenComplete((v, error) -> {
          if (error != null) {
            log.warn("TCP ingest server did not stop cleanly", error);
            done.completeExceptionally(error);
          } else {
            log.info("TCP ingest server stopped");
            done.complete(null);
          }
        });
    return done;
  }

  /** On each I/O loop: hand over and close every connection living there. */
  private CompletableFuture<Void> flushConnections(EventLoopGroup workers) {
    List<CompletableFuture<Void>> loops = new ArrayList<>();
    for (EventExecutor loop : workers) {
      CompletableFuture<Void> loopDone = new CompletableFuture<>();
      loops.add(loopDone);
      Runnable flush = () -> {
        List<CompletableFuture<Void>> closes = new ArrayList<>();
        for (FrameIngestHandler h : live) {
          if (h.eventLoop() == loop) {
            try {
              closes.add(completion(h.flushForShutdown()));
            } catch (RuntimeException e) {
              log.error("TCP ingest: could not hand over a connection's records at shutdown", e);
            }
          }
        }
        CompletableFuture.allOf(closes.toArray(CompletableFuture[]::new))
            .whenComplete((v, e) -> loopDone.complete(null));
      };
      try {
        loop.execute(flush);
      } catch (RejectedExecutionException e) {
        loopDone.complete(null); // a loop that already stopped has no connections left
      }
    }
    return CompletableFuture.allOf(loops.toArray(CompletableFuture[]::new));
  }

  /** Number of connections open or still holding records; for tests and diagnostics. */
  int liveConnections() {
    return live.size();
  }

  private static CompletableFuture<Void> completion(Future<?> f) {
    CompletableFuture<Void> cf = new CompletableFuture<>();
    f.addListener(done -> {
      if (done.isSuccess()) {
        cf.complete(null);
      } else {
        cf.completeExceptionally(done.cause());
      }
    });
    return cf;
  }
}
