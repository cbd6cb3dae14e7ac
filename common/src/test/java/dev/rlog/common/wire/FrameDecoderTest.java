package dev.rlog.common.wire;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FrameDecoderTest {
  private static final int CAP = 64;

  /** Collects copies of the payloads, and whether each was a view of the caller's input. */
  private static final class Collector implements FrameSink {
    final List<byte[]> frames = new ArrayList<>();
    final List<Boolean> views = new ArrayList<>();
    byte[] currentInput;

    @Override
    public void frame(byte[] buf, int off, int len) {
      frames.add(Arrays.copyOfRange(buf, off, off + len));
      views.add(buf == currentInput);
    }

    void feed(FrameDecoder decoder, byte[] in, int off, int len) {
      currentInput = in;
      decoder.decode(in, off, len, this);
    }

    List<String> strings() {
      return frames.stream().map(b -> new String(b, UTF_8)).toList();
    }
  }

  private static byte[] records(String... payloads) {
    return FrameEncoder.encodeAll(Arrays.stream(payloads).map(s -> s.getBytes(UTF_8))
        .toArray(byte[][]::new));
  }

  private static byte[] header(long length) {
    return new byte[] {
      (byte) (length >>> 24), (byte) (length >>> 16), (byte) (length >>> 8), (byte) length
    };
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  @Test
  void wholeInputPassesEveryFrameAsAViewWithoutCopying() {
    byte[] in = records("alpha", "", "beta", "gamma-delta");
    FrameDecoder decoder = new FrameDecoder(CAP);
    Collector c = new Collector();

    c.feed(decoder, in, 0, in.length);

    assertThat(c.strings()).containsExactly("alpha", "", "beta", "gamma-delta");
    assertThat(c.views).containsOnly(true);
    assertThat(decoder.bufferedBytes()).isZero();
  }

  @Test
  void honoursOffsetAndLengthOfTheInput() {
    byte[] rec = records("x", "yz");
    byte[] in = concat(new byte[] {9, 9, 9}, rec, new byte[] {7, 7});
    Collector c = new Collector();

    c.feed(new FrameDecoder(CAP), in, 3, rec.length);

    assertThat(c.strings()).containsExactly("x", "yz");
  }

  @Test
  void manyFramesInOneBuffer() {
    String[] payloads = new String[10_000];
    for (int i = 0; i < payloads.length; i++) {
      payloads[i] = "record-" + i;
    }
    byte[] in = records(payloads);
    Collector c = new Collector();

    c.feed(new FrameDecoder(CAP), in, 0, in.length);

    assertThat(c.strings()).containsExactly(payloads);
  }

  @Test
  void byteByByte() {
    byte[] in = records("one", "", "three33", "", "");
    FrameDecoder decoder = new FrameDecoder(CAP);
    Collector c = new Collector();

    for (int i = 0; i < in.length; i++) {
      c.feed(decoder, in, i, 1);
    }

    assertThat(c.strings()).containsExactly("one", "", "three33", "", "");
    assertThat(decoder.bufferedBytes()).isZero();
  }

  @Test
  void everyTwoAndThreeWaySplitGivesTheSameFrames() {
    // Covers splits inside a header, exactly at its end, inside a payload and between records.
    String[] payloads = {"abc", "", "0123456789", "z"};
    byte[] in = records(payloads);
    for (int i = 0; i <= in.length; i++) {
      for (int j = i; j <= in.length; j++) {
        FrameDecoder decoder = new FrameDecoder(CAP);
        Collector c = new Collector();
        // Separate arrays per piece, so a view of an earlier piece would be caught as wrong data.
        c.feed(decoder, Arrays.copyOfRange(in, 0, i), 0, i);
        c.feed(decoder, Arrays.copyOfRange(in, i, j), 0, j - i);
        c.feed(decoder, Arrays.copyOfRange(in, j, in.length), 0, in.length - j);
        assertThat(c.strings()).as("split at %d and %d", i, j).containsExactly(payloads);
        assertThat(decoder.bufferedBytes()).isZero();
      }
    }
  }

  @Test
  void payloadWholeInTheNextInputIsAViewEvenWhenTheHeaderWasSplit() {
    byte[] in = records("payload");
    FrameDecoder decoder = new FrameDecoder(CAP);
    Collector c = new Collector();

    c.feed(decoder, Arrays.copyOfRange(in, 0, 2), 0, 2);
    c.feed(decoder, Arrays.copyOfRange(in, 2, in.length), 0, in.length - 2);

    assertThat(c.strings()).containsExactly("payload");
    assertThat(c.views).containsExactly(true);
  }

  @Test
  void bufferedBytesCountsHeaderAndPayloadOfTheIncompleteRecord() {
    byte[] in = records("done", "0123456789");
    FrameDecoder decoder = new FrameDecoder(CAP);
    Collector c = new Collector();

    c.feed(decoder, in, 0, 8 + 2); // first record, then 2 header bytes
    assertThat(decoder.bufferedBytes()).isEqualTo(2);
    c.feed(decoder, in, 10, 2 + 3); // rest of the header, 3 payload bytes
    assertThat(decoder.bufferedBytes()).isEqualTo(7);
    c.feed(decoder, in, 15, 7);
    assertThat(decoder.bufferedBytes()).isZero();
    assertThat(c.strings()).containsExactly("done", "0123456789");
  }

  @Test
  void emptyInputIsANoOp() {
    FrameDecoder decoder = new FrameDecoder(CAP);
    Collector c = new Collector();

    c.feed(decoder, new byte[0], 0, 0);
    c.feed(decoder, header(3), 0, 2);
    c.feed(decoder, new byte[0], 0, 0);

    assertThat(c.frames).isEmpty();
    assertThat(decoder.bufferedBytes()).isEqualTo(2);
  }

  @Test
  void onlyEmptyRecords() {
    byte[] in = concat(header(0), header(0), header(0));
    Collector c = new Collector();

    c.feed(new FrameDecoder(CAP), in, 0, in.length);

    assertThat(c.frames).hasSize(3).allSatisfy(f -> assertThat(f).isEmpty());
  }

  @Test
  void capOfZeroAllowsOnlyEmptyRecords() {
    FrameDecoder decoder = new FrameDecoder(0);
    Collector c = new Collector();
    c.feed(decoder, header(0), 0, 4);
    assertThat(c.frames).hasSize(1);

    assertThrows(FrameTooLargeException.class, () -> c.feed(decoder, header(1), 0, 4));
  }

  @Test
  void exactlyTheCapIsAccepted() {
    byte[] payload = new byte[CAP];
    Arrays.fill(payload, (byte) 'm');
    byte[] in = FrameEncoder.encode(payload);
    FrameDecoder decoder = new FrameDecoder(CAP);
    Collector c = new Collector();

    // split inside the payload, so the accumulating path meets the cap too
    c.feed(decoder, in, 0, 10);
    c.feed(decoder, in, 10, in.length - 10);

    assertThat(c.frames).hasSize(1);
    assertThat(c.frames.get(0)).isEqualTo(payload);
  }

  @Test
  void oneAboveTheCapThrowsWithTheDeclaredLengthAfterDeliveringEarlierRecords() {
    byte[] in = concat(records("ok-1", "ok-2"), header(CAP + 1), new byte[CAP + 1]);
    FrameDecoder decoder = new FrameDecoder(CAP);
    Collector c = new Collector();

    FrameTooLargeException e =
        assertThrows(FrameTooLargeException.class, () -> c.feed(decoder, in, 0, in.length));

    assertThat(e.declaredLength()).isEqualTo(CAP + 1);
    assertThat(e.maxFrameLength()).isEqualTo(CAP);
    assertThat(c.strings()).containsExactly("ok-1", "ok-2");
    assertThat(decoder.bufferedBytes()).isZero();
  }

  @Test
  void maximumUnsignedLengthIsRejectedNotReadAsNegative() {
    FrameDecoder decoder = new FrameDecoder(FrameDecoder.MAX_FRAME_LENGTH_LIMIT);
    Collector c = new Collector();

    FrameTooLargeException e = assertThrows(FrameTooLargeException.class,
        () -> c.feed(decoder, new byte[] {-1, -1, -1, -1, 1, 2}, 0, 6));

    assertThat(e.declaredLength()).isEqualTo(0xFFFF_FFFFL);
    assertThat(e.maxFrameLength()).isEqualTo(FrameDecoder.MAX_FRAME_LENGTH_LIMIT);
  }

  @Test
  void lengthOfTwoToThe31IsRejected() {
    FrameDecoder decoder = new FrameDecoder(CAP);
    Collector c = new Collector();

    FrameTooLargeException e = assertThrows(FrameTooLargeException.class,
        () -> c.feed(decoder, header(0x8000_0000L), 0, 4));

    assertThat(e.declaredLength()).isEqualTo(0x8000_0000L);
  }

  @Test
  void oversizedHeaderSplitAcrossInputsThrowsWhenItsLastByteArrives() {
    byte[] h = header(CAP + 1000);
    FrameDecoder decoder = new FrameDecoder(CAP);
    Collector c = new Collector();

    c.feed(decoder, h, 0, 3);
    assertThat(decoder.bufferedBytes()).isEqualTo(3);
    FrameTooLargeException e =
        assertThrows(FrameTooLargeException.class, () -> c.feed(decoder, h, 3, 1));

    assertThat(e.declaredLength()).isEqualTo(CAP + 1000);
    assertThat(c.frames).isEmpty();
  }

  @Test
  void largeDeclaredLengthAllocatesOnlyWhatArrives() {
    // A cap near the array limit: allocating the declared 2 GiB up front would fail this test.
    FrameDecoder decoder = new FrameDecoder(FrameDecoder.MAX_FRAME_LENGTH_LIMIT);
    Collector c = new Collector();

    c.feed(decoder, concat(header(FrameDecoder.MAX_FRAME_LENGTH_LIMIT), new byte[100]), 0, 104);

    assertThat(decoder.bufferedBytes()).isEqualTo(104);
    assertThat(c.frames).isEmpty();
  }

  @Test
  void decoderIsUnusableAfterAnError() {
    FrameDecoder decoder = new FrameDecoder(CAP);
    Collector c = new Collector();
    assertThrows(FrameTooLargeException.class, () -> c.feed(decoder, header(CAP + 1), 0, 4));

    byte[] good = records("late");
    assertThrows(IllegalStateException.class, () -> c.feed(decoder, good, 0, good.length));
    assertThat(c.frames).isEmpty();
  }

  @Test
  void anExceptionFromTheSinkAlsoMakesTheDecoderUnusable() {
    FrameDecoder decoder = new FrameDecoder(CAP);
    byte[] in = records("a", "b");

    assertThrows(IllegalArgumentException.class, () -> decoder.decode(in, 0, in.length,
        (buf, off, len) -> {
          throw new IllegalArgumentException("sink refused");
        }));
    assertThrows(IllegalStateException.class,
        () -> decoder.decode(in, 0, in.length, (buf, off, len) -> {}));
  }

  @Test
  void garbageEitherDecodesIdenticallyHoweverSplitOrFailsTheSameWay() {
    Random random = new Random(20261121);
    for (int round = 0; round < 300; round++) {
      byte[] garbage = new byte[random.nextInt(200)];
      random.nextBytes(garbage);
      if (round % 2 == 0) {
        // small lengths so many inputs decode to frames rather than failing at once
        for (int i = 0; i + 4 <= garbage.length; i += 4 + random.nextInt(20)) {
          garbage[i] = 0;
          garbage[i + 1] = 0;
          garbage[i + 2] = 0;
        }
      }
      Outcome whole = decodeAll(garbage, garbage.length);
      Outcome bytewise = decodeAll(garbage, 1);
      Outcome chunked = decodeAll(garbage, 1 + random.nextInt(9));

      assertThat(bytewise).as("round %d", round).isEqualTo(whole);
      assertThat(chunked).as("round %d", round).isEqualTo(whole);
      for (String frame : whole.frames) {
        assertThat(frame.length() / 2).isLessThanOrEqualTo(CAP);
      }
    }
  }

  private record Outcome(List<String> frames, Long rejectedLength, int buffered) {}

  private static Outcome decodeAll(byte[] in, int step) {
    FrameDecoder decoder = new FrameDecoder(CAP);
    List<String> frames = new ArrayList<>();
    FrameSink sink = (buf, off, len) -> frames.add(hex(buf, off, len));
    try {
      for (int i = 0; i < in.length; i += step) {
        decoder.decode(in, i, Math.min(step, in.length - i), sink);
      }
      return new Outcome(frames, null, decoder.bufferedBytes());
    } catch (FrameTooLargeException e) {
      assertThat(e.declaredLength()).isGreaterThan(CAP);
      return new Outcome(frames, e.declaredLength(), -1);
    }
  }

  private static String hex(byte[] buf, int off, int len) {
    StringBuilder sb = new StringBuilder();
    for (int i = off; i < off + len; i++) {
      sb.append(String.format("%02x", buf[i]));
    }
    return sb.toString();
  }

  @Test
  void rejectsBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> new FrameDecoder(-1));
    assertThrows(IllegalArgumentException.class, () -> new FrameDecoder(Integer.MAX_VALUE));
    FrameDecoder decoder = new FrameDecoder(CAP);
    assertThrows(IndexOutOfBoundsException.class,
        () -> decoder.decode(new byte[4], 2, 3, (b, o, l) -> {}));
    assertThrows(IndexOutOfBoundsException.class,
        () -> decoder.decode(new byte[4], -1, 1, (b, o, l) -> {}));
    // a rejected call did not consume anything or poison the decoder
    byte[] good = records("fine");
    Collector c = new Collector();
    c.feed(decoder, good, 0, good.length);
    assertThat(c.strings()).containsExactly("fine");
  }
}
