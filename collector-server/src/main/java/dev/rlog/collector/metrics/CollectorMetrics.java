package dev.rlog.collector.metrics;

import dev.rlog.collector.auth.AgentRegistry;
import dev.rlog.collector.auth.AuthInterceptor;
import dev.rlog.collector.flow.IngestQueue;
import dev.rlog.collector.grpc.ByteBudget;
import dev.rlog.collector.grpc.GrpcIngestCounters;
import dev.rlog.collector.grpc.ShipWindows;
import dev.rlog.collector.grpc.SmallCallGuard;
import dev.rlog.collector.store.PositionTable;
import dev.rlog.collector.store.SegmentStore;
import dev.rlog.collector.store.StoreWriter;
import dev.rlog.collector.tcp.TcpIngestCounters;
import dev.rlog.common.time.Clock;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.function.DoubleSupplier;

/**
 * The collector's Prometheus endpoint ({@code /metrics}). Every value is read from the owning
 * component's counters at scrape time, so the hot paths only bump their own counters.
 * Store write MB/s is the rate between two scrapes (clock-driven), besides the raw byte counter
 * for {@code rate()} in PromQL.
 */
public final class CollectorMetrics implements AutoCloseable {
  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Clock clock;
  private HTTPServer server;
  private long lastScrapeNanos;
  private long lastScrapeBytes;
  private double lastRate;

  public CollectorMetrics(IngestQueue queue, StoreWriter writer, GrpcIngestCounters grpc,
      TcpIngestCounters tcp, AuthInterceptor auth, AgentRegistry agents, Clock clock,
      Duration offlineAfter, ByteBudget grpcInflight, ByteBudget grpcExpansion,
      SmallCallGuard grpcSmallCalls, ShipWindows shipWindows) {
    this.clock = clock;
    SegmentStore store = writer.store();
    this.lastScrapeNanos = clock.nanoTime();

    CounterWithCallback.builder().name("rlog_ingest_records_total")
        .help("Records received, per ingest path").labelNames("path")
        .callback(cb -> {
          cb.call(tcp.recordsReceived(), "tcp");
          cb.call(grpc.records(), "grpc");
        }).register(registry);
    CounterWithCallback.builder().name("rlog_ingest_bytes_total")
        .help("Payload bytes received, per ingest path").labelNames("path")
        .callback(cb -> {
          cb.call(tcp.payloadBytesReceived(), "tcp");
          cb.call(grpc.bytes(), "grpc");
        }).register(registry);
    gauge("rlog_queue_bytes", "Bytes in the ingest queue (accepted, not yet committed)",
        queue::queuedBytes);
    gauge("rlog_queue_records", "Records in the ingest queue", queue::queuedRecords);
    gauge("rlog_queue_capacity_bytes", "Ingest queue bound in bytes", queue::capacityBytes);
    counter("rlog_queue_pauses_total", "Times the queue crossed its high watermark",
        queue::pauses);
    gauge("rlog_tcp_connections", "Open TCP ingest connections", tcp::openConnections);
    gauge("rlog_tcp_paused_connections", "TCP connections not being read (backpressure)",
        tcp::pausedConnections);
    gauge("rlog_grpc_paused_streams", "Send calls holding a batch (backpressure)",
        grpc::pausedStreams);
    counter("rlog_tcp_frames_too_large_total",
        "TCP connections closed for a frame above the cap", tcp::framesTooLarge);
    counter("rlog_tcp_partial_dropped_records_total",
        "Incomplete frames at connection close (never stored)", tcp::partialRecordsDropped);
    counter("rlog_tcp_records_dropped_total",
        "TCP records received but lost because the store failed", tcp::recordsDropped);
    counter("rlog_tcp_connection_errors_total", "TCP connections closed on an error",
        tcp::connectionErrors);
    counter("rlog_tcp_connections_accepted_total", "TCP connections accepted", tcp::connectionsOpened);
    counter("rlog_tcp_refused_not_allowed_total",
        "TCP connections closed at once: source not in tcp.allow", tcp::connectionsRefusedNotAllowed);
    counter("rlog_tcp_tls_handshake_failed_total",
        "TCP connections to a TLS port closed because the handshake failed (plaintext client,"
            + " missing or unknown client certificate)", tcp::tlsHandshakesFailed);
    counter("rlog_tcp_refused_max_connections_total",
        "TCP connections closed at once: tcp.max_connections were open",
        tcp::connectionsRefusedMaxConnections);
    counter("rlog_tcp_partial_budget_closed_total",
        "TCP connections closed because incomplete records exceeded tcp.partial_bytes_budget",
        tcp::connectionsClosedPartialBudget);
    counter("rlog_tcp_partial_timeout_closed_total",
        "TCP connections closed because an incomplete record idled past tcp.partial_timeout",
        tcp::connectionsClosedPartialTimeout);
    counter("rlog_queue_refused_offers_total",
        "Chunks refused by a full queue (held by their producer)", queue::refusedOffers);
    counter("rlog_store_write_retries_total",
        "Store writes retried because the disk refused them (full); intake paused meanwhile",
        writer::writeRetries);
    counter("rlog_store_checkpoint_failures_total", "Position checkpoints that failed",
        store::checkpointFailures);
    counter("rlog_tcp_partial_dropped_bytes_total",
        "Bytes of incomplete frames at connection close (never stored)",
        tcp::partialBytesDropped);
    counter("rlog_grpc_duplicates_skipped_total",
        "Lines at or below the committed position of their file instance (re-sends)",
        grpc::duplicatesSkipped);
    counter("rlog_grpc_streams_closed_unauthenticated_total",
        "Send streams closed because their access token expired or was revoked while open",
        grpc::streamsClosedUnauthenticated);
    counter("rlog_grpc_calls_failed_total", "Send calls failed because the store could not take them",
        grpc::callsFailed);
    gauge("rlog_grpc_inflight_bytes",
        "gRPC message bytes being received or held by calls (bounded by grpc.max_inflight_bytes)",
        grpcInflight::held);
    gauge("rlog_grpc_expanding_bytes",
        "Store bytes of batches being expanded (bounded by grpc.max_batch_store_bytes)",
        grpcExpansion::held);
    gauge("rlog_grpc_ship_windows_bytes",
        "Bytes of wide HTTP/2 windows held by connections carrying a Ship or Send stream (bounded by"
            + " grpc.ship_windows_budget)", shipWindows::grantedBytes);
    counter("rlog_grpc_ship_windows_refused_total",
        "Ship/Send calls whose connection kept the small window: grpc.ship_windows_budget was spent"
            + " or the agent held two wide connections already",
        shipWindows::refused);
    gauge("rlog_grpc_receive_waiting_calls", "Calls waiting for a receive permit",
        grpcInflight::waiting);
    counter("rlog_grpc_receive_waits_total", "Times a call waited for a receive permit",
        grpcInflight::waits);
    counter("rlog_grpc_batches_too_large_total",
        "Send calls failed for a LogBatch above grpc.max_message_bytes or grpc.max_batch_store_bytes",
        grpc::batchesTooLarge);
    counter("rlog_grpc_small_messages_too_large_total",
        "Register/Refresh/Heartbeat/health requests above grpc.max_small_message_bytes",
        grpcSmallCalls::tooLarge);
    counter("rlog_grpc_auth_calls_refused_total",
        "Register/Refresh calls refused beyond grpc.max_auth_calls", grpcSmallCalls::refusedBusy);
    counter("rlog_grpc_idle_receivers_closed_total",
        "Calls ended for holding a receive permit without a message for grpc.receive_idle_timeout"
            + " while others waited", () -> grpc.idleReceiversClosed() + grpcSmallCalls.idleClosed());
    counter("rlog_store_records_total", "Records written to the store", store::recordsWritten);
    counter("rlog_store_bytes_total", "Bytes written to the store", store::bytesWritten);
    counter("rlog_store_rotations_total", "Segment rotations", store::rotations);
    counter("rlog_store_torn_bytes_dropped_total",
        "Bytes of a torn last record cut at recovery", store::tornBytesDropped);
    PositionTable dedup = store.positions();
    CounterWithCallback.builder().name("rlog_dedup_evictions_total")
        .help("File instances the duplicate filter forgot: expired (store.dedup_retention after "
            + "their last advance) or capacity (store.dedup_max_instances reached); a re-send of "
            + "their lines is stored again")
        .labelNames("reason")
        .callback(cb -> {
          cb.call(dedup.expired(), "expired");
          cb.call(dedup.evictedForCapacity(), "capacity");
        }).register(registry);
    gauge("rlog_dedup_instances", "File instances the duplicate filter remembers", dedup::size);
    gauge("rlog_dedup_max_instances", "store.dedup_max_instances", dedup::maxInstances);
    gauge("rlog_store_write_mib_per_second", "Store write rate since the previous scrape",
        () -> writeRate(store.bytesWritten()));
    counter("rlog_auth_rejected_total", "Calls rejected for a missing, forged or expired token",
        auth::rejected);
    counter("rlog_auth_identity_refusals_total",
        "Registrations that named an agent uuid without its secret and got a fresh uuid",
        agents::identityRefusals);
    // Counted in place: each scrape used to copy, sort and format the whole table twice, and a
    // fleet is thousands of agents.
    gauge("rlog_agents_registered", "Agents known to the collector", agents::size);
    gauge("rlog_agents_online", "Agents with a recent heartbeat",
        () -> agents.countOnline(clock.currentTimeMillis(), offlineAfter));
  }

  private synchronized double writeRate(long bytesNow) {
    long now = clock.nanoTime();
    long dt = now - lastScrapeNanos;
    if (dt > 0) {
      lastRate = (bytesNow - lastScrapeBytes) / (1024.0 * 1024.0) / (dt / 1e9);
      lastScrapeNanos = now;
      lastScrapeBytes = bytesNow;
    }
    return lastRate;
  }

  private void gauge(String name, String help, DoubleSupplier value) {
    GaugeWithCallback.builder().name(name).help(help)
        .callback(cb -> cb.call(value.getAsDouble())).register(registry);
  }

  private void counter(String name, String help, DoubleSupplier value) {
    CounterWithCallback.builder().name(name).help(help)
        .callback(cb -> cb.call(value.getAsDouble())).register(registry);
  }

  public void start(String host, int port) throws IOException {
    server = HTTPServer.builder().hostname(host).port(port).registry(registry).buildAndStart();
  }

  public int port() {
    return server == null ? -1 : server.getPort();
  }

  public PrometheusRegistry registry() {
    return registry;
  }

  @Override
  public void close() {
    if (server != null) {
      server.close();
    }
  }
}
