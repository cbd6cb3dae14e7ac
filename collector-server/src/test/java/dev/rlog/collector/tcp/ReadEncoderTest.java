package dev.rlog.collector.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.common.buffer.ChunkBufferPool;
import dev.rlog.collector.tcp.ReadEncoder.EncodedRead;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ReadEncoderTest {

  /** {@code count} frames of {@code size} payload bytes each. */
  private static byte[] frames(int count, int size) {
    ByteBuffer b = ByteBuffer.allocate(count * (4 + size));
    byte[] payload = new byte[size];
    Arrays.fill(payload, (byte) 'x');
    for (int i = 0; i < count; i++) {
      b.putInt(size).put(payload);
    }
    return b.array();
  }

  @Test
  void steadyReadsReuseTheBuffersTheWriterGivesBack() {
    ChunkBufferPool pool = new ChunkBufferPool(1 << 20, 4);
    ReadEncoder reads = new ReadEncoder(1 << 20, "127.0.0.1:1", pool);
    byte[] wire = frames(300, 100);

    // The first reads learn the expansion; after that every read fits its buffer.
    Chunk c = reads.encode(wire, 0, wire.length, 0).chunk();
    c.releaseBuffer(); // what the store writer does once the chunk is committed
    c = reads.encode(wire, 0, wire.length, 0).chunk();
    c.releaseBuffer();
    byte[] reused = null;
    for (int i = 0; i < 20; i++) {
      EncodedRead r = reads.encode(wire, 0, wire.length, 1000L * i);
      assertThat(r.records()).isEqualTo(300);
      byte[] buffer = r.chunk().bytes();
      // Not much larger than what it holds, and the same buffer every time.
      assertThat(buffer.length).isLessThanOrEqualTo(r.chunk().length() * 3 / 2);
      if (reused == null) {
        reused = buffer;
      }
      assertThat(buffer).isSameAs(reused);
      r.chunk().releaseBuffer();
    }
  }

  @Test
  void aReadThatCompletesNoRecordHoldsNoBuffer() {
    ChunkBufferPool pool = new ChunkBufferPool(1 << 20, 4);
    ReadEncoder reads = new ReadEncoder(1 << 20, "127.0.0.1:1", pool);
    byte[] wire = frames(1, 5000);

    EncodedRead r = reads.encode(wire, 0, 3000, 0); // half a record
    assertThat(r.chunk()).isNull();
    assertThat(reads.partialBytes()).isEqualTo(3000);
    assertThat(pool.idleBuffers()).isEqualTo(1); // the reservation went back

    r = reads.encode(wire, 3000, wire.length - 3000, 0);
    assertThat(r.records()).isEqualTo(1);
    assertThat(r.chunk().length()).isGreaterThan(5000);
  }

  @Test
  void aTrimmedChunkGivesItsLargeBufferBack() {
    ChunkBufferPool pool = new ChunkBufferPool(1 << 20, 4);
    byte[] big = new byte[64 * 1024];
    Chunk c = new Chunk(big, 100, 1, java.util.List.of(), pool);
    Chunk small = ReadEncoder.trimmed(c);
    assertThat(small.bytes()).hasSize(100);
    assertThat(small.pool()).isNull();
    assertThat(pool.take(big.length, big.length)).isSameAs(big);
  }
}
