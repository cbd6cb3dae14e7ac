package dev.rlog.collector;

import dev.rlog.collector.auth.AgentInfo;
import dev.rlog.collector.auth.AgentRegistry;
import dev.rlog.collector.auth.AuthInterceptor;
import dev.rlog.collector.auth.AuthServiceImpl;
import dev.rlog.collector.auth.ProjectRegistry;
import dev.rlog.collector.auth.SigningKey;
import dev.rlog.collector.auth.TokenIssuer;
import dev.rlog.collector.config.CollectorConfig;
import dev.rlog.collector.flow.IngestQueue;
import dev.rlog.collector.grpc.ByteBudget;
import dev.rlog.collector.grpc.ConnectionReads;
import dev.rlog.collector.grpc.GrpcIngestCounters;
import dev.rlog.collector.grpc.HeartbeatServiceImpl;
import dev.rlog.collector.grpc.LogServiceImpl;
import dev.rlog.collector.grpc.PositionFilter;
import dev.rlog.collector.grpc.ShipWindows;
import dev.rlog.collector.grpc.SmallCallGuard;
import dev.rlog.collector.metrics.CollectorMetrics;
import dev.rlog.collector.store.FsyncPolicy;
import dev.rlog.collector.store.SegmentStore;
import dev.rlog.collector.store.StoreOptions;
import dev.rlog.collector.store.StoreWriter;
import dev.rlog.collector.store.WriteGate;
import dev.rlog.collector.tcp.TcpIngestCounters;
import dev.rlog.collector.tcp.TcpIngestOptions;
import dev.rlog.collector.tcp.TcpIngestServer;
import dev.rlog.collector.tls.ServerTls;
import dev.rlog.common.lifecycle.Service;
import dev.rlog.common.time.Clock;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.IoHandlerFactory;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.ServerChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.nio.NioIoHandler;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioServerSocketChannel;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole collector, wired: store (recovered first), ingest queue, store writer, auth, gRPC
 * services, TCP ingest, metrics.
 *
 * <p><b>Shutdown order</b> (flush before closing what is downstream): stop accepting new gRPC
 * calls and TCP connections; TCP connections hand over what they hold; the queue closes; the
 * writer commits everything accepted (which acknowledges the in-flight Send calls); then the
 * gRPC server, metrics and registries close. Idempotent; returns one future.
 */
public final class Collector implements Service {
  private static final Logger log = LoggerFactory.getLogger(Collector.class);
  static final Duration GRPC_DRAIN_BOUND = Duration.ofSeconds(5);
  static final Duration STEP_BOUND = Duration.ofSeconds(10);
  /** Writing out a full queue (tens of MiB) takes well under a second on a working disk. */
  static final Duration WRITER_DRAIN_BOUND = Duration.ofSeconds(60);

  private final CollectorConfig cfg;
  private final Clock clock;
  private final WriteGate writeGate;

  private SegmentStore store;
  private IngestQueue queue;
  private StoreWriter writer;
  private PositionFilter positions;
  private ProjectRegistry projects;
  private AgentRegistry agents;
  private AuthInterceptor authInterceptor;
  private LogServiceImpl logService;
  private Server grpc;
  private HealthStatusManager health;
  private TcpIngestServer tcp;
  private final TcpIngestCounters tcpCounters = new TcpIngestCounters();
  private final GrpcIngestCounters grpcCounters = new GrpcIngestCounters();
  private ByteBudget inflight;
  private ByteBudget expansion;
  private SmallCallGuard smallCalls;
  private CollectorMetrics metrics;
  private ExecutorService callbacks;
  /** Runs gRPC's call handlers: a fixed pool, so 1,000 calls at once do not mean 1,000 threads. */
  private ExecutorService grpcHandlers;
  /** The gRPC server's own event loops (given to it so that its channel can be ours). */
  private EventLoopGroup grpcAccept;
  private EventLoopGroup grpcIo;
  private ShipWindows shipWindows;
  private ScheduledExecutorService housekeeping;
  /** Its own thread, so a slow agent-table write cannot stretch the recheck bound. */
  private ScheduledExecutorService streamRecheck;
  private CompletableFuture<Void> shutdown;

  public Collector(CollectorConfig cfg, Clock clock) {
    this(cfg, clock, WriteGate.OPEN);
  }

  /** {@code writeGate} lets tests hold the store writer back (a stand-in for a slow disk). */
  public Collector(CollectorConfig cfg, Clock clock, WriteGate writeGate) {
    this.cfg = cfg;
    this.clock = clock;
    this.writeGate = writeGate;
  }

  @Override
  public synchronized void start() throws IOException, InterruptedException {
    Files.createDirectories(cfg.stateDir());
    store = SegmentStore.open(cfg.storeDir(), new StoreOptions(cfg.segmentBytes(),
        cfg.fsyncAlways() ? FsyncPolicy.ALWAYS : FsyncPolicy.NEVER, cfg.dedupRetention(),
        cfg.dedupMaxInstances(), cfg.dropPageCache()), clock);
    positions = new PositionFilter(store.positions());
    CollectorConfig.Queue q = cfg.queue();
    queue = new IngestQueue(q.capacityBytes(), q.capacityRecords(), q.highBytes(), q.lowBytes(),
        q.highRecords(), q.lowRecords());
    writer = new StoreWriter(queue, store, clock, StoreWriter.DEFAULT_CHECKPOINT_INTERVAL,
        writeGate);
    writer.start();

    TokenIssuer issuer = new TokenIssuer(SigningKey.loadOrCreate(cfg.stateDir()), clock,
        cfg.accessTokenTtl());
    projects = ProjectRegistry.open(cfg.stateDir());
    agents = AgentRegistry.open(cfg.stateDir(), clock, issuer);
    authInterceptor = new AuthInterceptor(issuer, agents);
    callbacks = Executors.newSingleThreadExecutor(r -> new Thread(r, "rlog-grpc-callbacks"));
    AtomicInteger handlerThreads = new AtomicInteger();
    // The handlers never block (they hold a call's monitor briefly and hand work to the queue),
    // so a few threads keep up; gRPC's default is a cached pool that grows with the calls.
    grpcHandlers = Executors.newFixedThreadPool(
        Math.max(2, Runtime.getRuntime().availableProcessors()),
        r -> new Thread(r, "rlog-grpc-" + handlerThreads.incrementAndGet()));
    health = new HealthStatusManager();
    CollectorConfig.GrpcLimits lim = cfg.grpcLimits();
    int maxMessage = (int) Math.min(Integer.MAX_VALUE, cfg.maxMessageBytes());
    inflight = new ByteBudget(lim.maxInflightBytes(), callbacks);
    expansion = new ByteBudget(lim.maxBatchStoreBytes(), callbacks);
    logService = new LogServiceImpl(queue, positions,
        uuid -> agents.find(uuid).map(AgentInfo::hostname).orElse(""), clock, callbacks,
        grpcCounters, authInterceptor::recheck,
        new LogServiceImpl.SendBounds(inflight, expansion, maxMessage));
    smallCalls = new SmallCallGuard(inflight, maxMessage, lim.maxSmallMessageBytes(), clock);
    SmallCallGuard.Limit authCalls = new SmallCallGuard.Limit("grpc.max_auth_calls",
        lim.maxAuthCalls());
    // Calls that need no token (Register, Refresh, grpc.health) receive under a budget of their
    // own: whoever reaches the port cannot hold the permits the agents' Send calls need.
    ByteBudget unauthenticated = new ByteBudget((long) lim.maxAuthCalls() * maxMessage, callbacks);
    shipWindows = new ShipWindows(lim.shipWindow(), lim.shipWindowsBudget());
    boolean epoll = Epoll.isAvailable();
    IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    grpcAccept = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("rlog-grpc-accept",
        true), io);
    grpcIo = new MultiThreadIoEventLoopGroup(0, new DefaultThreadFactory("rlog-grpc-io", true),
        io);
    NettyServerBuilder grpcBuilder =
        NettyServerBuilder.forAddress(new InetSocketAddress(cfg.grpc().host(), cfg.grpc().port()))
            // The server channel records the connections it accepts, so that ShipWindows can
            // find the HTTP/2 handler of a Ship call's connection.
            .channelFactory(() -> {
              ServerChannel ch = epoll ? new EpollServerSocketChannel()
                  : new NioServerSocketChannel();
              ch.pipeline().addLast(shipWindows.acceptRecorder());
              return ch;
            })
            .bossEventLoopGroup(grpcAccept)
            .workerEventLoopGroup(grpcIo);
    if (cfg.grpcTls() != null) {
      grpcBuilder.sslContext(ServerTls.forGrpc(cfg.grpcTls()));
    }
    grpc = grpcBuilder
        .executor(grpcHandlers)
        .maxInboundMessageSize(maxMessage)
        // A fixed window (no BDP auto-tuning): a stream that is not reading holds at most this
        // much unread, and a connection too, since the connection window is the same size.
        .flowControlWindow(lim.flowControlWindow())
        // Reads no larger than the window: a connection whose stream waits unread keeps its read
        // buffer, so its size times the connections is what they pin in direct memory.
        .withChildOption(ChannelOption.RCVBUF_ALLOCATOR, new ConnectionReads(
            512, Math.min(4096, lim.flowControlWindow()), lim.flowControlWindow()))
        .permitKeepAliveTime(10, TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true)
        .addService(smallCalls.guard(ServerInterceptors.intercept(
            new AuthServiceImpl(projects, agents), authInterceptor), authCalls, unauthenticated))
        // interceptors run last to first: ShipWindows sees only authenticated calls
        .addService(ServerInterceptors.intercept(logService, shipWindows, authInterceptor))
        .addService(smallCalls.guard(ServerInterceptors.intercept(
            new HeartbeatServiceImpl(agents, clock), authInterceptor), null))
        .addService(smallCalls.guard(health.getHealthService().bindService(), null,
            unauthenticated))
        .build()
        .start();

    if (cfg.tcpEnabled()) {
      tcp = new TcpIngestServer(new TcpIngestOptions(cfg.tcp().host(), cfg.tcp().port(),
          cfg.maxFrameBytes(), cfg.tcpWorkerThreads() > 0 ? cfg.tcpWorkerThreads()
              : Runtime.getRuntime().availableProcessors(), cfg.maxReadBytes(), true,
          cfg.tcpBounds().partialBytesBudget(), cfg.tcpBounds().partialTimeout(),
          cfg.tcpBounds().maxConnections(), cfg.tcpBounds().allow()), queue, clock,
          tcpCounters, cfg.tcpTls() == null ? null : ServerTls.forTcp(cfg.tcpTls()));
      tcp.start();
    }
    if (cfg.metricsEnabled()) {
      metrics = new CollectorMetrics(queue, writer, grpcCounters, tcpCounters, authInterceptor,
          agents, clock, cfg.offlineAfter(), inflight, expansion, smallCalls, shipWindows);
      metrics.start(cfg.metrics().host(), cfg.metrics().port());
    }
    housekeeping = Executors.newSingleThreadScheduledExecutor(
        r -> new Thread(r, "rlog-housekeeping"));
    long flushMs = AgentRegistry.HEARTBEAT_FLUSH_INTERVAL.toMillis();
    housekeeping.scheduleWithFixedDelay(this::flushAgents, flushMs, flushMs,
        TimeUnit.MILLISECONDS);
    Duration idle = lim.receiveIdleTimeout();
    housekeeping.scheduleWithFixedDelay(() -> closeIdleReceivers(idle), 1, 1, TimeUnit.SECONDS);
    long recheckMs = cfg.streamRecheckInterval().toMillis();
    streamRecheck = Executors.newSingleThreadScheduledExecutor(
        r -> new Thread(r, "rlog-stream-recheck"));
    streamRecheck.scheduleWithFixedDelay(this::recheckStreams, recheckMs, recheckMs,
        TimeUnit.MILLISECONDS);
    health.setStatus("", ServingStatus.SERVING);
  }

  private void closeIdleReceivers(Duration timeout) {
    try {
      logService.closeIdleReceivers(timeout);
      smallCalls.closeIdleReceivers(timeout);
    } catch (RuntimeException e) {
      log.warn("closing idle gRPC receivers failed", e);
    }
  }

  private void recheckStreams() {
    try {
      logService.recheckOpenCalls();
    } catch (RuntimeException e) {
      log.warn("could not recheck the tokens of open streams: {}", e.toString());
    }
  }

  private void flushAgents() {
    try {
      agents.flushIfDirty();
    } catch (IOException | RuntimeException e) {
      log.warn("could not persist the agent table: {}", e.toString());
    }
  }

  /**
   * Blocks until {@code stop} opens (a signal) or the store writer dies; returns the exit code
   * the process should use: 0 for a requested stop, 1 for a store failure.
   */
  public int awaitStopOrFailure(CountDownLatch stop) throws InterruptedException {
    CountDownLatch either = new CountDownLatch(1);
    writer.terminated().whenComplete((v, e) -> either.countDown());
    Thread t = new Thread(() -> {
      try {
        stop.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      either.countDown();
    }, "rlog-stop-wait");
    t.setDaemon(true);
    t.start();
    either.await();
    if (stop.getCount() > 0 && writer.failure() != null) {
      log.error("store failed, collector stops: {}", writer.failure().toString());
      return 1;
    }
    return 0;
  }

  public int grpcPort() {
    return grpc.getPort();
  }

  public int tcpPort() {
    return tcp == null ? -1 : tcp.port();
  }

  public int metricsPort() {
    return metrics == null ? -1 : metrics.port();
  }

  public IngestQueue queue() {
    return queue;
  }

  public SegmentStore store() {
    return store;
  }

  public TcpIngestCounters tcpCounters() {
    return tcpCounters;
  }

  /** The wide HTTP/2 windows of Ship connections (tests, diagnostics). */
  public ShipWindows shipWindows() {
    return shipWindows;
  }

  public GrpcIngestCounters grpcCounters() {
    return grpcCounters;
  }

  public ProjectRegistry projects() {
    return projects;
  }

  public AgentRegistry agents() {
    return agents;
  }

  @Override
  public synchronized CompletableFuture<Void> shutdown() {
    if (shutdown != null) {
      return shutdown;
    }
    shutdown = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      try {
        doShutdown();
        shutdown.complete(null);
      } catch (Throwable e) {
        shutdown.completeExceptionally(e);
      }
    }, "rlog-shutdown");
    t.start();
    return shutdown;
  }

  private void doShutdown() throws Exception {
    // Every step runs even if an earlier one failed: a stuck TCP hand-over must not keep the
    // writer from committing what the queue already holds.
    List<Throwable> errors = new ArrayList<>();
    step(errors, "health", () -> {
      if (health != null) {
        health.enterTerminalState();
      }
    });
    step(errors, "grpc stop accepting", () -> {
      if (grpc != null) {
        grpc.shutdown(); // no new calls; running Send calls finish once their data is committed
      }
    });
    step(errors, "tcp hand-over", () -> {
      if (tcp != null) {
        tcp.shutdown().get(STEP_BOUND.toMillis(), TimeUnit.MILLISECONDS);
      }
    });
    step(errors, "store drain", () -> {
      if (writer != null) {
        writer.shutdown().get(WRITER_DRAIN_BOUND.toMillis(), TimeUnit.MILLISECONDS);
      } else if (store != null) {
        store.close();
      }
    });
    step(errors, "grpc drain", () -> {
      if (grpc != null && !grpc.awaitTermination(GRPC_DRAIN_BOUND.toMillis(),
          TimeUnit.MILLISECONDS)) {
        grpc.shutdownNow();
        grpc.awaitTermination(GRPC_DRAIN_BOUND.toMillis(), TimeUnit.MILLISECONDS);
      }
    });
    step(errors, "grpc event loops", () -> {
      for (EventLoopGroup g : new EventLoopGroup[] {grpcIo, grpcAccept}) {
        if (g != null) {
          g.shutdownGracefully(0, GRPC_DRAIN_BOUND.toMillis(), TimeUnit.MILLISECONDS)
              .await(GRPC_DRAIN_BOUND.toMillis());
        }
      }
    });
    step(errors, "grpc handlers", () -> {
      if (grpcHandlers != null) {
        grpcHandlers.shutdown();
        grpcHandlers.awaitTermination(GRPC_DRAIN_BOUND.toMillis(), TimeUnit.MILLISECONDS);
      }
    });
    step(errors, "grpc callbacks", () -> {
      if (callbacks != null) {
        callbacks.shutdown();
        callbacks.awaitTermination(GRPC_DRAIN_BOUND.toMillis(), TimeUnit.MILLISECONDS);
      }
    });
    step(errors, "housekeeping", () -> {
      if (streamRecheck != null) {
        streamRecheck.shutdownNow();
      }
      if (housekeeping != null) {
        housekeeping.shutdownNow();
      }
    });
    step(errors, "metrics", () -> {
      if (metrics != null) {
        metrics.close();
      }
    });
    step(errors, "agent table", () -> {
      if (agents != null) {
        agents.close();
      }
    });
    if (!errors.isEmpty()) {
      IOException e = new IOException("collector did not stop cleanly");
      errors.forEach(e::addSuppressed);
      throw e;
    }
  }

  private interface Step {
    void run() throws Exception;
  }

  private static void step(List<Throwable> errors, String name, Step step) {
    try {
      step.run();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      errors.add(e);
    } catch (Exception e) {
      log.error("shutdown step '{}' failed: {}", name, e.toString());
      errors.add(e);
    }
  }

  Optional<Throwable> storeFailure() {
    return Optional.ofNullable(writer == null ? null : writer.failure());
  }
}
