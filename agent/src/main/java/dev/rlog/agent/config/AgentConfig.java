package dev.rlog.agent.config;

import dev.rlog.agent.tail.TailConfig;

import dev.rlog.common.config.ConfigException;
import dev.rlog.common.config.YamlConfig;
import dev.rlog.common.tls.PemFiles;
import dev.rlog.common.tls.TlsFiles;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * Everything {@code config/agent.yaml} can set, validated at load: every key is checked, unknown
 * keys are refused, and an error names the file and the (dotted) key. Defaults are the named
 * constants below. Immutable; {@link #toString()} never shows the project key.
 *
 * <pre>
 * server_addr: https://collector.example.com:50051   # required: host:port or http://host:port
 *                                            # (plaintext), https://host:port (TLS)
 * project_key: ...                           # required, secret (the file is mode 0600)
 * batch_size: 1000                           # lines per batch
 * batch_max_bytes: 1MiB                      # encoded bytes per batch
 * flush_interval: 10                         # seconds (or 500ms, 1m): oldest line waits at most this
 * heartbeat_interval: 30                     # seconds
 * max_line_bytes: 1MiB                       # longer lines are split/truncated by the tailer
 * start_at: beginning                        # beginning | end, for a file seen for the first time
 * protocol: ship                             # ship (chunks, windowed; rlog collectors) | send
 *                                            # (LogBatch calls, for collectors without Ship)
 * metrics: {enabled: false, host: 127.0.0.1, port: 9465}
 * sources:
 *   - {label: app, path: /var/log/app/*.log}  # path may be a glob
 * tls:                                       # only with https://; all optional
 *   ca: /etc/rlog/ca.pem                     # trust this CA (default: the system CAs)
 *   cert: /etc/rlog/client.pem               # client certificate, for mutual TLS
 *   key: /etc/rlog/client-key.pem            # its private key (PKCS#8 PEM), with cert
 * </pre>
 *
 * <p>{@code tls} is null when the section is absent; the files it names are read and checked at
 * load (PEM, the key matching the certificate).
 */
public record AgentConfig(
    Path file,
    ServerAddress serverAddr,
    String projectKey,
    int batchSize,
    long batchMaxBytes,
    Duration flushInterval,
    Duration heartbeatInterval,
    int maxLineBytes,
    int maxOpenFiles,
    StartAt startAt,
    Metrics metrics,
    List<Source> sources,
    TlsFiles tls,
    Protocol protocol) {

  public static final Path DEFAULT_FILE = Path.of("config", "agent.yaml");

  public static final int DEFAULT_BATCH_SIZE = 1000;
  public static final int MAX_BATCH_SIZE = 1_000_000;
  /** Below the collector's grpc.max_message_bytes (2 MiB by default). */
  public static final long DEFAULT_BATCH_MAX_BYTES = 1L << 20;
  public static final long MIN_BATCH_MAX_BYTES = 1L << 10;
  /** Above the collector's grpc.max_message_bytes a batch is refused: raise both together. */
  public static final long MAX_BATCH_MAX_BYTES = 64L << 20;
  public static final Duration DEFAULT_FLUSH_INTERVAL = Duration.ofSeconds(10);
  public static final Duration MIN_FLUSH_INTERVAL = Duration.ofMillis(10);
  public static final Duration MAX_FLUSH_INTERVAL = Duration.ofHours(1);
  public static final Duration DEFAULT_HEARTBEAT_INTERVAL = Duration.ofSeconds(30);
  public static final Duration MIN_HEARTBEAT_INTERVAL = Duration.ofSeconds(1);
  public static final Duration MAX_HEARTBEAT_INTERVAL = Duration.ofHours(1);
  public static final int DEFAULT_MAX_LINE_BYTES = 1 << 20;
  public static final int DEFAULT_MAX_OPEN_FILES = TailConfig.DEFAULT_MAX_OPEN_FILES;
  public static final int MAX_MAX_OPEN_FILES = 65_536;
  public static final int MIN_MAX_LINE_BYTES = 64;
  public static final int MAX_MAX_LINE_BYTES = 64 << 20;
  public static final StartAt DEFAULT_START_AT = StartAt.BEGINNING;
  public static final boolean DEFAULT_METRICS_ENABLED = false;
  public static final String DEFAULT_METRICS_HOST = "127.0.0.1";
  public static final int DEFAULT_METRICS_PORT = 9465;
  /** Labels land in every stored record; keep them short and printable. */
  public static final int MAX_LABEL_CHARS = 128;
  public static final int MAX_PATH_CHARS = 4096;

  public static final Protocol DEFAULT_PROTOCOL = Protocol.SHIP;

  /** How lines go to the collector. */
  public enum Protocol {
    /** {@code LogService.Ship}: raw chunks, a window of them in flight (rlog's fast path). */
    SHIP,
    /** {@code LogService.Send}: LogBatch calls, one at a time (any collector of the wire). */
    SEND;

    public String yamlName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** Where reading starts in a file the agent has never seen before. */
  public enum StartAt {
    BEGINNING, END;

    public String yamlName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** The Prometheus endpoint; off unless {@code enabled}. Port 0 picks a free port. */
  public record Metrics(boolean enabled, String host, int port) {
    public static Metrics defaults() {
      return new Metrics(DEFAULT_METRICS_ENABLED, DEFAULT_METRICS_HOST, DEFAULT_METRICS_PORT);
    }
  }

  /**
   * One tailed source: the label its lines carry, and a path that may be a glob
   * ({@code /var/log/app/*.log}), matched with {@link java.nio.file.FileSystem#getPathMatcher}
   * {@code "glob:"} syntax.
   */
  public record Source(String label, String path) {}

  public AgentConfig {
    sources = List.copyOf(sources);
    Objects.requireNonNull(protocol, "protocol");
    if (tls != null && !serverAddr.tls()) {
      throw new IllegalArgumentException("TLS files need an https:// server address");
    }
  }

  /** Without TLS files: plaintext, or TLS trusting the system CAs for an https:// address. */
  public AgentConfig(Path file, ServerAddress serverAddr, String projectKey, int batchSize,
      long batchMaxBytes, Duration flushInterval, Duration heartbeatInterval, int maxLineBytes,
      int maxOpenFiles, StartAt startAt, Metrics metrics, List<Source> sources) {
    this(file, serverAddr, projectKey, batchSize, batchMaxBytes, flushInterval, heartbeatInterval,
        maxLineBytes, maxOpenFiles, startAt, metrics, sources, null, DEFAULT_PROTOCOL);
  }

  /** This config with {@code tls} (null for none). */
  public AgentConfig withTls(TlsFiles tls) {
    return new AgentConfig(file, serverAddr, projectKey, batchSize, batchMaxBytes, flushInterval,
        heartbeatInterval, maxLineBytes, maxOpenFiles, startAt, metrics, sources, tls, protocol);
  }

  /** This config with {@code protocol}. */
  public AgentConfig withProtocol(Protocol protocol) {
    return new AgentConfig(file, serverAddr, projectKey, batchSize, batchMaxBytes, flushInterval,
        heartbeatInterval, maxLineBytes, maxOpenFiles, startAt, metrics, sources, tls, protocol);
  }

  /** Loads and validates {@code file}; a missing file is an error naming it. */
  public static AgentConfig load(Path file) {
    YamlConfig y;
    try {
      y = YamlConfig.load(file);
    } catch (ConfigException e) {
      throw withoutSourceExcerpt(file, e);
    }
    return fromYaml(y);
  }

  /** Validates a parsed mapping; every error names {@code y.file()} and the key. */
  public static AgentConfig fromYaml(YamlConfig y) {
    ServerAddress server;
    String serverText = y.requiredString("server_addr");
    try {
      server = ServerAddress.parse(serverText);
    } catch (IllegalArgumentException e) {
      throw y.error("server_addr", e.getMessage());
    }
    String projectKey = y.requiredString("project_key").strip();
    if (projectKey.chars().anyMatch(Character::isISOControl)) {
      throw y.error("project_key", "must not contain control characters");
    }
    int batchSize = y.intValue("batch_size", DEFAULT_BATCH_SIZE, 1, MAX_BATCH_SIZE);
    long batchMaxBytes = y.bytes("batch_max_bytes", DEFAULT_BATCH_MAX_BYTES, MIN_BATCH_MAX_BYTES,
        MAX_BATCH_MAX_BYTES);
    Duration flush = y.duration("flush_interval", DEFAULT_FLUSH_INTERVAL, MIN_FLUSH_INTERVAL,
        MAX_FLUSH_INTERVAL);
    Duration heartbeat = y.duration("heartbeat_interval", DEFAULT_HEARTBEAT_INTERVAL,
        MIN_HEARTBEAT_INTERVAL, MAX_HEARTBEAT_INTERVAL);
    int maxLine = (int) y.bytes("max_line_bytes", DEFAULT_MAX_LINE_BYTES, MIN_MAX_LINE_BYTES,
        MAX_MAX_LINE_BYTES);
    int maxOpenFiles = y.intValue("max_open_files", DEFAULT_MAX_OPEN_FILES, 1,
        MAX_MAX_OPEN_FILES);
    StartAt startAt = StartAt.valueOf(
        y.choice("start_at", DEFAULT_START_AT.yamlName(), "beginning", "end").toUpperCase(Locale.ROOT));
    Protocol protocol = Protocol.valueOf(
        y.choice("protocol", DEFAULT_PROTOCOL.yamlName(), "ship", "send").toUpperCase(Locale.ROOT));

    YamlConfig m = y.section("metrics");
    Metrics metrics = new Metrics(
        m.bool("enabled", DEFAULT_METRICS_ENABLED),
        m.string("host", DEFAULT_METRICS_HOST).strip(),
        m.intValue("port", DEFAULT_METRICS_PORT, 0, 65535));
    if (metrics.host().isEmpty()) {
      throw m.error("host", "must not be empty");
    }

    List<Source> sources = new ArrayList<>();
    Set<String> paths = new HashSet<>();
    for (YamlConfig s : y.sectionList("sources")) {
      String label = s.requiredString("label").strip();
      String path = s.requiredString("path").strip();
      String labelProblem = textProblem(label, MAX_LABEL_CHARS);
      if (labelProblem != null) {
        throw s.error("label", labelProblem);
      }
      String pathProblem = textProblem(path, MAX_PATH_CHARS);
      if (pathProblem != null) {
        throw s.error("path", pathProblem);
      }
      try {
        FileSystems.getDefault().getPathMatcher("glob:" + path);
      } catch (IllegalArgumentException e) { // PatternSyntaxException included
        throw s.error("path", "is not a valid path or glob: " + e.getMessage());
      }
      // The same files tailed twice would be shipped twice under two positions.
      if (!paths.add(path)) {
        throw s.error("path", "'" + path + "' is already listed by another source");
      }
      sources.add(new Source(label, path));
    }

    TlsFiles tls = tls(y, server);

    y.rejectUnknownKeys();
    // A line that can never fit in a batch would have to be sent in an oversized one.
    if (maxLine > batchMaxBytes) {
      throw new ConfigException(y.file(), y.key("max_line_bytes"),
          "must not exceed batch_max_bytes (" + batchMaxBytes + "), got " + maxLine);
    }
    return new AgentConfig(y.file(), server, projectKey, batchSize, batchMaxBytes, flush,
        heartbeat, maxLine, maxOpenFiles, startAt, metrics, sources, tls, protocol);
  }

  /** {@code tls: {ca, cert, key}}; only meaningful, so only allowed, with an https:// address. */
  private static TlsFiles tls(YamlConfig y, ServerAddress server) {
    boolean present = y.has("tls");
    YamlConfig t = y.section("tls");
    if (!present) {
      if (y.isWritten("tls")) {
        // "tls:" with everything below commented out must not quietly mean plaintext
        throw y.error("tls", "is empty: give its files, or remove the key for plaintext");
      }
      return null;
    }
    if (!server.tls()) {
      throw y.error("tls", "is set but server_addr '" + server + "' is plaintext; write it as"
          + " https://" + server.authority());
    }
    TlsFiles own = PemFiles.certificateAndKeyAt(t, "cert", "key");
    Path ca = PemFiles.certificatesAt(t, "ca");
    return new TlsFiles(own == null ? null : own.cert(), own == null ? null : own.key(), ca);
  }

  /** Never shows the project key: configs end up in logs and exception messages. */
  @Override
  public String toString() {
    return "AgentConfig[file=" + file + ", serverAddr=" + serverAddr + ", projectKey=<redacted>"
        + ", batchSize=" + batchSize + ", batchMaxBytes=" + batchMaxBytes
        + ", flushInterval=" + flushInterval + ", heartbeatInterval=" + heartbeatInterval
        + ", maxLineBytes=" + maxLineBytes + ", maxOpenFiles=" + maxOpenFiles + ", startAt=" + startAt + ", metrics=" + metrics
        + ", sources=" + sources + ", tls=" + tls + "]";
  }

  /**
   * SnakeYAML quotes the offending line in its syntax errors, and in this file that line may hold
   * the project key. Keep the position ("line 2, column 23"), drop the quoted text.
   */
  private static ConfigException withoutSourceExcerpt(Path file, ConfigException e) {
    String prefix = file + ": ";
    String msg = e.getMessage();
    if (e.key() != null || !msg.startsWith(prefix)) {
      return e;
    }
    StringBuilder problem = new StringBuilder();
    for (String line : msg.substring(prefix.length()).split("\n")) {
      if (!line.startsWith("    ") && !line.isBlank()) { // excerpt and caret lines are indented
        problem.append(problem.length() == 0 ? "" : " ").append(line.strip());
      }
    }
    ConfigException clean = new ConfigException(file, null, problem.toString());
    clean.setStackTrace(e.getStackTrace());
    return clean;
  }

  private static String textProblem(String value, int maxChars) {
    if (value.length() > maxChars) {
      return "must be at most " + maxChars + " characters";
    }
    if (value.chars().anyMatch(Character::isISOControl)) {
      return "must not contain control characters";
    }
    return null;
  }
}
