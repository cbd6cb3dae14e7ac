package dev.rlog.collector.tcp;

import dev.rlog.common.wire.FrameDecoder;
import java.time.Duration;
import java.util.List;

/**
 * Settings of the raw TCP ingest listener. Every field is validated here; the config loader adds
 * the file name to the message.
 *
 * @param host address to listen on ({@code 0.0.0.0} for all interfaces)
 * @param port port to listen on, 0 for any free port (see {@link TcpIngestServer#port()})
 * @param maxFrameLength largest record payload accepted; a larger declared length closes that
 *     connection
 * @param workerThreads event-loop threads serving the connections
 * @param maxReadBytes upper bound of one socket read, which is also what one connection decodes
 *     and hands to the queue at a time, so what a paused connection can hold
 * @param nativeTransport use epoll when the native library loads (falls back to NIO otherwise)
 * @param partialBytesBudget bytes of incomplete records all connections together may hold; past
 *     it the connection with the largest one is closed (see {@link PartialBudget}); at least
 *     {@code maxFrameLength}, or a record of the largest size could never arrive in pieces
 * @param partialTimeout a connection whose incomplete record receives nothing for this long is
 *     closed
 * @param maxConnections connections open at once; more are closed as soon as accepted
 * @param allow CIDR blocks a peer must be in; others are closed as soon as accepted
 */
public record TcpIngestOptions(
    String host, int port, int maxFrameLength, int workerThreads, int maxReadBytes,
    boolean nativeTransport, long partialBytesBudget, Duration partialTimeout,
    int maxConnections, List<String> allow) {

  public static final String DEFAULT_HOST = "0.0.0.0";
  public static final int DEFAULT_PORT = 9000;
  public static final int DEFAULT_MAX_FRAME_LENGTH = 1 << 20;
  public static final int DEFAULT_MAX_READ_BYTES = 64 << 10;
  /** Below this a read cannot even hold the adaptive allocator's smallest guess. */
  public static final int MIN_READ_BYTES = 512;
  public static final int MAX_READ_BYTES = 16 << 20;
  /**
   * Inside the default 112 MiB heap next to the 32 MiB queue: the decoders' buffers take at most
   * twice this.
   */
  public static final long DEFAULT_PARTIAL_BYTES_BUDGET = 16L << 20;
  public static final Duration DEFAULT_PARTIAL_TIMEOUT = Duration.ofSeconds(30);
  public static final Duration MIN_PARTIAL_TIMEOUT = Duration.ofMillis(10);
  public static final int DEFAULT_MAX_CONNECTIONS = 1024;
  public static final int MAX_MAX_CONNECTIONS = 1_000_000;

  public TcpIngestOptions {
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("host must not be empty");
    }
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("port must be 0..65535, got " + port);
    }
    if (maxFrameLength < 0 || maxFrameLength > FrameDecoder.MAX_FRAME_LENGTH_LIMIT) {
      throw new IllegalArgumentException("maxFrameLength must be 0.."
          + FrameDecoder.MAX_FRAME_LENGTH_LIMIT + ", got " + maxFrameLength);
    }
    if (workerThreads < 1) {
      throw new IllegalArgumentException("workerThreads must be at least 1, got " + workerThreads);
    }
    if (maxReadBytes < MIN_READ_BYTES || maxReadBytes > MAX_READ_BYTES) {
      throw new IllegalArgumentException("maxReadBytes must be " + MIN_READ_BYTES + ".."
          + MAX_READ_BYTES + ", got " + maxReadBytes);
    }
    if (partialBytesBudget < maxFrameLength) {
      throw new IllegalArgumentException("partialBytesBudget (" + partialBytesBudget
          + ") must be at least maxFrameLength (" + maxFrameLength + ")");
    }
    if (partialTimeout == null || partialTimeout.compareTo(MIN_PARTIAL_TIMEOUT) < 0) {
      throw new IllegalArgumentException("partialTimeout must be at least "
          + MIN_PARTIAL_TIMEOUT + ", got " + partialTimeout);
    }
    if (maxConnections < 1 || maxConnections > MAX_MAX_CONNECTIONS) {
      throw new IllegalArgumentException("maxConnections must be 1.." + MAX_MAX_CONNECTIONS
          + ", got " + maxConnections);
    }
    allow = List.copyOf(allow);
    SourceAllowlist.parse(allow); // throws naming a bad entry
  }

  /** The first six settings, with the default bounds. */
  public TcpIngestOptions(String host, int port, int maxFrameLength, int workerThreads,
      int maxReadBytes, boolean nativeTransport) {
    this(host, port, maxFrameLength, workerThreads, maxReadBytes, nativeTransport,
        Math.max(DEFAULT_PARTIAL_BYTES_BUDGET, maxFrameLength), DEFAULT_PARTIAL_TIMEOUT,
        DEFAULT_MAX_CONNECTIONS, SourceAllowlist.DEFAULT);
  }

  /** Defaults: all interfaces, port 9000, 1 MiB frames, one worker per core, 64 KiB reads. */
  public static TcpIngestOptions defaults() {
    return new TcpIngestOptions(DEFAULT_HOST, DEFAULT_PORT, DEFAULT_MAX_FRAME_LENGTH,
        Runtime.getRuntime().availableProcessors(), DEFAULT_MAX_READ_BYTES, true);
  }

  public TcpIngestOptions withHost(String host) {
    return new TcpIngestOptions(host, port, maxFrameLength, workerThreads, maxReadBytes,
        nativeTransport, partialBytesBudget, partialTimeout, maxConnections, allow);
  }

  public TcpIngestOptions withPort(int port) {
    return new TcpIngestOptions(host, port, maxFrameLength, workerThreads, maxReadBytes,
        nativeTransport, partialBytesBudget, partialTimeout, maxConnections, allow);
  }

  /** Also raises the partial budget to {@code maxFrameLength} if it is below. */
  public TcpIngestOptions withMaxFrameLength(int maxFrameLength) {
    return new TcpIngestOptions(host, port, maxFrameLength, workerThreads, maxReadBytes,
        nativeTransport, Math.max(partialBytesBudget, maxFrameLength), partialTimeout, maxConnections, allow);
  }

  public TcpIngestOptions withWorkerThreads(int workerThreads) {
    return new TcpIngestOptions(host, port, maxFrameLength, workerThreads, maxReadBytes,
        nativeTransport, partialBytesBudget, partialTimeout, maxConnections, allow);
  }

  public TcpIngestOptions withMaxReadBytes(int maxReadBytes) {
    return new TcpIngestOptions(host, port, maxFrameLength, workerThreads, maxReadBytes,
        nativeTransport, partialBytesBudget, partialTimeout, maxConnections, allow);
  }

  public TcpIngestOptions withNativeTransport(boolean nativeTransport) {
    return new TcpIngestOptions(host, port, maxFrameLength, workerThreads, maxReadBytes,
        nativeTransport, partialBytesBudget, partialTimeout, maxConnections, allow);
  }

  public TcpIngestOptions withPartialBytesBudget(long partialBytesBudget) {
    return new TcpIngestOptions(host, port, maxFrameLength, workerThreads, maxReadBytes,
        nativeTransport, partialBytesBudget, partialTimeout, maxConnections, allow);
  }

  public TcpIngestOptions withPartialTimeout(Duration partialTimeout) {
    return new TcpIngestOptions(host, port, maxFrameLength, workerThreads, maxReadBytes,
        nativeTransport, partialBytesBudget, partialTimeout, maxConnections, allow);
  }

  public TcpIngestOptions withMaxConnections(int maxConnections) {
    return new TcpIngestOptions(host, port, maxFrameLength, workerThreads, maxReadBytes,
        nativeTransport, partialBytesBudget, partialTimeout, maxConnections, allow);
  }

  public TcpIngestOptions withAllow(List<String> allow) {
    return new TcpIngestOptions(host, port, maxFrameLength, workerThreads, maxReadBytes,
        nativeTransport, partialBytesBudget, partialTimeout, maxConnections, allow);
  }
}
