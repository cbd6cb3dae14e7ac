package dev.rlog.common.buffer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class ChunkBufferPoolTest {

  @Test
  void takesTheSmallestIdleBufferInRangeElseAllocatesExactlyMin() {
    ChunkBufferPool pool = new ChunkBufferPool(1 << 20, 8);
    byte[] a = new byte[8192];
    byte[] b = new byte[5000];
    byte[] c = new byte[4096];
    pool.release(a);
    pool.release(b);
    pool.release(c);

    assertThat(pool.take(4500, 9000)).isSameAs(b);
    assertThat(pool.take(4500, 9000)).isSameAs(a);
    byte[] fresh = pool.take(4500, 4500); // c is too small, nothing else left
    assertThat(fresh).hasSize(4500).isNotSameAs(c);
    assertThat(pool.take(4096, 4096)).isSameAs(c);
    assertThat(pool.idleBuffers()).isZero();
    assertThat(pool.idleBytes()).isZero();
  }

  @Test
  void staysWithinItsBytesAndCountEvictingTheOldest() {
    ChunkBufferPool pool = new ChunkBufferPool(10_000, 3);
    byte[] first = new byte[4000];
    byte[] second = new byte[4000];
    byte[] third = new byte[4000];
    pool.release(first);
    pool.release(second);
    pool.release(third); // 12,000 > 10,000: the oldest goes
    assertThat(pool.idleBytes()).isEqualTo(8000);
    assertThat(pool.take(4000, 4000)).isNotSameAs(first);

    ChunkBufferPool few = new ChunkBufferPool(1 << 20, 2);
    for (int i = 0; i < 10; i++) {
      few.release(new byte[2048]);
      assertThat(few.idleBuffers()).isLessThanOrEqualTo(2);
      assertThat(few.idleBytes()).isLessThanOrEqualTo(few.maxBytes());
    }
  }

  @Test
  void evictsTheSizeLeastRecentlyUsedFirst() {
    ChunkBufferPool pool = new ChunkBufferPool(12_000, 8);
    byte[] small = new byte[2000];
    pool.release(small);
    pool.release(new byte[4000]);
    pool.release(new byte[4000]);
    pool.take(2000, 2000);
    pool.release(small); // 2000 is now the size used last
    pool.release(new byte[4000]); // 14,000 > 12,000: a 4000 goes, the 2000 stays
    assertThat(pool.idleBytes()).isEqualTo(10_000);
    assertThat(pool.take(2000, 2000)).isSameAs(small);
  }

  @Test
  void trimFreesAtLeastWhatIsAsked() {
    ChunkBufferPool pool = new ChunkBufferPool(1 << 20, 16);
    for (int i = 0; i < 4; i++) {
      pool.release(new byte[4096]);
    }
    pool.trim(5000);
    assertThat(pool.idleBytes()).isEqualTo(8192);
    pool.trim(Long.MAX_VALUE);
    assertThat(pool.idleBuffers()).isZero();
    pool.trim(1); // nothing left: no-op
  }

  @Test
  void sizeClassesAreAtMostAQuarterLargerAndStable() {
    assertThat(ChunkBufferPool.sizeClass(100)).isEqualTo(100); // too small to pool: as asked
    assertThat(ChunkBufferPool.sizeClass(1025)).isEqualTo(1280);
    assertThat(ChunkBufferPool.sizeClass(2048)).isEqualTo(2048);
    assertThat(ChunkBufferPool.sizeClass(2049)).isEqualTo(2560);
    assertThat(ChunkBufferPool.sizeClass(57_000)).isEqualTo(57_344); // 1.75 * 32 KiB
    for (int n = 1025; n < 1 << 22; n += 997) {
      int c = ChunkBufferPool.sizeClass(n);
      assertThat(c).isBetween(n, n + n / 4);
      assertThat(ChunkBufferPool.sizeClass(c)).isEqualTo(c);
    }
    assertThat(ChunkBufferPool.sizeClass(Integer.MAX_VALUE)).isEqualTo(Integer.MAX_VALUE - 8);
  }

  @Test
  void keepsNeitherTinyNorOversizedBuffers() {
    ChunkBufferPool pool = new ChunkBufferPool(8192, 4);
    pool.release(new byte[ChunkBufferPool.MIN_POOLED_BYTES - 1]);
    pool.release(new byte[8193]);
    assertThat(pool.idleBuffers()).isZero();
    assertThat(new ChunkBufferPool(0, 0).take(100, 200)).hasSize(100);
  }

  @Test
  void aBufferGivenBackTwiceIsRefused() {
    ChunkBufferPool pool = new ChunkBufferPool(1 << 20, 4);
    byte[] b = new byte[4096];
    pool.release(b);
    assertThrows(IllegalStateException.class, () -> pool.release(b));
    assertThat(pool.idleBuffers()).isEqualTo(1);
  }

  @Test
  void rejectsBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> new ChunkBufferPool(-1, 1));
    assertThrows(IllegalArgumentException.class, () -> new ChunkBufferPool(1, -1));
    ChunkBufferPool pool = ChunkBufferPool.shared();
    assertThrows(IllegalArgumentException.class, () -> pool.take(10, 9));
  }
}
