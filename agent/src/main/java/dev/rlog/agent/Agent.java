package dev.rlog.agent;

import dev.rlog.agent.auth.BearerTokenInterceptor;
import dev.rlog.agent.auth.HostInfo;
import dev.rlog.agent.auth.TokenManager;
import dev.rlog.agent.batch.Batcher;
import dev.rlog.agent.tail.LineSink;
import dev.rlog.agent.config.AgentConfig;
import dev.rlog.agent.config.AgentState;
import dev.rlog.agent.heartbeat.Heartbeat;
import dev.rlog.agent.heartbeat.ProcSystemMetrics;
import dev.rlog.agent.ship.CollectorChannels;
import dev.rlog.agent.ship.ChunkShipper;
import dev.rlog.agent.ship.GrpcChunkTransport;
import dev.rlog.agent.ship.GrpcLogTransport;
import dev.rlog.agent.ship.Shipper;
import dev.rlog.agent.ship.ShipperCounters;
import dev.rlog.agent.tail.TailConfig;
import dev.rlog.agent.tail.TailSource;
import dev.rlog.agent.tail.fs.OffsetStore;
import dev.rlog.agent.tail.fs.TailService;
import dev.rlog.common.lifecycle.Service;
import dev.rlog.common.time.Clock;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent, wired: tail → batcher → shipper (one Send call at a time, positions committed on
 * acknowledgement) plus heartbeat and the optional metrics endpoint.
 *
 * <p><b>Shutdown</b> (flush before closing what is downstream): stop reading files; the shipper
 * flushes the batcher and sends what was read, waiting a bounded time for acknowledgements; the
 * tailer then writes the acknowledged positions; heartbeat and the channel close last. Whatever
 * was not acknowledged is read and sent again after the next start.
 *
 * <p><b>Supervision.</b> Each service thread's end is watched ({@link Supervisor}): if one dies,
 * or ends while the agent is not stopping, {@link #failure()} completes and {@code AgentMain}
 * shuts the agent down and exits 1, so the service manager restarts it from the committed
 * positions instead of leaving it half alive.
 */
public final class Agent implements Service {
  private static final Logger log = LoggerFactory.getLogger(Agent.class);
  /**
   * Lines read but not yet sent are bounded by this (or one batch, if larger); with one call's
   * batches in flight (8 MiB) this is what sizes the agent's heap.
   */
  static final long MAX_BUFFERED_BYTES = 8L << 20;
  /** Lines per Ship chunk at most, whatever batch_size says (see where it is used). */
  static final int MAX_LINES_PER_CHUNK = 4096;

  private final AgentConfig config;
  private final AgentState state;
  private final String initialAccessToken;
  private final Clock clock;
  private final ShipperCounters counters = new ShipperCounters();
  private final Shipper.Options shipperOptions = Shipper.Options.defaults();
  private volatile boolean stopping;
  private final Supervisor supervisor = new Supervisor(() -> stopping);

  private ManagedChannel raw;
  private TokenManager tokens;
  private TailService tail;
  /** The shipping side: a {@link ChunkShipper} or, with {@code protocol: send}, a {@link Shipper}. */
  private Service shipper;
  private Heartbeat heartbeat;
  private AgentMetrics metrics;
  private CompletableFuture<Void> shutdown;

  public Agent(AgentConfig config, AgentState state, String initialAccessToken, Clock clock) {
    this.config = config;
    this.state = state;
    this.initialAccessToken = initialAccessToken;
    this.clock = clock;
  }

  @Override
  public synchronized void start() throws IOException {
    raw = CollectorChannels.builder(config.serverAddr(), config.tls())
        .keepAliveTime(30, TimeUnit.SECONDS)
        .maxInboundMessageSize(4 << 20)
        .build();
    tokens = TokenManager.open(raw, state, config.projectKey(), HostInfo.detect(), clock,
        TokenManager.DEFAULT_DEADLINE, initialAccessToken);
    Channel channel = ClientInterceptors.intercept(raw,
        new BearerTokenInterceptor(tokens::currentAccessToken));

    long bound = Math.max(MAX_BUFFERED_BYTES, config.batchMaxBytes());
    Signals signals = new Signals();
    LineSink sink;
    CompletableFuture<Void> shipperEnded;
    Runnable startShipper;
    if (config.protocol() == AgentConfig.Protocol.SHIP) {
      // A chunk is at most batch_size lines and batch_max_bytes of file: the same bounds a
      // collector sets for a LogBatch (its store-size estimate and message cap) hold for it.
      // Lines are capped too: the collector refuses a chunk whose records could exceed its
      // grpc.max_batch_store_bytes (8 MiB), ~1 KiB per record at worst with long labels.
      ChunkShipper.Options o = ChunkShipper.Options.of(
          Math.min(config.batchSize(), MAX_LINES_PER_CHUNK),
          (int) Math.min(Integer.MAX_VALUE, config.batchMaxBytes()));
      ChunkShipper s = new ChunkShipper(new GrpcChunkTransport(channel), tokens, signals,
          signals::spaceAvailable, clock, o, o.retryPolicy(), counters);
      sink = s;
      shipper = s;
      shipperEnded = s.terminated();
      startShipper = s::start;
    } else {
      Batcher batcher = new Batcher(new Batcher.Options(config.batchSize(),
          config.batchMaxBytes(), config.flushInterval(), bound), clock, signals);
      Shipper s = new Shipper(batcher, new GrpcLogTransport(channel), tokens, signals, clock,
          shipperOptions, counters);
      signals.bind(s);
      sink = s;
      shipper = s;
      shipperEnded = s.terminated();
      startShipper = s::start;
    }
    List<TailSource> sources = config.sources().stream()
        .map(s -> new TailSource(s.label(), s.path())).toList();
    TailConfig tailConfig = TailConfig.builder()
        .maxLineBytes(config.maxLineBytes())
        .maxOpenFiles(config.maxOpenFiles())
        .startPosition(config.startAt() == AgentConfig.StartAt.END
            ? TailConfig.StartPosition.END : TailConfig.StartPosition.BEGINNING)
        .build();
    tail = new TailService(sources, tailConfig, new OffsetStore(state.dir()), sink, clock);
    signals.bind(tail);
    heartbeat = new Heartbeat(channel, tokens, ProcSystemMetrics.forThisHost(), clock,
        config.heartbeatInterval(), Heartbeat.DEFAULT_DEADLINE);

    startShipper.run();
    watch(Shipper.THREAD_NAME, shipperEnded);
    tail.start();
    watch(TailService.THREAD_NAME, tail.terminated());
    heartbeat.start();
    watch(Heartbeat.THREAD_NAME, heartbeat.terminated());
    if (config.metrics().enabled()) {
      metrics = new AgentMetrics(counters, tail, tokens);
      metrics.start(config.metrics().host(), config.metrics().port());
    }
    log.info("agent started: {} sources, collector {} ({})", sources.size(), config.serverAddr(),
        config.protocol() == AgentConfig.Protocol.SHIP ? "Ship stream" : "Send calls");
  }

  public ShipperCounters counters() {
    return counters;
  }

  /**
   * Completes with the first service thread that died, or ended while the agent was not
   * stopping; never completes while all is well.
   */
  public CompletableFuture<ServiceFailure> failure() {
    return supervisor.failure();
  }

  /** Supervises a service thread: its end counts as a failure unless the agent is stopping. */
  void watch(String service, CompletableFuture<?> terminated) {
    supervisor.watch(service, terminated);
  }

  @Override
  public synchronized CompletableFuture<Void> shutdown() {
    stopping = true; // before any service is asked to stop: their ends are then expected
    if (shutdown == null) {
      shutdown = CompletableFuture.runAsync(this::doShutdown,
          r -> new Thread(r, "rlog-agent-shutdown").start());
    }
    return shutdown;
  }

  private void doShutdown() {
    step("stop reading", () -> {
      if (tail != null) {
        tail.stopReading();
      }
    });
    step("send what was read", () -> {
      if (shipper != null) {
        shipper.shutdown().get(shipperOptions.drainTimeout().plusSeconds(5).toMillis(),
            TimeUnit.MILLISECONDS);
      }
    });
    step("write positions", () -> {
      if (tail != null) {
        tail.shutdown().get(10, TimeUnit.SECONDS);
      }
    });
    step("heartbeat", () -> {
      if (heartbeat != null) {
        heartbeat.shutdown().get(10, TimeUnit.SECONDS);
      }
    });
    step("metrics", () -> {
      if (metrics != null) {
        metrics.close();
      }
    });
    step("channel", () -> {
      if (raw != null) {
        raw.shutdown();
        if (!raw.awaitTermination(5, TimeUnit.SECONDS)) {
          raw.shutdownNow();
        }
      }
    });
  }

  private interface Step {
    void run() throws Exception;
  }

  private static void step(String name, Step s) {
    try {
      s.run();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      log.warn("shutdown step '{}' failed: {}", name, e.toString());
    }
  }

  static Duration shutdownBound() {
    return Shipper.Options.DEFAULT_DRAIN_TIMEOUT.plusSeconds(30);
  }

  /**
   * Breaks the construction cycle batcher → shipper → tail → shipper: created first, handed to
   * the batcher (its listener) and the shipper (its committer), bound once they exist. Nothing
   * runs before {@link #bind}, since no thread is started before it, so no signal is lost.
   */
  private static final class Signals implements Batcher.Listener, Shipper.PositionCommitter {
    private volatile Shipper shipper;
    private volatile TailService tail;

    void bind(Shipper shipper) {
      this.shipper = shipper;
    }

    void bind(TailService tail) {
      this.tail = tail;
    }

    @Override
    public void pollNeeded() {
      Shipper s = shipper;
      if (s != null) {
        s.pollNeeded();
      }
    }

    @Override
    public void spaceAvailable() {
      TailService t = tail;
      if (t != null) {
        t.wakeup();
      }
    }

    @Override
    public void commit(Map<String, Long> endOffsets) {
      TailService t = tail;
      if (t == null) {
        throw new IllegalStateException("a commit before the tail service exists");
      }
      endOffsets.forEach(t::commit);
    }
  }

  Path stateDir() {
    return state.dir();
  }
}
