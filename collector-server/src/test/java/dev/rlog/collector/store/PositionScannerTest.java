package dev.rlog.collector.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PositionScannerTest {
  private record Found(String agent, String fid, long off) {}

  private final List<Found> found = new ArrayList<>();
  private final List<Long> recvs = new ArrayList<>();
  private final PositionScanner scanner =
      new PositionScanner((agent, fid, off, recv) -> {
        found.add(new Found(agent, fid, off));
        recvs.add(recv);
      });

  private void line(String record) {
    String withoutNewline = record.endsWith("\n")
        ? record.substring(0, record.length() - 1) : record;
    byte[] b = ("xx" + withoutNewline + "yy").getBytes(StandardCharsets.UTF_8);
    scanner.line(b, 2, b.length - 4); // not at the start of the array: offsets must be honoured
  }

  @Test
  void grpcRecordWithPosition() {
    line(TestRecords.grpc("a1", "f1", 12345, "hello"));
    assertThat(found).containsExactly(new Found("a1", "f1", 12345));
  }

  @Test
  void reportsTheReceiveTimeForExpiry() {
    line(TestRecords.grpc("a1", "f1", 1, "x"));
    line(TestRecords.grpc("a1", "f1", 2, "y")); // same recv text: parsed once, same value
    line("{\"recv\":\"not a time\",\"src\":\"grpc\",\"agent\":\"a\",\"fid\":\"f\",\"off\":3}");
    line("{\"src\":\"grpc\",\"agent\":\"a\",\"fid\":\"f\",\"off\":4}");
    assertThat(recvs).containsExactly(TestRecords.RECV_MILLIS, TestRecords.RECV_MILLIS, -1L, -1L);
  }

  @Test
  void offsetZeroCounts() {
    line(TestRecords.grpc("a1", "f1", 0, "first line"));
    assertThat(found).containsExactly(new Found("a1", "f1", 0));
  }

  @Test
  void escapesInNamesAndLinesAreParsed() {
    line(TestRecords.grpc("a\"1", "dev:1/ino:2 \\ \u00e9", 7, "\"off\":99,\u0001 \n\t}"));
    assertThat(found).containsExactly(new Found("a\"1", "dev:1/ino:2 \\ \u00e9", 7));
  }

  @Test
  void tcpAndPositionlessRecordsCarryNothing() {
    line(TestRecords.tcp("{\"src\":\"grpc\",\"agent\":\"x\",\"fid\":\"y\",\"off\":1}"));
    line(TestRecords.grpcNoPosition("a1", "no position"));
    assertThat(found).isEmpty();
    assertThat(scanner.unreadableLines()).isZero();
  }

  @Test
  void garbageIsCountedNotFatal() {
    line("");
    line("not json at all");
    line("[1,2,3]");
    line("{\"recv\":\"2026-11-21T22:01:27.123Z\",\"src\":\"grpc\",\"agent\":\"a");
    line("\0\0\0\0\0\0");
    assertThat(found).isEmpty();
    assertThat(scanner.unreadableLines()).isEqualTo(5);
  }

  @Test
  void fieldOrderDoesNotMatter() {
    line("{\"off\":5,\"line\":\"x\",\"fid\":\"f\",\"agent\":\"a\",\"src\":\"grpc\",\"extra\":{\"off\":9}}");
    assertThat(found).containsExactly(new Found("a", "f", 5));
  }

  @Test
  void recordWithoutSourceCarriesNothing() {
    line("{\"agent\":\"a\",\"fid\":\"f\",\"off\":5}");
    assertThat(found).isEmpty();
  }

  @Test
  void scanReadsRangeAcrossBufferGrowthAndReportsTrailingBytes(@TempDir Path dir)
      throws Exception {
    StringBuilder text = new StringBuilder();
    text.append(TestRecords.grpc("a", "f", 1, "skipped, before the range"));
    int from = text.length();
    text.append(TestRecords.grpc("a", "f", 2, "x".repeat(3 * 1024 * 1024))); // > read buffer
    text.append(TestRecords.tcp("t"));
    text.append(TestRecords.grpc("b", "g", 3, "y"));
    text.append("{\"torn");
    Path file = dir.resolve("segment-00000000000000000000.jsonl");
    Files.writeString(file, text, StandardCharsets.UTF_8);

    long trailing = scanner.scan(file, from, Files.size(file));

    assertThat(found).containsExactly(new Found("a", "f", 2), new Found("b", "g", 3));
    assertThat(trailing).isEqualTo("{\"torn".length());
    assertThat(scanner.lines()).isEqualTo(3);
  }
}
