package dev.rlog.agent.tail.fs;

/**
 * Shared by all tailers of one tail thread: while any file holds a batch the sink refused, no
 * file reads anything new. So however many files have a backlog, at most one refused batch (one
 * read block's lines) waits in memory, instead of one per file — the bound that keeps an agent
 * started on a thousand unread files inside its heap. Owner thread only.
 */
final class ReadGate {
  private int held;

  /** A file now holds a refused batch. */
  void hold() {
    held++;
  }

  /** A held batch was taken (or dropped with its file). */
  void release() {
    if (held <= 0) {
      throw new IllegalStateException("release without hold");
    }
    held--;
  }

  /** True while some file holds a refused batch: read nothing new. */
  boolean closed() {
    return held > 0;
  }
}
