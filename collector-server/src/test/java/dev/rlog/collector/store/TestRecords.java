package dev.rlog.collector.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.rlog.collector.flow.Chunk;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

/** Hand-built store records and chunks in the JsonLinesEncoder format, and store readers. */
final class TestRecords {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String RECV = "2026-11-21T22:01:27.123Z";
  /** The receive time of every test record; stores under test run on a clock near it. */
  static final long RECV_MILLIS = java.time.Instant.parse(RECV).toEpochMilli();

  private TestRecords() {}

  static String quote(String s) {
    try {
      return JSON.writeValueAsString(s);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  static String tcp(String payload) {
    return "{\"recv\":\"" + RECV + "\",\"src\":\"tcp\",\"peer\":\"127.0.0.1:5555\",\"payload\":"
        + quote(payload) + "}\n";
  }

  static String grpc(String agent, String fid, long off, String line) {
    return "{\"recv\":\"" + RECV + "\",\"src\":\"grpc\",\"project\":\"web\",\"agent\":"
        + quote(agent) + ",\"host\":\"h1\",\"label\":\"app\","
        + "\"ts\":\"2026-11-21T22:01:27.123456789Z\",\"fid\":" + quote(fid) + ",\"off\":" + off
        + ",\"line\":" + quote(line) + "}\n";
  }

  /** A gRPC record without a position (the agent sent none). */
  static String grpcNoPosition(String agent, String line) {
    return "{\"recv\":\"" + RECV + "\",\"src\":\"grpc\",\"project\":\"web\",\"agent\":"
        + quote(agent) + ",\"host\":\"h1\",\"label\":\"app\",\"line\":" + quote(line) + "}\n";
  }

  /** A chunk of the given records (each already ending in a newline), with positions. */
  static Chunk chunk(List<String> records, Chunk.Position... positions) {
    byte[] bytes = String.join("", records).getBytes(StandardCharsets.UTF_8);
    // Spare capacity past length: the store must honour length, not bytes.length.
    byte[] padded = Arrays.copyOf(bytes, bytes.length + 7);
    Arrays.fill(padded, bytes.length, padded.length, (byte) 'X');
    return new Chunk(padded, bytes.length, records.size(), List.of(positions));
  }

  static Chunk tcpChunk(String... payloads) {
    List<String> records = new ArrayList<>();
    for (String p : payloads) {
      records.add(tcp(p));
    }
    return chunk(records);
  }

  /** {@code count} lines of one file instance at offsets first, first+10, ...; position = last. */
  static Chunk grpcChunk(String agent, String fid, long first, int count) {
    List<String> records = new ArrayList<>();
    long off = first;
    for (int i = 0; i < count; i++) {
      off = first + 10L * i;
      records.add(grpc(agent, fid, off, "line at " + off));
    }
    return chunk(records, new Chunk.Position(agent, fid, off));
  }

  static List<Path> segments(Path dir) {
    try (Stream<Path> files = Files.list(dir)) {
      return files
          .filter(p -> SegmentStore.sequenceOf(p.getFileName().toString()) >= 0)
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Every record of the store, in write order, each with its newline. */
  static List<String> records(Path dir) {
    List<String> out = new ArrayList<>();
    for (Path segment : segments(dir)) {
      out.addAll(records(read(segment)));
    }
    return out;
  }

  static List<String> records(String text) {
    List<String> out = new ArrayList<>();
    int start = 0;
    for (int i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', start)) {
      out.add(text.substring(start, i + 1));
      start = i + 1;
    }
    if (start < text.length()) {
      out.add(text.substring(start));
    }
    return out;
  }

  static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static List<String> recordsOf(Chunk... chunks) {
    List<String> out = new ArrayList<>();
    for (Chunk c : chunks) {
      out.addAll(records(new String(c.bytes(), 0, c.length(), StandardCharsets.UTF_8)));
    }
    return out;
  }
}
