package dev.rlog.collector.grpc;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Timestamp;
import dev.rlog.proto.log.Chunk;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The collector's reading of {@code log.Chunk} bytes: lines, offsets, terminators, and refusals. */
class ChunkReaderTest {
  private final ChunkReader reader = new ChunkReader();

  private static Chunk chunk(long start, String data, int... lengths) {
    Chunk.Builder b = Chunk.newBuilder().setSeq(7).setLabel("app").setFileInstance("fid-1")
        .setStartOffset(start).setData(ByteString.copyFrom(data, UTF_8))
        .setReadAt(Timestamp.newBuilder().setSeconds(1_700_000_000L).setNanos(5_000_000));
    for (int l : lengths) {
      b.addLineLengths(l);
    }
    return b.build();
  }

  /** "offset:text" of every line. */
  private List<String> lines(byte[] message) {
    reader.read(message, 0, message.length);
    List<String> out = new ArrayList<>();
    while (reader.nextLine()) {
      out.add(reader.lineFileOffset() + ":"
          + new String(reader.buffer(), reader.lineOffset(), reader.lineLength(), UTF_8));
    }
    return out;
  }

  @Test
  void linesKeepTheirOffsetsAndLoseOnlyTheirTerminator() {
    // LF, CRLF, an empty line, a CR that is content (CR CR LF keeps one), a cut piece and a
    // flushed partial line ending in CR (no terminator: every byte is the line's).
    String data = "a\n" + "bb\r\n" + "\n" + "c\r\r\n" + "piece" + "rest\n" + "tail\r";
    byte[] msg = chunk(1000, data, 2, 4, 1, 4, 5, 5, 5).toByteArray();

    assertThat(lines(msg)).containsExactly("1000:a", "1002:bb", "1006:", "1007:c\r",
        "1011:piece", "1016:rest", "1021:tail\r");
    assertThat(reader.seq()).isEqualTo(7);
    assertThat(reader.lines()).isEqualTo(7);
    assertThat(reader.endOffset()).isEqualTo(1000 + data.length());
    assertThat(reader.seconds()).isEqualTo(1_700_000_000L);
    assertThat(reader.nanos()).isEqualTo(5_000_000);
    assertThat(new String(msg, reader.labelOffset(), reader.labelLength(), UTF_8))
        .isEqualTo("app");
    assertThat(new String(msg, reader.fileInstanceOffset(), reader.fileInstanceLength(), UTF_8))
        .isEqualTo("fid-1");
  }

  @Test
  void bytesThatAreNotUtf8AreHandedOutAsTheyAre() {
    byte[] data = {'o', 'k', '\n', (byte) 0xff, (byte) 0xc3, '\n'};
    byte[] msg = Chunk.newBuilder().setSeq(1).setFileInstance("f").setData(ByteString.copyFrom(data))
        .addLineLengths(3).addLineLengths(3).build().toByteArray();
    reader.read(msg, 0, msg.length);
    assertThat(reader.nextLine()).isTrue();
    assertThat(reader.nextLine()).isTrue();
    assertThat(Arrays.copyOfRange(msg, reader.lineOffset(), reader.lineOffset() + reader.lineLength()))
        .containsExactly((byte) 0xff, (byte) 0xc3);
    assertThat(reader.nextLine()).isFalse();
  }

  @Test
  void rewindWalksTheSameLinesAgainAndClearForgetsTheMessage() {
    byte[] msg = chunk(0, "x\ny\n", 2, 2).toByteArray();
    List<String> first = lines(msg);
    reader.rewind();
    List<String> again = new ArrayList<>();
    while (reader.nextLine()) {
      again.add(reader.lineFileOffset() + ":" + reader.lineLength());
    }
    assertThat(first).containsExactly("0:x", "2:y");
    assertThat(again).containsExactly("0:1", "2:1");
    reader.clear();
    assertThat(reader.buffer()).isEmpty();
    assertThat(reader.nextLine()).isFalse();
  }

  @Test
  void lineLengthsOfEveryVarintSizeAndPaddedVarintsAreWalkedAlike() throws Exception {
    // 1-, 2-, 3- and 4-byte varints, at the edges of each size.
    int[] lengths = {1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152};
    StringBuilder data = new StringBuilder();
    for (int l : lengths) {
      data.append("x".repeat(l - 1)).append('\n');
    }
    List<String> walked = new ArrayList<>();
    byte[] msg = chunk(5, data.toString(), lengths).toByteArray();
    reader.read(msg, 0, msg.length);
    while (reader.nextLine()) {
      walked.add(reader.lineFileOffset() + ":" + reader.lineLength());
    }
    List<String> expected = new ArrayList<>();
    long at = 5;
    for (int l : lengths) {
      expected.add(at + ":" + (l - 1));
      at += l;
    }
    assertThat(walked).isEqualTo(expected);

    // A length written with redundant continuation bytes (protobuf parsers accept up to 10):
    // 3 as 0x83 0x80 0x80 0x00, and 2 as ten bytes.
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    CodedOutputStream o = CodedOutputStream.newInstance(bytes);
    o.writeString(3, "f");
    o.writeByteArray(5, "ab\nc\n".getBytes(UTF_8));
    o.writeTag(6, 2);
    o.writeUInt32NoTag(14);
    o.writeRawBytes(new byte[] {(byte) 0x83, (byte) 0x80, (byte) 0x80, 0x00});
    o.writeRawBytes(new byte[] {(byte) 0x82, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80,
        (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x00});
    o.flush();
    assertThat(lines(bytes.toByteArray())).containsExactly("0:ab", "3:c");
  }

  @Test
  void refusesChunksWhoseLinesDoNotDescribeTheData() {
    assertMalformed(chunk(0, "abc\n", 2, 1).toByteArray(), "do not add up");
    assertMalformed(chunk(0, "abc\n", 2, 5).toByteArray(), "outside 1..4");
    assertMalformed(chunk(0, "abc\n", 0, 4).toByteArray(), "outside 1..4");
    assertMalformed(chunk(0, "abc\n").toByteArray(), "without lines");
    assertMalformed(Chunk.newBuilder().setData(ByteString.copyFromUtf8("a\n")).addLineLengths(2)
        .build().toByteArray(), "without file_instance");
    byte[] ok = chunk(0, "abc\n", 4).toByteArray();
    assertMalformed(Arrays.copyOf(ok, ok.length - 1), "overruns");
  }

  @Test
  void refusesUnpackedOrRepeatedLineLengths() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    CodedOutputStream o = CodedOutputStream.newInstance(bytes);
    o.writeString(3, "f");
    o.writeByteArray(5, "a\n".getBytes(UTF_8));
    o.writeUInt32(6, 2); // unpacked: tag with varint wire type
    o.flush();
    assertMalformed(bytes.toByteArray(), "packed");

    byte[] one = chunk(0, "a\nb\n", 2).toByteArray();
    byte[] twice = concat(one, Chunk.newBuilder().addLineLengths(2).build().toByteArray());
    assertMalformed(twice, "more than once");
  }

  @Test
  void refusesAnOffsetPastTwoToTheSixtyThree() {
    assertMalformed(chunk(-1, "a\n", 2).toByteArray(), "2^63");
    assertMalformed(chunk(Long.MAX_VALUE - 1, "abc\n", 4).toByteArray(), "overflows");
  }

  private void assertMalformed(byte[] message, String why) {
    assertThatThrownBy(() -> reader.read(message, 0, message.length))
        .isInstanceOf(WireReader.MalformedBatchException.class)
        .hasMessageContaining(why);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
