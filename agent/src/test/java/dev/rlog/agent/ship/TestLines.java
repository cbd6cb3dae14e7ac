package dev.rlog.agent.ship;

import dev.rlog.agent.tail.LineBatch;
import dev.rlog.common.buffer.ChunkBufferPool;
import dev.rlog.proto.log.Log;
import dev.rlog.proto.log.LogBatch;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Line batches as the tailer makes them, and what a call carried, for the shipper tests. */
final class TestLines {
  private TestLines() {}

  /** Lines {@code from..from+n-1} of file instance {@code fid}: 9 bytes plus newline each. */
  static LineBatch lines(String fid, int from, int n) {
    return lines(LineBatch.ARRAYS, fid, from, n);
  }

  /** The same, with the batch's array taken from {@code pool}. */
  static LineBatch lines(ChunkBufferPool pool, String fid, int from, int n) {
    LineBatch.Builder b = new LineBatch.Builder("app", fid, "/var/log/" + fid, pool);
    for (int i = from; i < from + n; i++) {
      byte[] line = String.format("%s%08d", fid, i).getBytes(StandardCharsets.UTF_8);
      b.line(10L * i, line, 0, line.length, 10L * i + 10);
    }
    return b.build();
  }

  /** "fid@offset" of every line in {@code batches}, in order. */
  static List<String> positions(List<LogBatch> batches) {
    List<String> out = new ArrayList<>();
    for (LogBatch batch : batches) {
      for (Log l : batch.getLogsList()) {
        out.add(l.getFileInstance() + "@" + l.getOffset());
      }
    }
    return out;
  }
}
