package dev.rlog.agent.tail;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.common.buffer.ChunkBufferPool;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Batch arrays come from a pool and go back to it on release, once. */
class LineBatchArraysTest {
  private final ChunkBufferPool pool = new ChunkBufferPool(1 << 20, 8);

  private LineBatch batch(long from, int lines, int expectBytes) {
    LineBatch.Builder b = new LineBatch.Builder("app", "f", "/var/log/f", pool);
    b.expectBytes(expectBytes);
    for (int i = 0; i < lines; i++) {
      byte[] line = String.format("line %05d", from + i).getBytes(StandardCharsets.US_ASCII);
      long off = 11L * (from + i);
      b.line(off, line, 0, line.length, off + 11);
    }
    return b.build();
  }

  @Test
  void aReleasedBatchsArrayCarriesTheNextBatch() {
    LineBatch first = batch(0, 200, 4096);
    byte[] array = first.data();
    first.release();
    assertThat(pool.idleBuffers()).isEqualTo(1);

    LineBatch second = batch(200, 200, 4096);
    assertThat(second.data()).isSameAs(array);
    assertThat(new String(second.data(), 0, 11, StandardCharsets.US_ASCII))
        .isEqualTo("line 00200\n");
    assertThat(pool.idleBuffers()).isZero();
  }

  @Test
  void aBatchIsReleasedAtMostOnce() {
    LineBatch b = batch(0, 200, 4096);
    b.release();
    assertThrows(IllegalStateException.class, b::release);
    assertThat(pool.idleBuffers()).isEqualTo(1);
  }

  @Test
  void aReadSizedArrayHoldingFewLinesIsTrimmedAndGivenBackAtOnce() {
    LineBatch small = batch(0, 3, 64 * 1024); // 33 bytes in a 64 KiB array
    assertThat(small.data()).hasSize(33);
    assertThat(pool.idleBytes()).isEqualTo(64 * 1024);
  }

  @Test
  void anArrayOutgrownWhileFillingGoesBackAndTheLinesMoveOn() {
    LineBatch b = batch(0, 400, 4096); // 4,400 bytes: grows once
    assertThat(b.dataLength()).isEqualTo(4400);
    assertThat(new String(b.data(), 4389, 11, StandardCharsets.US_ASCII)).isEqualTo("line 00399\n");
    assertThat(pool.idleBytes()).isEqualTo(4096);
  }
}
