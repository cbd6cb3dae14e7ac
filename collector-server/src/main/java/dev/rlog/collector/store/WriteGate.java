package dev.rlog.collector.store;

/**
 * Lets a test (or an operator tool) hold the {@link StoreWriter} back: while the gate is held the
 * writer writes nothing. It still takes chunks off the queue, but they keep counting against the
 * queue's bounds until written, so a held writer makes the queue fill and ingest pause exactly
 * as a slow disk would. Production uses {@link #OPEN}.
 */
@FunctionalInterface
public interface WriteGate {
  /** Never holds. */
  WriteGate OPEN = () -> {};

  /**
   * Called by the writer thread before each write; returns when writing may go on.
   *
   * @throws InterruptedException if the writer thread is interrupted while held
   */
  void awaitOpen() throws InterruptedException;

  /** A gate that a test holds and releases by hand. Thread-safe. */
  final class Manual implements WriteGate {
    private boolean held;
    private int waiting;

    public Manual() {}

    /** Creates a gate that starts held. */
    public static Manual held() {
      Manual gate = new Manual();
      gate.hold();
      return gate;
    }

    /** From now on the writer waits before its next write. */
    public synchronized void hold() {
      held = true;
    }

    /** Lets the writer go on. */
    public synchronized void release() {
      held = false;
      notifyAll();
    }

    public synchronized boolean isHeld() {
      return held;
    }

    /** Whether the writer is blocked on this gate now (it has a batch it may not write). */
    public synchronized boolean hasWaiter() {
      return waiting > 0;
    }

    @Override
    public synchronized void awaitOpen() throws InterruptedException {
      waiting++;
      try {
        while (held) {
          wait();
        }
      } finally {
        waiting--;
      }
    }
  }
}
