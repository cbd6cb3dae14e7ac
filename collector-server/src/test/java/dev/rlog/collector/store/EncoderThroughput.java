package dev.rlog.collector.store;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.common.buffer.ChunkBufferPool;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

/**
 * Not a test: CPU per record of the encoder alone, the way the collector drives it (TCP: one
 * chunk per 32 KiB read, buffers from a pool; gRPC Send: the estimate pass, then 1,000 lines
 * per batch). The end-to-end {@code CollectorBenchmark} also counts the socket reads, the store
 * writes and the JIT, which hide the encoder; this shows it. Prints the later rounds, after the
 * JIT has compiled the loop; run it on a quiet machine and compare medians.
 *
 * <pre>
 * java -cp collector-server/target/classes:collector-server/target/test-classes \
 *     dev.rlog.collector.store.EncoderThroughput
 * </pre>
 */
public final class EncoderThroughput {
  private static final int ROUNDS = 8;
  private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

  public static void main(String[] args) {
    tcp(100);
    tcp(512);
    grpc(false);
    grpc(true);
  }

  private static void tcp(int size) {
    byte[] payload = new byte[size];
    for (int i = 0; i < size; i++) {
      payload[i] = (byte) ('a' + i % 26); // what CollectorBenchmark's TcpLoad sends
    }
    byte[] peer = JsonLinesEncoder.quote("127.0.0.1:45678");
    int perRead = (32 << 10) / (size + 4);
    JsonLinesEncoder enc = new JsonLinesEncoder(256, new ChunkBufferPool(4 << 20, 32));
    for (int r = 0; r < ROUNDS; r++) {
      long t0 = CPU.getCurrentThreadCpuTime();
      long records = 0;
      long out = 0;
      for (int read = 0; read < 20_000; read++) {
        enc.receiveTime(1_700_000_000_000L + read);
        enc.reserve(ChunkBufferPool.sizeClass(perRead * (size + 90)));
        for (int i = 0; i < perRead; i++) {
          enc.tcpRecord(peer, payload, 0, size);
        }
        Chunk c = enc.finish(List.of());
        records += perRead;
        out += c.length();
        c.releaseBuffer(); // as the store writer does
      }
      report(r, "tcp " + size + " B", CPU.getCurrentThreadCpuTime() - t0, records,
          records * size, out);
    }
  }

  private static void grpc(boolean withPosition) {
    StringBuilder sb = new StringBuilder();
    while (sb.length() < 200) { // GrpcLoad's line
      sb.append("2026-11-21T22:01:27.123Z INFO GET /api/v1/items?id=42 200 17ms ua=bench ");
    }
    byte[] line = sb.substring(0, 200).getBytes(StandardCharsets.UTF_8);
    byte[] agent = JsonLinesEncoder.grpcAgentFields("bench", "0b9f6c3e-2f7a-4c1e-9d7e-3a1b2c3d4e5f",
        "host-1");
    byte[] label = JsonLinesEncoder.quote("app");
    byte[] fid = withPosition ? JsonLinesEncoder.quote("2049:1234567:0123456789abcdef") : null;
    int fidLength = withPosition ? fid.length : 0;
    JsonLinesEncoder enc = new JsonLinesEncoder(4096, new ChunkBufferPool(4 << 20, 32));
    for (int r = 0; r < ROUNDS; r++) {
      long t0 = CPU.getCurrentThreadCpuTime();
      long records = 0;
      long out = 0;
      for (int batch = 0; batch < 2_000; batch++) {
        enc.receiveTime(1_700_000_000_000L + batch);
        long bound = 0; // LogServiceImpl's estimate pass
        for (int i = 0; i < 1000; i++) {
          bound += JsonLinesEncoder.grpcRecordBound(agent.length, label.length, fidLength,
              JsonLinesEncoder.grpcLineBound(line, 0, line.length));
        }
        enc.reserve((int) bound);
        for (int i = 0; i < 1000; i++) {
          enc.grpcRecord(agent, label, true, 1_700_000_000L, i * 1000, fid,
              1_000_000L * batch + 201L * i, line, 0, line.length);
        }
        Chunk c = enc.finish(List.of());
        records += 1000;
        out += c.length();
        c.releaseBuffer();
      }
      report(r, withPosition ? "grpc 200 B fid" : "grpc 200 B", CPU.getCurrentThreadCpuTime() - t0,
          records, records * line.length, out);
    }
  }

  private static void report(int round, String what, long nanos, long records, long payload,
      long out) {
    if (round >= ROUNDS / 2) {
      System.out.printf(Locale.ROOT, "%-16s %7.1f ns/record %8.0f MB/s payload %8.0f MB/s out%n",
          what, (double) nanos / records, payload * 1e3 / nanos, out * 1e3 / nanos);
    }
  }
}
