package dev.rlog.agent.tail.fs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rlog.agent.tail.LineBatch;
import dev.rlog.agent.tail.LineSink;
import dev.rlog.agent.tail.PositionsFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * A sink for tests: records batches, can refuse (full), and checks on every offer that the
 * instance is already in the positions file on disk (registration durable before shipping).
 */
final class RecordingSink implements LineSink {
  record Rec(String instance, long offset, String text, long end) {}

  private final OffsetStore store;
  private final List<LineBatch> batches = new ArrayList<>();
  private volatile boolean full;
  private int acked;

  RecordingSink(OffsetStore store) {
    this.store = store;
  }

  void full(boolean full) {
    this.full = full;
  }

  @Override
  public synchronized boolean offer(LineBatch batch) {
    if (full) {
      return false;
    }
    if (store != null) {
      try {
        PositionsFile onDisk = store.load();
        assertThat(onDisk.entries()).as("instance on disk before its first line is shipped")
            .anyMatch(e -> e.instance().equals(batch.fileInstance()));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    batches.add(batch);
    return true;
  }

  synchronized List<LineBatch> batches() {
    return List.copyOf(batches);
  }

  synchronized List<Rec> records() {
    List<Rec> out = new ArrayList<>();
    for (LineBatch b : batches) {
      for (int i = 0; i < b.size(); i++) {
        out.add(new Rec(b.fileInstance(), b.offset(i), b.line(i).toString(StandardCharsets.UTF_8),
            b.end(i)));
      }
    }
    return out;
  }

  synchronized List<String> texts() {
    return records().stream().map(Rec::text).toList();
  }

  synchronized List<String> texts(Predicate<Rec> which) {
    return records().stream().filter(which).map(Rec::text).toList();
  }

  synchronized List<String> instances() {
    return records().stream().map(Rec::instance).distinct().toList();
  }

  /** Batches not yet handed to {@code ack}, oldest first, and marks them acknowledged. */
  synchronized List<LineBatch> takeUnacked() {
    List<LineBatch> out = List.copyOf(batches.subList(acked, batches.size()));
    acked = batches.size();
    return out;
  }
}
