package dev.rlog.collector.tcp;

import dev.rlog.common.wire.FrameDecoder;

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
 */
public record TcpIngestOptions(
    String host, int port, int maxFrameLength, int workerThreads, int maxReadBytes,
    boolean nativeTransport) {

  public static final String DEFAULT_HOST = "0.0.0.0";
  public static final int DEFAULT_PORT = 9000;
  public static final int DEFAULT_MAX_FRAME_LENGTH = 1 << 20;
  public static final int DEFAULT_MAX_READ_BYTES = 64 << 10;
  /** Below this a read cannot even hold the adaptive allocator's smallest guess. */
  public static final int MIN_READ_BYTES = 512;
  public static final int MAX_READ_BYTES = 16 << 20;

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
  }

  /** Defaults: all interfaces, port 9000, 1 MiB frames, one worker per core, 64 KiB reads. */
  public static TcpIngestOptions defaults() {
    return new TcpIngestOptions(DEFAULT_HOST, DEFAULT_PORT, DEFAULT_MAX_FRAME_LENGTH,
        Runtime.getRuntime().availableProcessors(), DEFAULT_MAX_READ_BYTES, true);
  }

  public TcpIngestOptions withHost(String host) {
    return new TcpIngestOptions(host, port, maxFrameLength, workerThreads, maxReadBytes,
        nativeTransport);
  }

  public TcpIngestOptions withPort(int port) {
    return new TcpIngestOptions(host, port, maxFrameLength, workerThreads, maxReadBytes,
        nativeTransport);
  }

  public TcpIngestOptions withMaxFrameLength(int maxFrameLength) {
    return new TcpIngestOptions(host, port, maxFrameLength, workerThreads, maxReadBytes,
        nativeTransport);
  }

  public TcpIngestOptions withWorkerThreads(int workerThreads) {
    return new TcpIngestOptions(host, port, maxFrameLength, workerThreads, maxReadBytes,
        nativeTransport);
  }

  public TcpIngestOptions withMaxReadBytes(int maxReadBytes) {
    return new TcpIngestOptions(host, port, maxFrameLength, workerThreads, maxReadBytes,
        nativeTransport);
  }

  public TcpIngestOptions withNativeTransport(boolean nativeTransport) {
    return new TcpIngestOptions(host, port, maxFrameLength, workerThreads, maxReadBytes,
        nativeTransport);
  }
}
