package dev.rlog.collector.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TimestampFormatterTest {

  private static String format(TimestampFormatter f, long sec, int nanos) {
    byte[] buf = new byte[40];
    int end = f.format(sec, nanos, buf, 3);
    assertThat(end - 3).isLessThanOrEqualTo(TimestampFormatter.MAX_LENGTH);
    return new String(buf, 3, end - 3, StandardCharsets.US_ASCII);
  }

  @Test
  void matchesInstantToStringWithThreeSixOrNineFractionDigits() {
    TimestampFormatter f = new TimestampFormatter();
    Random rnd = new Random(5);
    long maxSecond = 253_402_300_799L; // 9999-12-31T23:59:59Z
    for (int i = 0; i < 50_000; i++) {
      long sec = i % 3 == 0 ? 1_700_000_000L + i / 1000 : Math.floorMod(rnd.nextLong(), maxSecond);
      int nanos = switch (i % 4) {
        case 0 -> rnd.nextInt(1_000_000_000);
        case 1 -> rnd.nextInt(1_000_000) * 1000;
        case 2 -> rnd.nextInt(1000) * 1_000_000;
        default -> 0;
      };
      assertThat(format(f, sec, nanos)).isEqualTo(Instant.ofEpochSecond(sec, nanos).toString());
    }
  }

  @Test
  void millisAreAlwaysThreeDigitsAndOutOfRangeYearsAreClamped() {
    byte[] buf = new byte[24];
    TimestampFormatter.formatMillis(1_700_000_000_005L, buf, 0);
    assertThat(new String(buf, StandardCharsets.US_ASCII)).isEqualTo("2023-11-14T22:13:20.005Z");
    TimestampFormatter f = new TimestampFormatter();
    assertThat(format(f, Long.MAX_VALUE, 5)).isEqualTo("9999-12-31T23:59:59.000000005Z");
    assertThat(format(f, Long.MIN_VALUE, -1)).isEqualTo("0000-01-01T00:00:00Z");
  }
}
