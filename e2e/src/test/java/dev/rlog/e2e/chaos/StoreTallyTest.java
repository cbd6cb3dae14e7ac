package dev.rlog.e2e.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rlog.e2e.chaos.Ranges.Range;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class StoreTallyTest {
  private static String line(int f, long seq) {
    return ChaosLine.format(f, seq, 80);
  }

  @Test
  void everyLineOnceIsClean() {
    StoreTally t = new StoreTally(List.of("f0", "f1"));
    for (int s = 0; s < 100; s++) {
      t.accept("f0", line(0, s));
      t.accept("f1", line(1, s));
    }
    StoreTally.Verdict v = t.verdict(new long[] {100, 100});
    assertThat(v.clean()).isTrue();
    assertThat(v.written()).isEqualTo(200);
    assertThat(v.distinct()).isEqualTo(200);
    assertThat(v.records()).isEqualTo(200);
  }

  @Test
  void lostDuplicatedAndCorruptAreCountedWithTheirRanges() {
    StoreTally t = new StoreTally(List.of("f0", "f1"));
    for (int s = 0; s < 100; s++) {
      if (s < 10 || s > 19 && s != 50) {
        t.accept("f0", line(0, s));
      }
      t.accept("f1", line(1, s));
    }
    for (int s = 30; s < 33; s++) {
      t.accept("f1", line(1, s)); // sent twice
    }
    t.accept("f1", line(1, 30)); // three times
    t.accept("f0", line(1, 60)); // f1's line under f0's label
    t.accept("f0", "chaos f=0 seq=00000"); // a cut line
    t.accept("f0", line(0, 100)); // never written
    t.accept("other", "not ours");

    StoreTally.Verdict v = t.verdict(new long[] {100, 100});
    assertThat(v.clean()).isFalse();
    StoreTally.FileVerdict f0 = v.files().get(0);
    assertThat(f0.lost()).isEqualTo(11);
    assertThat(f0.lostRanges()).containsExactly(new Range(10, 19), new Range(50, 50));
    StoreTally.FileVerdict f1 = v.files().get(1);
    assertThat(f1.duplicated()).isEqualTo(3);
    assertThat(f1.duplicatedRanges()).containsExactly(new Range(30, 32));
    assertThat(v.extraCopies()).isEqualTo(4);
    assertThat(v.corrupt()).isEqualTo(3);
    assertThat(v.corruptSamples()).hasSize(2);
    assertThat(v.records()).isEqualTo(89 + 3 + 100 + 4);
  }

  @Test
  void resetForgetsEverything() {
    StoreTally t = new StoreTally(List.of("f0"));
    t.accept("f0", line(0, 0));
    t.accept("f0", line(0, 0));
    t.reset();
    t.accept("f0", line(0, 0));
    assertThat(t.verdict(new long[] {1}).clean()).isTrue();
  }

  @Test
  void rangesAreRunsOfSetBitsAndTheDescriptionIsBounded() {
    BitSet b = new BitSet();
    b.set(3);
    b.set(5, 9);
    b.set(100, 200);
    List<Range> r = Ranges.of(b);
    assertThat(r).containsExactly(new Range(3, 3), new Range(5, 8), new Range(100, 199));
    assertThat(Ranges.describe(r, 5)).isEqualTo("3, 5-8 (4), 100-199 (100)");
    assertThat(Ranges.describe(r, 1)).isEqualTo("3, ... and 2 more ranges");
    assertThat(Ranges.of(new BitSet())).isEmpty();
  }
}
