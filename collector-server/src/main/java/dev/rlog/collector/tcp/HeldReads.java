package dev.rlog.collector.tcp;

import dev.rlog.collector.flow.Chunk;
import java.util.ArrayDeque;

/**
 * What a connection read but has not handed over yet, oldest first: raw reads (kept as they
 * came, the smallest form, while the queue was paused) and encoded chunks (the queue refused
 * them). Owned by one event loop; counts the bytes it holds.
 */
final class HeldReads {
  /** One held read. */
  sealed interface Held permits RawRead, EncodedChunk {}

  /** Bytes read while paused, not decoded yet. */
  record RawRead(byte[] bytes) implements Held {}

  /** A decoded read the queue refused. */
  record EncodedChunk(Chunk chunk) implements Held {}

  private final ArrayDeque<Held> held = new ArrayDeque<>();
  private int raws;
  private long bytes;

  void addLast(Held h) {
    held.addLast(h);
    account(h, 1);
  }

  void addFirst(Held h) {
    held.addFirst(h);
    account(h, 1);
  }

  Held peekFirst() {
    return held.peekFirst();
  }

  Held removeFirst() {
    Held h = held.removeFirst();
    account(h, -1);
    return h;
  }

  boolean isEmpty() {
    return held.isEmpty();
  }

  /** True while a raw read is held: the decoder's partial record is not final yet. */
  boolean hasRaw() {
    return raws > 0;
  }

  /** Heap bytes held (raw lengths plus chunk footprints). */
  long bytes() {
    return bytes;
  }

  private void account(Held h, int sign) {
    if (h instanceof RawRead r) {
      raws += sign;
      bytes += sign * (long) r.bytes().length;
    } else if (h instanceof EncodedChunk c) {
      bytes += sign * c.chunk().footprint();
    }
  }
}
