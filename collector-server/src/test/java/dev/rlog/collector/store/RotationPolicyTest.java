package dev.rlog.collector.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class RotationPolicyTest {
  private final RotationPolicy policy = new RotationPolicy(100);

  @Test
  void defaultIs128MiB() {
    assertThat(RotationPolicy.defaults().maxSegmentBytes()).isEqualTo(128L * 1024 * 1024);
    assertThat(StoreOptions.defaults().maxSegmentBytes())
        .isEqualTo(RotationPolicy.DEFAULT_MAX_SEGMENT_BYTES);
  }

  @Test
  void chunkThatFitsExactlyDoesNotRotate() {
    assertThat(policy.shouldRotate(60, 40)).isFalse();
    assertThat(policy.shouldRotate(99, 1)).isFalse();
  }

  @Test
  void chunkOneByteOverRotates() {
    assertThat(policy.shouldRotate(60, 41)).isTrue();
    assertThat(policy.shouldRotate(100, 1)).isTrue();
  }

  @Test
  void emptySegmentTakesAnyChunkEvenOversized() {
    assertThat(policy.shouldRotate(0, 1)).isFalse();
    assertThat(policy.shouldRotate(0, 100)).isFalse();
    assertThat(policy.shouldRotate(0, 10_000)).isFalse();
  }

  @Test
  void afterAnOversizedSegmentTheNextChunkRotates() {
    assertThat(policy.shouldRotate(10_000, 1)).isTrue();
  }

  @Test
  void emptyChunkNeverPushesAFittingSegmentOver() {
    assertThat(policy.shouldRotate(100, 0)).isFalse();
  }

  @Test
  void hugeSizesDoNotOverflow() {
    RotationPolicy big = new RotationPolicy(Long.MAX_VALUE);
    assertThat(big.shouldRotate(Long.MAX_VALUE - 1, Integer.MAX_VALUE)).isTrue();
    assertThat(big.shouldRotate(1, Integer.MAX_VALUE)).isFalse();
  }

  @Test
  void rejectsNonPositiveMaxAndNegativeSizes() {
    assertThrows(IllegalArgumentException.class, () -> new RotationPolicy(0));
    assertThrows(IllegalArgumentException.class, () -> new RotationPolicy(-1));
    assertThrows(IllegalArgumentException.class, () -> policy.shouldRotate(-1, 1));
    assertThrows(IllegalArgumentException.class, () -> policy.shouldRotate(1, -1));
  }

  @Test
  void storeOptionsValidateAndParseFsync() {
    assertThrows(IllegalArgumentException.class,
        () -> new StoreOptions(0, FsyncPolicy.NEVER));
    assertThrows(NullPointerException.class, () -> new StoreOptions(1, null));
    assertThat(StoreOptions.defaults().fsync()).isEqualTo(FsyncPolicy.NEVER);
    assertThat(FsyncPolicy.parse("always")).isEqualTo(FsyncPolicy.ALWAYS);
    assertThat(FsyncPolicy.parse(" Never ")).isEqualTo(FsyncPolicy.NEVER);
    assertThrows(IllegalArgumentException.class, () -> FsyncPolicy.parse("sometimes"));
    assertThrows(IllegalArgumentException.class, () -> FsyncPolicy.parse(null));
  }
}
