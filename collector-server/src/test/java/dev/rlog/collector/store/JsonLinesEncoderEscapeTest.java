package dev.rlog.collector.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.common.buffer.ChunkBufferPool;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The one-pass escaper against a simple reference (decode with a strict UTF-8 decoder, escape
 * char by char): random byte strings of 0 to 100 bytes, so every special byte lands at every
 * place of an 8-byte word and across word boundaries.
 */
class JsonLinesEncoderEscapeTest {
  private static final byte[] PEER = JsonLinesEncoder.quote("10.0.0.1:1");
  private static final byte[] AGENT = JsonLinesEncoder.grpcAgentFields("p", "a", "h");
  private static final byte[] LABEL = JsonLinesEncoder.quote("l");
  private static final byte[] FID = JsonLinesEncoder.quote("f");
  private static final String RECV = "{\"recv\":\"1970-01-01T00:00:00.000Z\"";

  /** The JSON string body of the bytes, or null if they are not well-formed UTF-8. */
  static String referenceEscape(byte[] b, int off, int len) {
    String s;
    try {
      s = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(b, off, len)).toString();
    } catch (CharacterCodingException e) {
      return null;
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        case '\b' -> sb.append("\\b");
        case '\f' -> sb.append("\\f");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.toString();
  }

  /** Random bytes: mostly plain text with specials of every kind mixed in. */
  static byte[] randomBytes(Random rnd, int len) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int plainBias = rnd.nextInt(4); // some strings are nearly all plain, some nearly all special
    while (out.size() < len) {
      int kind = rnd.nextInt(12 + plainBias * 8);
      switch (kind) {
        case 0 -> out.write(rnd.nextInt(0x20)); // control
        case 1 -> out.write('"');
        case 2 -> out.write('\\');
        case 3 -> out.write(0x7f);
        case 4 -> out.writeBytes(new String(Character.toChars(0x80 + rnd.nextInt(0x780)))
            .getBytes(StandardCharsets.UTF_8)); // 2 bytes
        case 5 -> {
          int cp = 0x800 + rnd.nextInt(0x10000 - 0x800);
          if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = 0xE000;
          }
          out.writeBytes(new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8));
        }
        case 6 -> out.writeBytes(new String(Character.toChars(0x10000 + rnd.nextInt(0x100000)))
            .getBytes(StandardCharsets.UTF_8)); // 4 bytes
        case 7 -> out.write(0x80 + rnd.nextInt(0x80)); // a lone high byte: usually invalid
        case 8 -> out.writeBytes(new byte[] {(byte) 0xE2, (byte) 0x82}); // truncated
        case 9 -> out.writeBytes(new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80}); // surrogate
        case 10 -> out.writeBytes(new byte[] {(byte) 0xC0, (byte) 0xAF}); // overlong
        default -> out.write(0x20 + rnd.nextInt(0x5f)); // printable ASCII
      }
    }
    return Arrays.copyOf(out.toByteArray(), len); // may cut a sequence: invalid, as it should be
  }

  /** {@code b} at a random offset inside random bytes, so nothing outside the slice may leak. */
  private static byte[] embed(Random rnd, byte[] b, int off) {
    byte[] big = randomBytes(rnd, off + b.length + rnd.nextInt(16));
    System.arraycopy(b, 0, big, off, b.length);
    return big;
  }

  private static String text(Chunk c) {
    return new String(c.bytes(), 0, c.length(), StandardCharsets.UTF_8);
  }

  @Test
  void tcpRecordsMatchTheReferenceForRandomBytes() {
    Random rnd = new Random(42);
    for (int round = 0; round < 400; round++) {
      // A small first buffer and no pool: escapes that need room grow the buffer mid-record.
      JsonLinesEncoder enc = new JsonLinesEncoder(256, new ChunkBufferPool(0, 0));
      StringBuilder expected = new StringBuilder();
      for (int r = 0; r < 50; r++) {
        byte[] payload = randomBytes(rnd, rnd.nextInt(101));
        int off = rnd.nextInt(9);
        enc.tcpRecord(PEER, embed(rnd, payload, off), off, payload.length);
        String ref = referenceEscape(payload, 0, payload.length);
        expected.append(RECV).append(",\"src\":\"tcp\",\"peer\":\"10.0.0.1:1\"")
            .append(ref != null ? ",\"payload\":\"" + ref
                : ",\"payload_b64\":\"" + Base64.getEncoder().encodeToString(payload))
            .append("\"}\n");
      }
      Chunk c = enc.finish(List.of());
      assertThat(c.records()).isEqualTo(50);
      assertThat(text(c)).isEqualTo(expected.toString());
    }
  }

  @Test
  void everyByteValueAtEveryPlaceOfAWord() {
    JsonLinesEncoder enc = new JsonLinesEncoder(256, new ChunkBufferPool(0, 0));
    StringBuilder expected = new StringBuilder();
    int records = 0;
    for (int b = 0; b < 256; b++) {
      for (int at = 0; at < 17; at++) {
        byte[] payload = new byte[17];
        Arrays.fill(payload, (byte) 'a');
        payload[at] = (byte) b;
        enc.tcpRecord(PEER, payload, 0, payload.length);
        records++;
        String ref = referenceEscape(payload, 0, payload.length);
        expected.append(RECV).append(",\"src\":\"tcp\",\"peer\":\"10.0.0.1:1\"")
            .append(ref != null ? ",\"payload\":\"" + ref
                : ",\"payload_b64\":\"" + Base64.getEncoder().encodeToString(payload))
            .append("\"}\n");
      }
    }
    Chunk c = enc.finish(List.of());
    assertThat(c.records()).isEqualTo(records);
    assertThat(text(c)).isEqualTo(expected.toString());
  }

  @Test
  void escapedLengthAgreesWithTheReference() {
    Random rnd = new Random(7);
    for (int round = 0; round < 20_000; round++) {
      byte[] b = randomBytes(rnd, rnd.nextInt(101));
      String ref = referenceEscape(b, 0, b.length);
      int expected = ref == null ? -1 : ref.getBytes(StandardCharsets.UTF_8).length;
      assertThat(JsonLinesEncoder.escapedLength(b, 0, b.length)).as("round %d", round)
          .isEqualTo(expected);
    }
  }

  @Test
  void grpcChunkRecordsMatchTheReferenceAndBase64DecodesToTheLine() {
    Random rnd = new Random(1);
    for (int round = 0; round < 400; round++) {
      JsonLinesEncoder enc = new JsonLinesEncoder(256, new ChunkBufferPool(0, 0));
      StringBuilder expected = new StringBuilder();
      List<byte[]> invalid = new ArrayList<>();
      for (int r = 0; r < 50; r++) {
        byte[] line = randomBytes(rnd, rnd.nextInt(101));
        int off = rnd.nextInt(9);
        long offset = rnd.nextLong();
        enc.grpcChunkRecord(AGENT, LABEL, 1_700_000_000L, 1000, FID, offset,
            embed(rnd, line, off), off, line.length);
        String ref = referenceEscape(line, 0, line.length);
        if (ref == null) {
          invalid.add(line);
        }
        expected.append(RECV).append(",\"src\":\"grpc\",\"project\":\"p\",\"agent\":\"a\"")
            .append(",\"host\":\"h\",\"label\":\"l\",\"ts\":\"2023-11-14T22:13:20.000001Z\"")
            .append(",\"fid\":\"f\",\"off\":").append(Long.toUnsignedString(offset))
            .append(ref != null ? ",\"line\":\"" + ref
                : ",\"line_b64\":\"" + Base64.getEncoder().encodeToString(line))
            .append("\"}\n");
      }
      assertThat(text(enc.finish(List.of()))).isEqualTo(expected.toString());
      for (byte[] line : invalid) { // the reference itself: base64 is lossless
        String b64 = Base64.getEncoder().encodeToString(line);
        assertThat(Base64.getDecoder().decode(b64)).isEqualTo(line);
      }
    }
  }

  @Test
  void isPlainExactlyWhenTheLineIsItsOwnEscapeAndThePlainRecordIsTheSame() {
    Random rnd = new Random(7);
    int plain = 0;
    for (int round = 0; round < 20_000; round++) {
      // printable ASCII with, now and then, one byte of anything at a random place
      byte[] line = new byte[rnd.nextInt(40)];
      for (int i = 0; i < line.length; i++) {
        line[i] = (byte) (0x20 + rnd.nextInt(0x5f));
      }
      if (line.length > 0 && rnd.nextInt(3) == 0) {
        line[rnd.nextInt(line.length)] = (byte) rnd.nextInt(256);
      }
      int off = rnd.nextInt(9);
      byte[] embedded = embed(rnd, line, off);
      String ref = referenceEscape(line, 0, line.length);
      boolean expected = ref != null
          && ref.equals(new String(line, StandardCharsets.ISO_8859_1));
      assertThat(JsonLinesEncoder.isPlain(embedded, off, line.length))
          .as("round %d: %s", round, java.util.Arrays.toString(line)).isEqualTo(expected);
      if (expected) {
        plain++;
        JsonLinesEncoder a = new JsonLinesEncoder(64, new ChunkBufferPool(0, 0));
        JsonLinesEncoder b = new JsonLinesEncoder(64, new ChunkBufferPool(0, 0));
        a.grpcChunkRecord(AGENT, LABEL, 1_700_000_000L, 1000, FID, round, embedded, off,
            line.length);
        b.grpcChunkRecordPlain(AGENT, LABEL, 1_700_000_000L, 1000, FID, round, embedded, off,
            line.length);
        assertThat(text(b.finish(List.of()))).isEqualTo(text(a.finish(List.of())));
      }
    }
    assertThat(plain).isBetween(5_000, 19_000); // both kinds were tried
  }

  @Test
  void linesBoundCoversEveryCutAndAReservationOfItNeverGrows() {
    Random rnd = new Random(3);
    int fixed = JsonLinesEncoder.grpcChunkRecordFixed(AGENT.length, LABEL.length, FID.length);
    for (int round = 0; round < 2000; round++) {
      byte[] data = randomBytes(rnd, rnd.nextInt(400));
      List<int[]> cuts = new ArrayList<>(); // {off, len}
      for (int at = 0; at < data.length || cuts.isEmpty(); ) {
        int len = Math.min(data.length - at, rnd.nextInt(60));
        cuts.add(new int[] {at, len});
        at += len;
      }
      long bound = JsonLinesEncoder.linesBound(data, 0, data.length, cuts.size());
      long actual = 0;
      for (int[] cut : cuts) {
        String ref = referenceEscape(data, cut[0], cut[1]);
        actual += ref != null ? ref.getBytes(StandardCharsets.UTF_8).length
            : JsonLinesEncoder.base64Length(cut[1]);
      }
      assertThat(bound).as("round %d", round).isGreaterThanOrEqualTo(actual);

      // What a Ship caller does: reserve lines * fixed + bound, then encode every line.
      int reserve = (int) (cuts.size() * (long) fixed + bound);
      JsonLinesEncoder enc = new JsonLinesEncoder(256, new ChunkBufferPool(0, 0));
      enc.reserve(reserve);
      for (int[] cut : cuts) {
        enc.grpcChunkRecord(AGENT, LABEL, rnd.nextLong() >>> 30, rnd.nextInt(1_000_000_000),
            FID, -1L, data, cut[0], cut[1]);
      }
      Chunk c = enc.finish(List.of());
      assertThat(c.bytes().length).as("round %d: grew past the reservation", round)
          .isEqualTo(Math.max(256, reserve));
    }
  }

  @Test
  void linesBoundCountsEscapesEightBytesAtATimeAndOneByOne() {
    byte[] plain = "abcdefghijklmnopqrstuvwxyz".getBytes(StandardCharsets.US_ASCII);
    assertThat(JsonLinesEncoder.linesBound(plain, 0, plain.length, 1)).isEqualTo(26 + 8 + 4);
    byte[] mixed = "a\"b\\c\nd\u0001é\u0000".getBytes(StandardCharsets.UTF_8);
    // a " b \ c \n d ^A é(2 bytes) ^@ : 11 bytes; + 1 + 1 + 1 + 5 + 5 for the escapes
    assertThat(mixed).hasSize(11);
    assertThat(JsonLinesEncoder.linesBound(mixed, 0, mixed.length, 2))
        .isEqualTo(11 + 13 + 11 / 3 + 8);
  }
}
