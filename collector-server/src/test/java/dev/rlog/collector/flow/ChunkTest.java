package dev.rlog.collector.flow;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rlog.common.buffer.ChunkBufferPool;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChunkTest {

  @Test
  void aChunkGivesItsBufferBackToItsOwnPoolOnly() {
    ChunkBufferPool pool = new ChunkBufferPool(1 << 20, 4);
    byte[] b = new byte[4096];
    new Chunk(b, 10, 1, List.of(), pool).releaseBuffer();
    assertThat(pool.take(4096, 4096)).isSameAs(b);
    Chunk.of(new byte[4096], 10, 1).releaseBuffer(); // no pool: nothing happens
    assertThat(pool.idleBuffers()).isZero();
  }
}
