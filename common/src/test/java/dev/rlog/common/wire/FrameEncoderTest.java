package dev.rlog.common.wire;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class FrameEncoderTest {

  @Test
  void encodeWritesBigEndianLengthThenPayload() {
    byte[] payload = new byte[0x0102];
    Arrays.fill(payload, (byte) 'q');

    byte[] frame = FrameEncoder.encode(payload);

    assertThat(frame).hasSize(4 + 0x0102);
    assertThat(Arrays.copyOf(frame, 4)).containsExactly(0, 0, 1, 2);
    assertThat(Arrays.copyOfRange(frame, 4, frame.length)).isEqualTo(payload);
  }

  @Test
  void emptyPayloadIsAFourByteZeroHeader() {
    assertThat(FrameEncoder.encode(new byte[0])).containsExactly(0, 0, 0, 0);
  }

  @Test
  void encodeOfASliceTakesOnlyTheSlice() {
    byte[] frame = FrameEncoder.encode("xxhixx".getBytes(UTF_8), 2, 2);
    assertThat(frame).containsExactly(0, 0, 0, 2, 'h', 'i');
  }

  @Test
  void byteBufferWriteIsBigEndianWhateverTheBufferOrder() {
    ByteBuffer dst = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);

    FrameEncoder.writeTo(dst, new byte[] {7, 8, 9}, 1, 2);

    assertThat(dst.position()).isEqualTo(6);
    assertThat(Arrays.copyOf(dst.array(), 6)).containsExactly(0, 0, 0, 2, 8, 9);
  }

  @Test
  void byteBufferWithoutRoomIsLeftUntouched() {
    ByteBuffer dst = ByteBuffer.allocate(5);

    assertThrows(BufferOverflowException.class,
        () -> FrameEncoder.writeTo(dst, new byte[] {1, 2}, 0, 2));
    assertThat(dst.position()).isZero();
  }

  @Test
  void outputStreamRoundTripsThroughTheDecoder() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    FrameEncoder.writeTo(out, "first".getBytes(UTF_8));
    FrameEncoder.writeTo(out, new byte[0]);
    FrameEncoder.writeTo(out, "--third--".getBytes(UTF_8), 2, 5);
    byte[] wire = out.toByteArray();

    List<String> got = new ArrayList<>();
    new FrameDecoder(100).decode(wire, 0, wire.length,
        (buf, off, len) -> got.add(new String(buf, off, len, UTF_8)));

    assertThat(got).containsExactly("first", "", "third");
  }

  @Test
  void encodeAllConcatenatesRecords() {
    byte[] all = FrameEncoder.encodeAll("a".getBytes(UTF_8), new byte[0]);
    assertThat(all).containsExactly(0, 0, 0, 1, 'a', 0, 0, 0, 0);
  }

  @Test
  void frameLengthAddsTheHeader() {
    assertThat(FrameEncoder.frameLength(0)).isEqualTo(4);
    assertThat(FrameEncoder.frameLength(10)).isEqualTo(14);
    assertThrows(IllegalArgumentException.class, () -> FrameEncoder.frameLength(-1));
    assertThrows(ArithmeticException.class, () -> FrameEncoder.frameLength(Integer.MAX_VALUE));
  }
}
