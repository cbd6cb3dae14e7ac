package dev.rlog.agent.ship;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.rlog.agent.tail.LineBatch;
import dev.rlog.agent.tail.LineSplitter;
import dev.rlog.proto.log.Chunk;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Pure round trips: file bytes → {@link LineSplitter} → {@link LineBatch} → {@link WireChunk}s →
 * {@code log.Chunk} bytes → lines, as the collector reads them (a final LF, and one CR before it,
 * are not part of a line). Whatever the reads and the chunk limits, the lines and their offsets
 * come out exactly as the splitter emitted them, and the chunks carry the file's bytes.
 */
class WireChunkTest {
  /** A line as the splitter emitted it: offset and content. */
  private record Line(long offset, String text) {}

  /** Splits {@code file} fed in reads of {@code readSize}, flushing the partial at the end. */
  private static List<LineBatch> batches(byte[] file, int readSize, int maxLine,
      List<Line> emitted) {
    LineSplitter splitter = new LineSplitter(0, maxLine);
    LineBatch.Builder builder = new LineBatch.Builder("app", "fid", "/var/log/app.log");
    LineSplitter.LineConsumer both = (offset, bytes, start, length, end) -> {
      emitted.add(new Line(offset, new String(bytes, start, length, UTF_8)));
      builder.line(offset, bytes, start, length, end);
    };
    List<LineBatch> out = new ArrayList<>();
    for (int at = 0; at < file.length; at += readSize) {
      int n = Math.min(readSize, file.length - at);
      builder.expectBytes(n + splitter.partialLength()).readAtMillis(1_700_000_000_123L);
      splitter.feed(Arrays.copyOfRange(file, at, at + n), 0, n, both);
      if (!builder.isEmpty()) {
        out.add(builder.build());
      }
    }
    if (splitter.flushPartial(both)) {
      out.add(builder.build());
    }
    return out;
  }

  /** Decodes the chunks' lines the way the collector does. */
  private static List<Line> decode(List<byte[]> messages, byte[] file)
      throws InvalidProtocolBufferException {
    List<Line> out = new ArrayList<>();
    long expectedStart = 0;
    for (byte[] m : messages) {
      Chunk c = Chunk.parseFrom(m);
      assertThat(c.getStartOffset()).isEqualTo(expectedStart);
      byte[] data = c.getData().toByteArray();
      assertThat(data).isEqualTo(Arrays.copyOfRange(file, (int) expectedStart,
          (int) expectedStart + data.length));
      assertThat(c.getReadAt().getSeconds()).isEqualTo(1_700_000_000L);
      assertThat(c.getReadAt().getNanos()).isEqualTo(123_000_000);
      int at = 0;
      for (int len : c.getLineLengthsList()) {
        int content = len;
        if (data[at + content - 1] == '\n') {
          content--;
          if (content > 0 && data[at + content - 1] == '\r') {
            content--;
          }
        }
        out.add(new Line(c.getStartOffset() + at, new String(data, at, content, UTF_8)));
        at += len;
      }
      assertThat(at).isEqualTo(data.length);
      expectedStart += data.length;
    }
    return out;
  }

  private static List<byte[]> encode(List<LineBatch> batches, int maxLines, int maxBytes) {
    List<byte[]> out = new ArrayList<>();
    long[] seq = {0};
    for (LineBatch b : batches) {
      WireChunk.split(b, maxLines, maxBytes, c -> out.add(c.encode(++seq[0]).toByteArray()));
    }
    return out;
  }

  @Test
  void crlfCutPiecesEmptyLinesAndAFlushedPartialKeepExactOffsets() throws Exception {
    byte[] file = ("plain\n" + "windows\r\n" + "\n" + "\r\n" + "cr-inside\r\r\n"
        + "a-line-much-longer-than-sixteen-bytes\n" + "ümlaut-ümlaut-ümlaut\n" + "no newline\r")
        .getBytes(UTF_8);
    for (int read : new int[] {1, 3, 7, 16, 1 << 16}) {
      for (int maxLines : new int[] {1, 2, 1000}) {
        List<Line> emitted = new ArrayList<>();
        List<LineBatch> batches = batches(file, read, 16, emitted);
        assertThat(decode(encode(batches, maxLines, 1 << 20), file))
            .as("reads of %d, %d lines per chunk", read, maxLines)
            .containsExactlyElementsOf(emitted);
      }
    }
  }

  @Test
  void randomFilesRoundTripWhateverTheReadsAndLimits() throws Exception {
    Random r = new Random(42);
    byte[] alphabet = "ab\n\r\"\\é\u0001".getBytes(UTF_8);
    for (int round = 0; round < 200; round++) {
      ByteArrayOutputStream f = new ByteArrayOutputStream();
      int n = r.nextInt(400);
      for (int i = 0; i < n; i++) {
        f.write(alphabet[r.nextInt(alphabet.length)]);
      }
      if (r.nextBoolean()) {
        f.write(0xff); // not UTF-8: still carried byte for byte
      }
      byte[] file = f.toByteArray();
      List<Line> emitted = new ArrayList<>();
      List<LineBatch> batches = batches(file, 1 + r.nextInt(64), 4 + r.nextInt(20), emitted);
      List<byte[]> messages = encode(batches, 1 + r.nextInt(5), 1 + r.nextInt(50));
      List<Line> decoded = decode(messages, file);
      assertThat(decoded).as("round %d", round).containsExactlyElementsOf(emitted);
      long covered = messages.stream().mapToLong(m -> parse(m).getData().size()).sum();
      assertThat(covered).isEqualTo(file.length);
    }
  }

  @Test
  void aBatchIsCutByLinesAndBytesButNeverBelowOneLine() {
    List<Line> emitted = new ArrayList<>();
    byte[] file = "aaaa\nbb\nc\n0123456789\nd\n".getBytes(UTF_8);
    LineBatch b = batches(file, 1 << 10, 1 << 10, emitted).get(0);
    List<WireChunk> chunks = new ArrayList<>();
    WireChunk.split(b, 2, 8, chunks::add);

    assertThat(chunks).extracting(WireChunk::from, WireChunk::to)
        .containsExactly(org.assertj.core.groups.Tuple.tuple(0, 2),
            org.assertj.core.groups.Tuple.tuple(2, 3),
            org.assertj.core.groups.Tuple.tuple(3, 4),
            org.assertj.core.groups.Tuple.tuple(4, 5));
    assertThat(chunks).extracting(WireChunk::last).containsExactly(false, false, false, true);
    assertThat(chunks.get(3).endOffset()).isEqualTo(file.length);
    assertThat(chunks.get(2).dataBytes()).isEqualTo(11); // one line above maxBytes: alone
  }

  @Test
  void theEncodedStreamReadsAndDrainsTheSameBytesAsTheArray() throws Exception {
    List<Line> emitted = new ArrayList<>();
    byte[] file = "first line\nsecond\r\nthird\n".getBytes(UTF_8);
    LineBatch b = batches(file, 1 << 10, 1 << 10, emitted).get(0);
    List<WireChunk> chunks = new ArrayList<>();
    WireChunk.split(b, 2, 1 << 10, chunks::add);
    WireChunk.Encoded e = chunks.get(1).encode(9);
    byte[] whole = e.toByteArray();
    assertThat(Chunk.parseFrom(whole).getStartOffset()).isEqualTo(19);

    ByteArrayOutputStream drained = new ByteArrayOutputStream();
    java.io.InputStream in = e.stream();
    assertThat(in.available()).isEqualTo(whole.length);
    assertThat(((io.grpc.Drainable) in).drainTo(drained)).isEqualTo(whole.length);
    assertThat(drained.toByteArray()).isEqualTo(whole);
    assertThat(in.available()).isZero();

    java.io.InputStream byParts = e.stream();
    ByteArrayOutputStream read = new ByteArrayOutputStream();
    read.write(byParts.read());
    byte[] buf = new byte[3];
    for (int n; (n = byParts.read(buf, 0, buf.length)) > 0; ) {
      read.write(buf, 0, n);
    }
    assertThat(read.toByteArray()).isEqualTo(whole);
    assertThat(byParts.read()).isEqualTo(-1);
  }

  @Test
  void aBuilderKeepsNoBufferWhileIdleAndTrimsASmallChunk() {
    LineBatch.Builder builder = new LineBatch.Builder("app", "fid", "p").expectBytes(1 << 18);
    builder.line(0, "x".getBytes(UTF_8), 0, 1, 2);
    LineBatch b = builder.build();
    assertThat(b.data()).hasSize(2); // not the 256 KiB the read could have held
    assertThat(b.heapBytes()).isLessThan(200);
  }

  private static Chunk parse(byte[] m) {
    try {
      return Chunk.parseFrom(m);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }
}
