package dev.rlog.e2e.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoreScannerTest {
  @TempDir Path data;

  private static String record(String label, String line) {
    return "{\"recv\":\"2026-11-30T00:00:00Z\",\"src\":\"grpc\",\"project\":\"chaos\","
        + "\"agent\":\"a\","
        + "\"host\":\"h\",\"label\":\"" + label + "\",\"ts\":\"x\",\"fid\":\"1\",\"off\":0,"
        + "\"line\":\"" + line + "\"}\n";
  }

  private void append(String segment, String text) throws IOException {
    Files.writeString(data.resolve(segment), text, StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
  }

  @Test
  void readsOnlyWholeNewLinesOnEachPoll() throws IOException {
    StoreTally t = new StoreTally(List.of("f0"));
    StoreScanner s = new StoreScanner(data, t);
    assertThat(s.poll()).isZero();
    String r0 = record("f0", ChaosLine.format(0, 0, 80));
    String r1 = record("f0", ChaosLine.format(0, 1, 80));
    append("segment-00000000000000000000.jsonl", r0 + r1.substring(0, 40));
    assertThat(s.poll()).isEqualTo(1);
    append("segment-00000000000000000000.jsonl", r1.substring(40)
        + "{\"recv\":\"x\",\"src\":\"tcp\",\"peer\":\"p\",\"payload\":\"tcp record\"}\n"
        + record("other", "not chaos"));
    assertThat(s.poll()).isEqualTo(1);
    append("segment-00000000000000000001.jsonl", record("f0", ChaosLine.format(0, 2, 80)));
    assertThat(s.poll()).isEqualTo(1);
    assertThat(s.poll()).isZero();
    assertThat(t.verdict(new long[] {3}).clean()).isTrue();
    assertThat(s.malformed()).isZero();
  }

  @Test
  void aSegmentCutBackIsReadAgainFromScratch() throws IOException {
    StoreTally t = new StoreTally(List.of("f0"));
    StoreScanner s = new StoreScanner(data, t);
    String seg = "segment-00000000000000000000.jsonl";
    String r0 = record("f0", ChaosLine.format(0, 0, 80));
    append(seg, r0 + record("f0", ChaosLine.format(0, 1, 80)));
    assertThat(s.poll()).isEqualTo(2);
    try (FileChannel ch = FileChannel.open(data.resolve(seg), StandardOpenOption.WRITE)) {
      ch.truncate(r0.length());
    }
    s.poll();
    assertThat(t.records()).isEqualTo(1);
    assertThat(t.verdict(new long[] {1}).clean()).isTrue();
  }

  @Test
  void aStoreLineThatIsNotJsonIsCounted() throws IOException {
    StoreTally t = new StoreTally(List.of("f0"));
    StoreScanner s = new StoreScanner(data, t);
    append("segment-00000000000000000000.jsonl", "{\"src\":\"grpc\",\"label\":\"f0\n[1]\n");
    s.poll();
    assertThat(s.malformed()).isEqualTo(2);
  }
}
