package dev.rlog.agent;

import dev.rlog.agent.auth.TokenManager;
import dev.rlog.agent.ship.ShipperCounters;
import dev.rlog.agent.tail.PositionsFile;
import dev.rlog.agent.tail.fs.SourceTailer;
import dev.rlog.agent.tail.fs.TailService;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.DoubleSupplier;
import java.util.function.ToDoubleFunction;

/**
 * The agent's Prometheus endpoint (off by default: {@code metrics.enabled} in agent.yaml). Values
 * are read from the owners' counters and snapshots at scrape time.
 */
final class AgentMetrics implements AutoCloseable {
  private final PrometheusRegistry registry = new PrometheusRegistry();
  private HTTPServer server;

  AgentMetrics(ShipperCounters ship, TailService tail, TokenManager tokens) {
    CounterWithCallback.builder().name("rlog_agent_lines_read_total")
        .help("Lines read and handed to the shipper, per source").labelNames("source")
        .callback(cb -> ship.linesRead().forEach((label, n) -> cb.call(n, label)))
        .register(registry);
    CounterWithCallback.builder().name("rlog_agent_lines_acked_total")
        .help("Lines the collector acknowledged, per source").labelNames("source")
        .callback(cb -> ship.linesAcked().forEach((label, n) -> cb.call(n, label)))
        .register(registry);
    GaugeWithCallback.builder().name("rlog_agent_bytes_behind")
        .help("File size minus committed position, per source").labelNames("source")
        .callback(cb -> bytesBehind(tail.committedPositions())
            .forEach((label, n) -> cb.call(n, label)))
        .register(registry);
    tailGauge(tail, "rlog_agent_backlog_bytes",
        "Bytes in tailed files not yet acknowledged by the collector (as of the last look)",
        SourceTailer.Stats::backlogBytes);
    tailGauge(tail, "rlog_agent_open_files", "Files open for reading", SourceTailer.Stats::openFiles);
    tailGauge(tail, "rlog_agent_tracked_files", "File instances known (open or not)",
        SourceTailer.Stats::trackedFiles);
    CounterWithCallback.builder().name("rlog_agent_lost_bytes_total")
        .help("Bytes of tailed files that were gone before they were read: deleted (left the "
            + "directory unread) or truncated (rewritten with no copy to continue from)")
        .labelNames("source", "reason")
        .callback(cb -> {
          for (SourceTailer.Stats st : tail.stats()) {
            cb.call(st.lostBytesGone(), st.label(), "deleted");
            cb.call(st.lostBytesTruncated(), st.label(), "truncated");
          }
        })
        .register(registry);
    tailCounter(tail, "rlog_agent_rotations_total", "Rotations seen (renamed, moved, replaced)",
        SourceTailer.Stats::rotations);
    tailCounter(tail, "rlog_agent_truncations_total", "Files seen truncated or rewritten",
        SourceTailer.Stats::truncations);
    tailCounter(tail, "rlog_agent_copies_continued_total",
        "Instances continued in their copytruncate or compressed copy",
        SourceTailer.Stats::copiesContinued);
    tailCounter(tail, "rlog_agent_lines_cut_total", "Pieces of over-long lines cut",
        SourceTailer.Stats::piecesCut);
    tailCounter(tail, "rlog_agent_tail_errors_total", "Read, open and listing errors",
        SourceTailer.Stats::errors);
    gauge("rlog_agent_batches_in_flight", "Batches sent and not yet acknowledged",
        ship::batchesInFlight);
    counter("rlog_agent_send_retries_total", "Send calls that failed and were retried",
        ship::retries);
    counter("rlog_agent_send_refused_malformed_total",
        "Send calls the collector refused as malformed (INVALID_ARGUMENT); retried slowly",
        ship::poisonedCalls);
    counter("rlog_agent_send_calls_total", "Send calls started (new connections included)",
        ship::calls);
    counter("rlog_agent_token_refreshes_total", "Access tokens renewed by refresh",
        tokens::refreshCount);
    counter("rlog_agent_registrations_total", "Registrations made to renew tokens",
        tokens::registrationCount);
  }

  private static java.util.Map<String, Long> bytesBehind(PositionsFile positions) {
    java.util.Map<String, Long> out = new java.util.TreeMap<>();
    for (PositionsFile.Entry e : positions.entries()) {
      long size;
      try {
        Path p = Path.of(e.path());
        size = Files.exists(p) ? Files.size(p) : e.committed();
      } catch (IOException | RuntimeException ex) {
        size = e.committed();
      }
      out.merge(e.label(), Math.max(0, size - e.committed()), Long::sum);
    }
    return out;
  }

  private void tailGauge(TailService tail, String name, String help,
      ToDoubleFunction<SourceTailer.Stats> v) {
    GaugeWithCallback.builder().name(name).help(help).labelNames("source")
        .callback(cb -> tail.stats().forEach(st -> cb.call(v.applyAsDouble(st), st.label())))
        .register(registry);
  }

  private void tailCounter(TailService tail, String name, String help,
      ToDoubleFunction<SourceTailer.Stats> v) {
    CounterWithCallback.builder().name(name).help(help).labelNames("source")
        .callback(cb -> tail.stats().forEach(st -> cb.call(v.applyAsDouble(st), st.label())))
        .register(registry);
  }

  private void gauge(String name, String help, DoubleSupplier v) {
    GaugeWithCallback.builder().name(name).help(help).callback(cb -> cb.call(v.getAsDouble()))
        .register(registry);
  }

  private void counter(String name, String help, DoubleSupplier v) {
    CounterWithCallback.builder().name(name).help(help).callback(cb -> cb.call(v.getAsDouble()))
        .register(registry);
  }

  void start(String host, int port) throws IOException {
    server = HTTPServer.builder().hostname(host).port(port).registry(registry).buildAndStart();
  }

  @Override
  public void close() {
    if (server != null) {
      server.close();
    }
  }
}
