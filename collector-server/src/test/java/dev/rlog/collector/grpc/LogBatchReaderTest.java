package dev.rlog.collector.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Timestamp;
import dev.rlog.proto.log.Log;
import dev.rlog.proto.log.LogBatch;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LogBatchReaderTest {
  private record Seen(String label, String line, boolean hasTs, long sec, int nanos, String fid,
      long offset) {}

  private static List<Seen> read(byte[] bytes) {
    LogBatchReader r = new LogBatchReader().reset(bytes, 0, bytes.length);
    List<Seen> out = new ArrayList<>();
    while (r.next()) {
      out.add(new Seen(r.label(), r.line(), r.hasTimestamp(), r.seconds(), r.nanos(),
          r.fileInstance(), r.offset()));
    }
    return out;
  }

  private static Seen expected(Log l) {
    return new Seen(l.getLabel(), l.getLine(), l.hasTimestamp(), l.getTimestamp().getSeconds(),
        l.getTimestamp().getNanos(), l.getFileInstance(), l.getOffset());
  }

  @Test
  void readsWhatTheGeneratedCodeWrites() {
    LogBatch b = LogBatch.newBuilder().setBatchId("b1")
        .setSendAt(Timestamp.newBuilder().setSeconds(5))
        .addLogs(Log.newBuilder().setLabel("app").setLine("hello \"x\" é")
            .setTimestamp(Timestamp.newBuilder().setSeconds(1_700_000_000L).setNanos(123))
            .setFileInstance("8:123:abcd").setOffset(Long.MAX_VALUE))
        .addLogs(Log.newBuilder().setLine("")) // empty line, no label, no timestamp
        .addLogs(Log.newBuilder().setLabel("x").setLine("neg")
            .setTimestamp(Timestamp.newBuilder().setSeconds(-62_135_596_800L)))
        .build();
    assertThat(read(b.toByteArray()))
        .containsExactly(b.getLogsList().stream().map(LogBatchReaderTest::expected)
            .toArray(Seen[]::new));
  }

  @Test
  void randomBatchesRoundTrip() {
    Random rnd = new Random(42);
    for (int i = 0; i < 200; i++) {
      LogBatch.Builder b = LogBatch.newBuilder().setBatchId("b" + i);
      int n = rnd.nextInt(20);
      for (int j = 0; j < n; j++) {
        StringBuilder line = new StringBuilder();
        for (int k = rnd.nextInt(300); k > 0; k--) {
          line.appendCodePoint(rnd.nextInt(4) == 0 ? 0x80 + rnd.nextInt(0xD000) : rnd.nextInt(0x80));
        }
        Log.Builder l = Log.newBuilder().setLabel("l" + rnd.nextInt(3))
            .setLineBytes(ByteString.copyFromUtf8(line.toString()));
        if (rnd.nextBoolean()) {
          l.setTimestamp(Timestamp.newBuilder().setSeconds(rnd.nextInt()).setNanos(
              rnd.nextInt(1_000_000_000)));
        }
        if (rnd.nextBoolean()) {
          l.setFileInstance("f" + rnd.nextInt(5)).setOffset(rnd.nextLong() & Long.MAX_VALUE);
        }
        b.addLogs(l);
      }
      LogBatch batch = b.build();
      byte[] bytes = batch.toByteArray();
      LogBatchReader r = new LogBatchReader().reset(bytes, 0, bytes.length);
      for (Log l : batch.getLogsList()) {
        assertThat(r.next()).isTrue();
        assertThat(Arrays.copyOfRange(bytes, r.lineOffset(), r.lineOffset() + r.lineLength()))
            .isEqualTo(l.getLineBytes().toByteArray());
        assertThat(r.offset()).isEqualTo(l.getOffset());
        assertThat(r.hasTimestamp()).isEqualTo(l.hasTimestamp());
        assertThat(r.nanos()).isEqualTo(l.getTimestamp().getNanos());
        assertThat(r.seconds()).isEqualTo(l.getTimestamp().getSeconds());
      }
      assertThat(r.next()).isFalse();
    }
  }

  @Test
  void skipsUnknownFieldsOfEveryWireTypeAndTakesTheLastValueOfARepeatedScalar() throws Exception {
    ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
    CodedOutputStream lo = CodedOutputStream.newInstance(logBytes);
    lo.writeString(1, "first");
    lo.writeString(1, "app"); // last one wins
    lo.writeUInt64(99, 7); // unknown varint
    lo.writeFixed64(98, 1); // unknown fixed64
    lo.writeFixed32(97, 1); // unknown fixed32
    lo.writeString(96, "unknown bytes");
    lo.writeString(2, "the line");
    lo.writeUInt64(5, 42);
    lo.flush();
    ByteArrayOutputStream batch = new ByteArrayOutputStream();
    CodedOutputStream bo = CodedOutputStream.newInstance(batch);
    bo.writeString(1, "id");
    bo.writeUInt64(50, 1); // unknown in LogBatch
    bo.writeByteArray(3, logBytes.toByteArray());
    bo.flush();
    List<Seen> seen = read(batch.toByteArray());
    assertThat(seen).containsExactly(new Seen("app", "the line", false, 0, 0, "", 42));
  }

  @Test
  void malformedInputIsRejectedNotMisread() {
    byte[] good = LogBatch.newBuilder().addLogs(Log.newBuilder().setLine("abc")).build()
        .toByteArray();
    for (int cut = 1; cut < good.length; cut++) {
      byte[] truncated = Arrays.copyOf(good, cut);
      assertThrows(WireReader.MalformedBatchException.class, () -> read(truncated));
    }
    assertThrows(WireReader.MalformedBatchException.class,
        () -> read(new byte[] {(byte) 0x1a, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff,
            (byte) 0x0f})); // length far beyond the message
    assertThrows(WireReader.MalformedBatchException.class,
        () -> read(new byte[] {0x0b})); // wire type 3 (group) is not supported
    assertThat(read(new byte[0])).isEmpty();
  }
}
