package dev.rlog.agent.config;

import dev.rlog.common.config.AtomicFiles;
import dev.rlog.common.config.YamlConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * Renders an {@link AgentConfig} as {@code agent.yaml} and writes it atomically with mode 0600
 * (the file holds the project key). The keys the first start is required to write (server_addr,
 * project_key, batch_size, flush_interval, heartbeat_interval, sources) are always present, tls
 * when the agent was given TLS files; the
 * others only when they differ from their defaults, so a later release's better default still
 * reaches an agent that never chose one. The header comment lists every optional key.
 *
 * <p>Stateless and thread-safe. What it renders is loaded back before anything is written, so
 * it never leaves a file the agent itself would refuse.
 */
public final class AgentConfigWriter {

  private AgentConfigWriter() {}

  /** The file's text. */
  public static String render(AgentConfig c) {
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("server_addr", c.serverAddr().toString());
    root.put("project_key", c.projectKey());
    root.put("batch_size", c.batchSize());
    if (c.batchMaxBytes() != AgentConfig.DEFAULT_BATCH_MAX_BYTES) {
      root.put("batch_max_bytes", bytes(c.batchMaxBytes()));
    }
    root.put("flush_interval", duration(c.flushInterval()));
    root.put("heartbeat_interval", duration(c.heartbeatInterval()));
    if (c.maxLineBytes() != AgentConfig.DEFAULT_MAX_LINE_BYTES) {
      root.put("max_line_bytes", bytes(c.maxLineBytes()));
    }
    if (c.maxOpenFiles() != AgentConfig.DEFAULT_MAX_OPEN_FILES) {
      root.put("max_open_files", c.maxOpenFiles());
    }
    if (c.startAt() != AgentConfig.DEFAULT_START_AT) {
      root.put("start_at", c.startAt().yamlName());
    }
    if (c.protocol() != AgentConfig.DEFAULT_PROTOCOL) {
      root.put("protocol", c.protocol().yamlName());
    }
    if (!c.metrics().equals(AgentConfig.Metrics.defaults())) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("enabled", c.metrics().enabled());
      m.put("host", c.metrics().host());
      m.put("port", c.metrics().port());
      root.put("metrics", m);
    }
    List<Map<String, Object>> sources = new ArrayList<>();
    for (AgentConfig.Source s : c.sources()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("label", s.label());
      m.put("path", s.path());
      sources.add(m);
    }
    root.put("sources", sources);
    if (c.tls() != null) {
      Map<String, Object> t = new LinkedHashMap<>();
      if (c.tls().ca() != null) {
        t.put("ca", c.tls().ca().toString());
      }
      if (c.tls().hasCertificate()) {
        t.put("cert", c.tls().cert().toString());
        t.put("key", c.tls().key().toString());
      }
      root.put("tls", t);
    }

    DumperOptions opts = new DumperOptions();
    opts.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
    opts.setIndent(2);
    opts.setIndicatorIndent(0);
    opts.setWidth(200);
    return header() + new Yaml(opts).dump(root);
  }

  /**
   * Writes {@code c} to {@code file} (temp file, fsync, atomic rename; mode 0600 from creation).
   *
   * @throws IllegalStateException if the rendered text would not load back (a bug, or a value
   *     such as a source that came from the collector and the loader refuses)
   */
  public static void write(AgentConfig c, Path file) throws IOException {
    String text = render(c);
    // Refuse to persist a file the next start could not read; the message names the key.
    AgentConfig.fromYaml(YamlConfig.parse(file, text));
    AtomicFiles.writeSecret(file, text.getBytes(StandardCharsets.UTF_8));
  }

  private static String header() {
    return "# rlog agent configuration, written at first start; edit and restart the agent.\n"
        + "# Holds the project key: keep it mode 0600.\n"
        + "# Optional keys and their defaults:\n"
        + "#   batch_max_bytes: " + bytes(AgentConfig.DEFAULT_BATCH_MAX_BYTES)
        + "       # encoded bytes per batch\n"
        + "#   max_line_bytes: " + bytes(AgentConfig.DEFAULT_MAX_LINE_BYTES)
        + "        # longer lines are split\n"
        + "#   max_open_files: " + AgentConfig.DEFAULT_MAX_OPEN_FILES
        + "        # per source; more files wait, rotated then oldest first\n"
        + "#   start_at: " + AgentConfig.DEFAULT_START_AT.yamlName()
        + "        # or end, for files seen for the first time\n"
        + "#   protocol: " + AgentConfig.DEFAULT_PROTOCOL.yamlName()
        + "        # or send, for a collector without the Ship method\n"
        + "#   metrics: {enabled: " + AgentConfig.DEFAULT_METRICS_ENABLED + ", host: "
        + AgentConfig.DEFAULT_METRICS_HOST + ", port: " + AgentConfig.DEFAULT_METRICS_PORT + "}\n"
        + "#   tls: {ca: CA.pem, cert: CLIENT.pem, key: CLIENT-KEY.pem}"
        + "   # https:// only; no ca: the system CAs\n";
  }

  /** Whole seconds as a plain number (the documented unit), anything finer in milliseconds. */
  static Object duration(Duration d) {
    if (d.toMillis() % 1000 == 0) {
      return d.toSeconds();
    }
    return d.toMillis() + "ms";
  }

  static Object bytes(long n) {
    if (n > 0 && n % (1L << 20) == 0) {
      return (n >> 20) + "MiB";
    }
    if (n > 0 && n % (1L << 10) == 0) {
      return (n >> 10) + "KiB";
    }
    return n;
  }
}
