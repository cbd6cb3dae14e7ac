package dev.rlog.collector.grpc;

import dev.rlog.collector.auth.ProjectRegistry;
import dev.rlog.collector.store.JsonLinesEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A tiny cache from a byte range (a label or file instance inside a message buffer) to its
 * {@code String} and quoted JSON form. The lines of one batch share a handful of labels and file
 * instances, so a few slots compared byte by byte beat hashing or decoding each time.
 *
 * <p>Not thread-safe; one per call. Bounded: {@link #SLOTS} entries, least recently added out,
 * each of a value of at most {@code maxBytes}; a longer one makes the message malformed (the call
 * ends {@code INVALID_ARGUMENT}) before anything of it is cached or stored, so what an open call
 * keeps here is small whatever its client sends.
 */
final class QuotedStrings {
  static final int SLOTS = 8;
  /**
   * Longest label accepted: the 128 characters projects and agents allow for a source label
   * ({@code ProjectRegistry.MAX_LABEL_CHARS}), at up to 4 UTF-8 bytes each.
   */
  static final int MAX_LABEL_BYTES = 4 * ProjectRegistry.MAX_LABEL_CHARS;

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

  private final String field;
  private final int maxBytes;
  private final Entry[] slots = new Entry[SLOTS];
  private int next;

  /**
   * @param field the message field the values come from, for the error
   * @param maxBytes longest value accepted
   */
  QuotedStrings(String field, int maxBytes) {
    this.field = field;
    this.maxBytes = maxBytes;
  }

  /**
   * The cached form of {@code buf[off, off+len)}.
   *
   * @throws WireReader.MalformedBatchException if it is longer than {@code maxBytes}
   */
  Entry get(byte[] buf, int off, int len) {
    if (len > maxBytes) {
      throw new WireReader.MalformedBatchException(
          field + " of " + len + " bytes, more than " + maxBytes);
    }
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
