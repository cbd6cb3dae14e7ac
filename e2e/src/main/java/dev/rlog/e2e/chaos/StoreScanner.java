package dev.rlog.e2e.chaos;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Reads the collector's store ({@code data/segment-*.jsonl}) into a {@link StoreTally},
 * incrementally: each {@link #poll()} reads only what was appended since the last one, and only
 * whole lines (a running collector may be in the middle of one). If a segment got shorter or
 * vanished (recovery cut a torn tail, retention), the tally is reset and everything read again.
 * Streams each record with Jackson's parser, taking only {@code src}, {@code label} and
 * {@code line}; memory is one read block plus the tally. One thread.
 */
public final class StoreScanner {
  private static final int BLOCK = 1 << 20;
  private static final JsonFactory JSON = new JsonFactory();

  private final Path dataDir;
  private final StoreTally tally;
  private final Map<Path, Long> consumed = new HashMap<>();
  private final byte[] block = new byte[BLOCK];
  private long malformed;

  public StoreScanner(Path dataDir, StoreTally tally) {
    this.dataDir = dataDir;
    this.tally = tally;
  }

  /** Reads what is new; returns how many chaos records it found. */
  public long poll() throws IOException {
    List<Path> segments = segments();
    boolean shrunk = consumed.keySet().stream().anyMatch(p -> !segments.contains(p));
    for (Path seg : segments) {
      shrunk |= Files.size(seg) < consumed.getOrDefault(seg, 0L);
    }
    if (shrunk) {
      consumed.clear();
      tally.reset();
      malformed = 0;
    }
    long before = tally.records();
    for (Path seg : segments) {
      consumed.put(seg, readFrom(seg, consumed.getOrDefault(seg, 0L)));
    }
    return tally.records() - before;
  }

  /** Complete store lines that are not JSON (not chaos-specific: the store itself is broken). */
  public long malformed() {
    return malformed;
  }

  private List<Path> segments() throws IOException {
    if (!Files.isDirectory(dataDir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dataDir)) {
      return s.filter(p -> p.getFileName().toString().endsWith(".jsonl")).sorted().toList();
    }
  }

  /** Feeds the whole lines from {@code offset} on; returns the offset after the last one. */
  private long readFrom(Path seg, long offset) throws IOException {
    try (FileChannel ch = FileChannel.open(seg, StandardOpenOption.READ)) {
      long pos = offset; // file position of block[0]
      int filled = 0;
      while (true) {
        int n = ch.read(ByteBuffer.wrap(block, filled, block.length - filled), pos + filled);
        if (n <= 0) {
          return pos; // what is left in the block is a line still being written
        }
        filled += n;
        int start = 0;
        for (int i = 0; i < filled; i++) {
          if (block[i] == '\n') {
            record(block, start, i - start);
            start = i + 1;
          }
        }
        if (start == 0 && filled == block.length) {
          throw new IOException(seg + ": a record longer than " + BLOCK + " bytes at " + pos);
        }
        System.arraycopy(block, start, block, 0, filled - start);
        pos += start;
        filled -= start;
      }
    }
  }

  private void record(byte[] a, int off, int len) throws IOException {
    String src = null;
    String label = null;
    String line = null;
    try (JsonParser p = JSON.createParser(a, off, len)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        malformed++;
        return;
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken t = p.nextToken();
        if (t == JsonToken.VALUE_STRING) {
          switch (name) {
            case "src" -> src = p.getText();
            case "label" -> label = p.getText();
            case "line" -> line = p.getText();
            default -> { }
          }
        } else {
          p.skipChildren();
        }
      }
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      malformed++;
      return;
    }
    if ("grpc".equals(src) && label != null && tally.counts(label)) {
      tally.accept(label, line);
    }
  }
}
