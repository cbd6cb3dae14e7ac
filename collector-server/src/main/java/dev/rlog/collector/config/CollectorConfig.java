package dev.rlog.collector.config;

import dev.rlog.collector.store.StoreOptions;
import dev.rlog.collector.tcp.SourceAllowlist;
import dev.rlog.collector.tcp.TcpIngestOptions;
import dev.rlog.common.config.ConfigException;
import dev.rlog.common.config.YamlConfig;
import dev.rlog.common.tls.PemFiles;
import dev.rlog.common.tls.TlsFiles;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Everything {@code config/collector.yaml} can set, validated at load: a bad value names the
 * file and the key. Defaults are the named constants below; a missing file means all defaults.
 * Relative paths are resolved against the working directory.
 *
 * <p>{@code grpcTls} and {@code tcpTls} are null for a plaintext listener; their files are read
 * and checked here (PEM, key matching the certificate), so a bad file stops the collector at
 * load with the file and key named. {@link TlsFiles#ca()} is the client CA (mutual TLS).
 */
public record CollectorConfig(
    Path source,
    Path stateDir,
    Listen grpc,
    long maxMessageBytes,
    Listen tcp,
    boolean tcpEnabled,
    int maxFrameBytes,
    int tcpWorkerThreads,
    int maxReadBytes,
    TcpBounds tcpBounds,
    Path storeDir,
    long segmentBytes,
    boolean fsyncAlways,
    Duration dedupRetention,
    int dedupMaxInstances,
    boolean dropPageCache,
    Queue queue,
    Duration accessTokenTtl,
    Duration streamRecheckInterval,
    Duration offlineAfter,
    boolean metricsEnabled,
    Listen metrics,
    TlsFiles grpcTls,
    TlsFiles tcpTls,
    GrpcLimits grpcLimits) {

  public static final int DEFAULT_GRPC_PORT = 50051;
  public static final int DEFAULT_TCP_PORT = 9000;
  public static final int DEFAULT_METRICS_PORT = 9464;
  public static final long DEFAULT_MAX_MESSAGE_BYTES = 2L << 20;
  public static final int DEFAULT_MAX_FRAME_BYTES = 1 << 20;
  public static final int DEFAULT_MAX_READ_BYTES = 32 << 10;
  public static final long DEFAULT_SEGMENT_BYTES = 128L << 20;
  public static final long DEFAULT_MAX_INFLIGHT_BYTES = 8L << 20;
  public static final long DEFAULT_MAX_BATCH_STORE_BYTES = 8L << 20;
  public static final int DEFAULT_FLOW_CONTROL_WINDOW = 8 << 10;
  public static final int DEFAULT_SHIP_WINDOW = 256 << 10;
  public static final long DEFAULT_SHIP_WINDOWS_BUDGET = 16L << 20;
  public static final int DEFAULT_MAX_SMALL_MESSAGE_BYTES = 16 << 10;
  public static final int DEFAULT_MAX_AUTH_CALLS = 4;
  public static final Duration DEFAULT_RECEIVE_IDLE_TIMEOUT = Duration.ofSeconds(10);
  public static final long DEFAULT_QUEUE_BYTES = 32L << 20;
  public static final long DEFAULT_QUEUE_RECORDS = 1_000_000;
  public static final Duration DEFAULT_ACCESS_TOKEN_TTL = Duration.ofMinutes(15);
  /**
   * How often open Send streams have their access token checked again: a stream whose token
   * expired or whose agent was revoked or re-registered is closed with UNAUTHENTICATED within
   * this long (or at its next message, whichever comes first).
   */
  public static final Duration DEFAULT_STREAM_RECHECK_INTERVAL = Duration.ofSeconds(5);
  public static final Duration DEFAULT_OFFLINE_AFTER = Duration.ofSeconds(90);
  /** Shorter would forget an instance while its agent may still be retrying a batch. */
  public static final Duration MIN_DEDUP_RETENTION = Duration.ofMinutes(1);
  public static final Duration MAX_DEDUP_RETENTION = Duration.ofDays(3650);
  /** About 2 GiB of heap at ~200 bytes an entry: beyond that, a typo rather than a plan. */
  public static final int MAX_DEDUP_MAX_INSTANCES = 10_000_000;

  /** Limits on what raw TCP peers can make the collector hold (DESIGN.md "Backpressure"). */
  public record TcpBounds(
      long partialBytesBudget, Duration partialTimeout, int maxConnections, List<String> allow) {}

  /** A listen address. */
  public record Listen(String host, int port) {}

  /**
   * Memory bounds of the gRPC server (see README, "gRPC bounds").
   *
   * @param maxInflightBytes wire bytes of messages being received or held by all calls
   *     together; a call needs {@code max_message_bytes} of it to receive one message
   * @param maxBatchStoreBytes the largest LogBatch at its store size, and the bytes all calls
   *     together may be expanding at once
   * @param flowControlWindow HTTP/2 window per stream and per connection: what a stream that is
   *     not reading may have waiting unread
   * @param maxSmallMessageBytes decoded size cap of Register, Refresh, Heartbeat, health checks
   * @param maxAuthCalls Register/Refresh calls in progress at once
   * @param receiveIdleTimeout how long a call may hold a receive permit without its message
   *     arriving while other calls wait for one
   * @param shipWindow HTTP/2 window of a connection carrying an authenticated Ship stream
   * @param shipWindowsBudget bytes of such windows all connections together may hold
   */
  public record GrpcLimits(long maxInflightBytes, long maxBatchStoreBytes, int flowControlWindow,
      int maxSmallMessageBytes, int maxAuthCalls, Duration receiveIdleTimeout, int shipWindow,
      long shipWindowsBudget) {}

  /** Bounds and watermarks of the one ingest queue. */
  public record Queue(
      long capacityBytes, long capacityRecords, long highBytes, long lowBytes, long highRecords,
      long lowRecords) {}

  public static CollectorConfig defaults() {
    return fromYaml(YamlConfig.parse(Path.of("config/collector.yaml"), ""));
  }

  /** Loads {@code file}; a file that does not exist is an error naming it. */
  public static CollectorConfig load(Path file) {
    return fromYaml(YamlConfig.load(file));
  }

  public static CollectorConfig fromYaml(YamlConfig y) {
    Path stateDir = Path.of(y.string("state_dir", "state"));

    YamlConfig g = y.section("grpc");
    Listen grpc = new Listen(g.string("host", "0.0.0.0"), port(g, DEFAULT_GRPC_PORT));
    long maxMessage = g.bytes("max_message_bytes", DEFAULT_MAX_MESSAGE_BYTES, 1024, 1L << 30);
    // Unset, these follow the settings they must agree with; set, a conflict is an error.
    long maxInflight = g.bytes("max_inflight_bytes",
        Math.max(DEFAULT_MAX_INFLIGHT_BYTES, maxMessage), 1024, 1L << 40);
    boolean batchStoreSet = g.has("max_batch_store_bytes");
    long maxBatchStore = g.bytes("max_batch_store_bytes", DEFAULT_MAX_BATCH_STORE_BYTES, 4096,
        1L << 30);
    int window = (int) g.bytes("flow_control_window", DEFAULT_FLOW_CONTROL_WINDOW, 1024,
        1L << 30);
    int shipWindow = (int) g.bytes("ship_window", Math.max(window, DEFAULT_SHIP_WINDOW), 1024,
        16L << 20);
    if (shipWindow < window) {
      throw g.error("ship_window", "must be at least flow_control_window (" + window + ")");
    }
    long shipBudget = g.bytes("ship_windows_budget", DEFAULT_SHIP_WINDOWS_BUDGET, 0, 1L << 40);
    int maxSmall = (int) g.bytes("max_small_message_bytes", DEFAULT_MAX_SMALL_MESSAGE_BYTES, 256,
        1L << 20);
    int maxAuthCalls = g.intValue("max_auth_calls", DEFAULT_MAX_AUTH_CALLS, 1, 10_000);
    Duration receiveIdle = g.duration("receive_idle_timeout", DEFAULT_RECEIVE_IDLE_TIMEOUT,
        Duration.ofSeconds(1), Duration.ofHours(1));
    if (maxInflight < maxMessage) {
      throw g.error("max_inflight_bytes",
          "must be at least max_message_bytes (" + maxMessage + "): one message must fit");
    }
    TlsFiles grpcTls = serverTls(g);

    YamlConfig t = y.section("tcp");
    boolean tcpEnabled = t.bool("enabled", true);
    Listen tcp = new Listen(t.string("host", "0.0.0.0"), port(t, DEFAULT_TCP_PORT));
    int maxFrame = (int) t.bytes("max_frame_bytes", DEFAULT_MAX_FRAME_BYTES, 1, 256L << 20);
    int workers = t.intValue("worker_threads", 0, 0, 1024);
    int maxRead = (int) t.bytes("max_read_bytes", DEFAULT_MAX_READ_BYTES, 1024, 16L << 20);
    long partialBudget = t.bytes("partial_bytes_budget",
        Math.max(TcpIngestOptions.DEFAULT_PARTIAL_BYTES_BUDGET, maxFrame), 1, 1L << 40);
    if (partialBudget < maxFrame) {
      throw t.error("partial_bytes_budget", "must be at least max_frame_bytes (" + maxFrame
          + "), or a record of that size could never arrive in pieces");
    }
    Duration partialTimeout = t.duration("partial_timeout",
        TcpIngestOptions.DEFAULT_PARTIAL_TIMEOUT, TcpIngestOptions.MIN_PARTIAL_TIMEOUT,
        Duration.ofDays(1));
    int maxConnections = t.intValue("max_connections", TcpIngestOptions.DEFAULT_MAX_CONNECTIONS,
        1, TcpIngestOptions.MAX_MAX_CONNECTIONS);
    List<String> allow = t.stringList("allow", SourceAllowlist.DEFAULT);
    try {
      SourceAllowlist.parse(allow);
    } catch (IllegalArgumentException e) {
      throw t.error("allow", e.getMessage());
    }
    TcpBounds tcpBounds = new TcpBounds(partialBudget, partialTimeout, maxConnections, allow);
    TlsFiles tcpTls = serverTls(t);

    YamlConfig s = y.section("store");
    Path storeDir = Path.of(s.string("dir", "data"));
    long segment = s.bytes("segment_bytes", DEFAULT_SEGMENT_BYTES, 4096, 1L << 40);
    boolean fsyncAlways = s.choice("fsync", "never", "never", "always").equals("always");
    Duration dedupRetention = s.duration("dedup_retention", StoreOptions.DEFAULT_DEDUP_RETENTION,
        MIN_DEDUP_RETENTION, MAX_DEDUP_RETENTION);
    int dedupMaxInstances = s.intValue("dedup_max_instances",
        StoreOptions.DEFAULT_DEDUP_MAX_INSTANCES, 1, MAX_DEDUP_MAX_INSTANCES);
    boolean dropPageCache = s.bool("drop_page_cache", true);

    YamlConfig q = y.section("queue");
    long capBytes = q.bytes("capacity_bytes", DEFAULT_QUEUE_BYTES, 64 << 10, 1L << 40);
    long capRecords = q.longValue("capacity_records", DEFAULT_QUEUE_RECORDS, 16, 1L << 40);
    long highBytes = q.bytes("high_watermark_bytes", capBytes * 3 / 4, 1, 1L << 40);
    long lowBytes = q.bytes("low_watermark_bytes", capBytes / 4, 0, 1L << 40);
    long highRecords = q.longValue("high_watermark_records", capRecords * 3 / 4, 1, 1L << 40);
    long lowRecords = q.longValue("low_watermark_records", capRecords / 4, 0, 1L << 40);
    if (highBytes > capBytes) {
      throw q.error("high_watermark_bytes", "must not exceed capacity_bytes (" + capBytes + ")");
    }
    if (lowBytes >= highBytes) {
      throw q.error("low_watermark_bytes", "must be below high_watermark_bytes (" + highBytes + ")");
    }
    if (highRecords > capRecords) {
      throw q.error("high_watermark_records", "must not exceed capacity_records (" + capRecords + ")");
    }
    if (lowRecords >= highRecords) {
      throw q.error("low_watermark_records",
          "must be below high_watermark_records (" + highRecords + ")");
    }

    if (!batchStoreSet) {
      maxBatchStore = Math.min(maxBatchStore, capBytes);
    } else if (maxBatchStore > capBytes) {
      throw g.error("max_batch_store_bytes",
          "must not exceed queue.capacity_bytes (" + capBytes + "): a batch must fit the queue");
    }

    YamlConfig a = y.section("auth");
    Duration accessTtl = a.duration("access_token_ttl", DEFAULT_ACCESS_TOKEN_TTL,
        Duration.ofSeconds(1), Duration.ofDays(1));
    Duration streamRecheck = a.duration("stream_recheck_interval",
        DEFAULT_STREAM_RECHECK_INTERVAL, Duration.ofMillis(10), Duration.ofMinutes(5));

    YamlConfig ag = y.section("agents");
    Duration offlineAfter = ag.duration("offline_after", DEFAULT_OFFLINE_AFTER,
        Duration.ofSeconds(1), Duration.ofDays(7));

    YamlConfig m = y.section("metrics");
    boolean metricsEnabled = m.bool("enabled", true);
    Listen metrics = new Listen(m.string("host", "127.0.0.1"), port(m, DEFAULT_METRICS_PORT));

    y.rejectUnknownKeys();
    if (tcpEnabled && sameListen(grpc, tcp)) {
      throw new ConfigException(y.file(), "tcp.port", "is the same as grpc.port");
    }
    return new CollectorConfig(y.file(), stateDir, grpc, maxMessage, tcp, tcpEnabled, maxFrame,
        workers, maxRead, tcpBounds, storeDir, segment, fsyncAlways, dedupRetention, dedupMaxInstances,
        dropPageCache, new Queue(capBytes, capRecords, highBytes, lowBytes, highRecords, lowRecords),
        accessTtl, streamRecheck, offlineAfter, metricsEnabled, metrics, grpcTls, tcpTls,
        new GrpcLimits(maxInflight, maxBatchStore, window, maxSmall, maxAuthCalls,
            receiveIdle, shipWindow, shipBudget));
  }

  /**
   * {@code tls: {cert, key, client_ca}} under {@code listener}: absent means plaintext; present
   * needs cert and key; client_ca turns on mutual TLS.
   */
  private static TlsFiles serverTls(YamlConfig listener) {
    boolean present = listener.has("tls");
    YamlConfig s = listener.section("tls");
    if (!present) {
      if (listener.isWritten("tls")) {
        // "tls:" with everything below commented out must not quietly mean plaintext
        throw listener.error("tls", "is empty: give its files, or remove the key for plaintext");
      }
      return null;
    }
    TlsFiles own = PemFiles.certificateAndKeyAt(s, "cert", "key");
    if (own == null) {
      throw s.error("cert", "is required (with key) when " + listener.key("tls") + " is set");
    }
    return new TlsFiles(own.cert(), own.key(), PemFiles.certificatesAt(s, "client_ca"));
  }

  /** True when the gRPC listener serves TLS. */
  public boolean grpcTlsEnabled() {
    return grpcTls != null;
  }

  private static int port(YamlConfig y, int def) {
    return y.intValue("port", def, 0, 65535);
  }

  private static boolean sameListen(Listen a, Listen b) {
    return a.port() != 0 && a.port() == b.port();
  }
}
