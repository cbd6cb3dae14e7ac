package dev.rlog.agent.ship;

import dev.rlog.agent.batch.Batcher;
import dev.rlog.proto.log.LogBatch;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The batches of one Send call, in the order the batcher gave them, with what their
 * acknowledgement commits: per file instance the highest end offset, and per label the number of
 * lines. Immutable; a failed call's instance is sent again as it is, so a retry carries the same
 * batches in the same order.
 *
 * <p>Merging with {@code max} is right because batches come out of the batcher in append order:
 * when the whole call is acknowledged, every line of an instance up to its highest end offset in
 * the call is acknowledged (earlier calls were acknowledged before this one was started).
 */
final class InFlightCall {
  private final List<LogBatch> messages;
  private final Map<String, Long> endOffsets;
  private final Map<String, Long> linesByLabel;
  private final int lineCount;
  private final long bytes;

  InFlightCall(List<Batcher.ReadyBatch> batches) {
    if (batches.isEmpty()) {
      throw new IllegalArgumentException("a call carries at least one batch");
    }
    List<LogBatch> m = new ArrayList<>(batches.size());
    Map<String, Long> ends = new LinkedHashMap<>();
    Map<String, Long> byLabel = new LinkedHashMap<>();
    int lines = 0;
    long size = 0;
    for (Batcher.ReadyBatch b : batches) {
      m.add(b.batch());
      b.endOffsets().forEach((fid, end) -> ends.merge(fid, end, Math::max));
      b.linesByLabel().forEach((label, n) -> byLabel.merge(label, n, Long::sum));
      lines += b.lineCount();
      size += b.bytes();
    }
    this.messages = List.copyOf(m);
    this.endOffsets = Collections.unmodifiableMap(ends);
    this.linesByLabel = Collections.unmodifiableMap(byLabel);
    this.lineCount = lines;
    this.bytes = size;
  }

  /** The protos to send, in order. */
  List<LogBatch> messages() {
    return messages;
  }

  int batchCount() {
    return messages.size();
  }

  /** Per file instance, the position to commit once the call is acknowledged. */
  Map<String, Long> endOffsets() {
    return endOffsets;
  }

  Map<String, Long> linesByLabel() {
    return linesByLabel;
  }

  int lineCount() {
    return lineCount;
  }

  long bytes() {
    return bytes;
  }
}
