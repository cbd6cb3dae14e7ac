package dev.rlog.collector.grpc;

import dev.rlog.collector.store.JsonLinesEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A tiny cache from a byte range (a label or file instance inside a message buffer) to its
 * {@code String} and quoted JSON form. The lines of one batch share a handful of labels and file
 * instances, so a few slots compared byte by byte beat hashing or decoding each time.
 *
 * <p>Not thread-safe; one per call. Bounded: {@link #SLOTS} entries, least recently added out.
 */
final class QuotedStrings {
  static final int SLOTS = 8;

  /** A cached value. */
  static final class Entry {
    final byte[] raw;
    final String text;
    final byte[] quoted;

    Entry(byte[] raw) {
      this.raw = raw;
      this.text = new String(raw, StandardCharsets.UTF_8);
      this.quoted = JsonLinesEncoder.quote(text);
    }
  }

  private final Entry[] slots = new Entry[SLOTS];
  private int next;

  Entry get(byte[] buf, int off, int len) {
    for (Entry e : slots) {
      if (e != null && Arrays.equals(e.raw, 0, e.raw.length, buf, off, off + len)) {
        return e;
      }
    }
    Entry e = new Entry(Arrays.copyOfRange(buf, off, off + len));
    slots[next] = e;
    next = (next + 1) % SLOTS;
    return e;
  }
}
