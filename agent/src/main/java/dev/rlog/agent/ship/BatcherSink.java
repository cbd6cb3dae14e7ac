package dev.rlog.agent.ship;

import dev.rlog.agent.batch.Batcher;
import dev.rlog.agent.tail.LineBatch;
import dev.rlog.agent.tail.LineSink;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The tail side of shipping: hands each line of a {@link LineBatch} to the {@link Batcher}, and
 * when the batcher is full takes as many as fit and refuses the rest (see {@link LineSink}).
 *
 * <p><b>Resume.</b> It remembers, per file instance, the batch it took only partly and how many
 * of its lines it took; when the tailer offers that same batch object again, it starts after
 * them, so no line is appended twice. Per instance, because the tailer may hold one refused batch
 * for each of several files and offer them again in any order. Bound: one entry per file instance
 * with a partly taken batch; an entry goes when its batch is fully taken, or is replaced when the
 * instance offers a different batch (the tailer gave the old one up).
 *
 * <p><b>Threading.</b> {@link #offer} runs on the tail thread only and owns the resume state;
 * {@link #close()} may be called from any thread, after which every offer is refused, so nothing
 * new enters the batcher while the shipper drains it.
 */
final class BatcherSink implements LineSink {
  private final Batcher batcher;
  private final ShipperCounters counters;
  private volatile boolean closed;

  /** A batch of which the first {@code taken} lines are in the batcher. */
  private record Partial(LineBatch batch, int taken) {}

  // Tail thread only. Keyed by label too: lines without a file instance share the empty id.
  private final Map<String, Partial> partial = new HashMap<>();

  BatcherSink(Batcher batcher, ShipperCounters counters) {
    this.batcher = Objects.requireNonNull(batcher, "batcher");
    this.counters = Objects.requireNonNull(counters, "counters");
  }

  @Override
  public boolean offer(LineBatch batch) {
    if (closed) {
      return false;
    }
    String key = batch.label() + '\n' + batch.fileInstance();
    Partial p = partial.get(key);
    int start = p != null && p.batch() == batch ? p.taken() : 0;
    for (int i = start; i < batch.size(); i++) {
      if (!batcher.append(batch.label(), batch.fileInstance(), batch.offset(i), batch.line(i),
          batch.end(i))) {
        if (i > 0) {
          partial.put(key, new Partial(batch, i));
        } else {
          partial.remove(key);
        }
        return false;
      }
    }
    partial.remove(key);
    counters.linesRead(batch.label(), batch.size());
    return true;
  }

  /** Refuses every later offer. Idempotent. */
  void close() {
    closed = true;
  }
}
