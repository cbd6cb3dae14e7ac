package dev.rlog.collector.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DecimalWriterTest {

  private static List<Long> edges() {
    List<Long> v = new ArrayList<>(List.of(0L, 1L, 9L, 10L, 11L, 99L, 100L, 101L,
        (long) Integer.MAX_VALUE, Integer.MAX_VALUE + 1L, Long.MAX_VALUE, Long.MAX_VALUE - 1,
        Long.MIN_VALUE, Long.MIN_VALUE + 1, -1L, -2L, -9L, -10L, -11L));
    long p = 1;
    for (int k = 0; k <= 18; k++) {
      v.addAll(List.of(p - 1, p, p + 1, p * 9));
      p *= 10;
    }
    for (int k = 0; k < 64; k++) {
      v.addAll(List.of((1L << k) - 1, 1L << k, (1L << k) + 1));
    }
    // Unsigned powers of ten above Long.MAX_VALUE: 10^19 and around it.
    long tenPow19 = Long.parseUnsignedLong("10000000000000000000");
    v.addAll(List.of(tenPow19 - 1, tenPow19, tenPow19 + 1));
    return v;
  }

  private static String written(long v) {
    byte[] buf = new byte[40];
    java.util.Arrays.fill(buf, (byte) '#');
    int end = DecimalWriter.putUnsigned(v, buf, 7);
    // Nothing written outside [7, end).
    assertThat(buf[6]).isEqualTo((byte) '#');
    assertThat(buf[end]).isEqualTo((byte) '#');
    assertThat(end - 7).isLessThanOrEqualTo(DecimalWriter.MAX_UNSIGNED_LONG_DIGITS);
    return new String(buf, 7, end - 7, StandardCharsets.US_ASCII);
  }

  @Test
  void unsignedMatchesLongToUnsignedStringAtTheEdges() {
    for (long v : edges()) {
      assertThat(written(v)).as("%d", v).isEqualTo(Long.toUnsignedString(v));
      if (v >= 0) {
        assertThat(written(v)).isEqualTo(Long.toString(v));
        assertThat(DecimalWriter.digits(v)).as("digits of %d", v)
            .isEqualTo(Long.toString(v).length());
      }
    }
  }

  @Test
  void unsignedMatchesForRandomValuesOfEveryLength() {
    Random rnd = new Random(11);
    for (int i = 0; i < 100_000; i++) {
      long v = rnd.nextLong() >>> rnd.nextInt(64); // every bit length, also negative as unsigned
      assertThat(written(v)).isEqualTo(Long.toUnsignedString(v));
      if (v >= 0) {
        assertThat(DecimalWriter.digits(v)).isEqualTo(Long.toString(v).length());
      }
    }
  }

  @Test
  void fixedWidthIsZeroPadded() {
    byte[] buf = new byte[12];
    for (int width = 1; width <= 9; width++) {
      int max = (int) Math.pow(10, width) - 1;
      for (int v : new int[] {0, 1, 7, 10, 99, max / 2, max}) {
        if (v > max) {
          continue;
        }
        int end = DecimalWriter.putFixed(v, width, buf, 1);
        assertThat(end).isEqualTo(1 + width);
        assertThat(new String(buf, 1, width, StandardCharsets.US_ASCII))
            .isEqualTo(String.format("%0" + width + "d", v));
      }
    }
  }

  @Test
  void divisionByAHundredIsExactForEveryInt() {
    // The multiply-and-shift is non-decreasing in i, so being exact on both sides of every step
    // of i / 100 (at 100k - 1 and 100k) makes it exact for every i in between.
    for (long k = 1; 100 * k <= Integer.MAX_VALUE; k++) {
      int step = (int) (100 * k);
      if (DecimalWriter.div100(step - 1) != k - 1 || DecimalWriter.div100(step) != k) {
        throw new AssertionError("div100 wrong at " + step);
      }
    }
    assertThat(DecimalWriter.div100(0)).isZero();
    assertThat(DecimalWriter.div100(Integer.MAX_VALUE)).isEqualTo(Integer.MAX_VALUE / 100);
  }

  @Test
  void numbersAboveTheIntRangeKeepTheZerosInsideEachGroupOfEightDigits() {
    for (String s : new String[] {"2147483648", "100000000000", "123000000045", "900000000000000001",
        "1000000000000000000", "9223372036854775807", "4294967296", "10000000000000000"}) {
      assertThat(written(Long.parseLong(s))).isEqualTo(s);
    }
  }
}
