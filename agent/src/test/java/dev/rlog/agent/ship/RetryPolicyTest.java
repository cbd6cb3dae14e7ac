package dev.rlog.agent.ship;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.grpc.Status;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

class RetryPolicyTest {
  private static final long MS = 1_000_000L;
  private final RetryPolicy policy =
      new RetryPolicy(Duration.ofMillis(100), Duration.ofSeconds(1), n -> n);

  static Stream<Arguments> table() {
    return Stream.of(
        // status, failures in row, renewals in row, expected decision
        Arguments.of(Status.Code.OK, 0, 0, new RetryPolicy.Commit()),
        Arguments.of(Status.Code.OK, 5, 3, new RetryPolicy.Commit()),
        Arguments.of(Status.Code.UNAUTHENTICATED, 1, 0, new RetryPolicy.RenewAndRetry(0)),
        Arguments.of(Status.Code.UNAUTHENTICATED, 3, 0, new RetryPolicy.RenewAndRetry(0)),
        Arguments.of(Status.Code.UNAUTHENTICATED, 2, 1, new RetryPolicy.RenewAndRetry(200 * MS)),
        Arguments.of(Status.Code.INVALID_ARGUMENT, 1, 0, new RetryPolicy.Poison(1000 * MS)),
        Arguments.of(Status.Code.UNAVAILABLE, 1, 0, new RetryPolicy.Backoff(100 * MS)),
        Arguments.of(Status.Code.UNAVAILABLE, 2, 0, new RetryPolicy.Backoff(200 * MS)),
        Arguments.of(Status.Code.DEADLINE_EXCEEDED, 4, 0, new RetryPolicy.Backoff(800 * MS)),
        Arguments.of(Status.Code.RESOURCE_EXHAUSTED, 5, 0, new RetryPolicy.Backoff(1000 * MS)),
        Arguments.of(Status.Code.CANCELLED, 1, 0, new RetryPolicy.Backoff(100 * MS)),
        Arguments.of(Status.Code.INTERNAL, 1, 0, new RetryPolicy.Backoff(100 * MS)),
        Arguments.of(Status.Code.UNKNOWN, 60, 0, new RetryPolicy.Backoff(1000 * MS)));
  }

  @ParameterizedTest(name = "{0} after {1} failures, {2} renewals -> {3}")
  @MethodSource("table")
  void decides(Status.Code code, int failures, int renewals, RetryPolicy.Decision expected) {
    assertThat(policy.onResult(Status.fromCode(code), failures, renewals)).isEqualTo(expected);
  }

  @Test
  void backoffDoublesUpToTheCapWithoutOverflow() {
    assertThat(policy.nominalNanos(1)).isEqualTo(100 * MS);
    assertThat(policy.nominalNanos(4)).isEqualTo(800 * MS);
    assertThat(policy.nominalNanos(5)).isEqualTo(1000 * MS);
    assertThat(policy.nominalNanos(Integer.MAX_VALUE)).isEqualTo(1000 * MS);
    RetryPolicy huge = new RetryPolicy(Duration.ofNanos(3), Duration.ofNanos(Long.MAX_VALUE),
        n -> n);
    assertThat(huge.nominalNanos(Integer.MAX_VALUE)).isEqualTo(Long.MAX_VALUE);
  }

  @Test
  void jitterIsAppliedToTheNominalWaitAndKeptWithinIt() {
    RetryPolicy half = new RetryPolicy(Duration.ofMillis(100), Duration.ofSeconds(1), n -> n / 2);
    assertThat(half.backoffNanos(2)).isEqualTo(100 * MS);
    RetryPolicy wild = new RetryPolicy(Duration.ofMillis(100), Duration.ofSeconds(1), n -> n * 10);
    assertThat(wild.backoffNanos(1)).isEqualTo(100 * MS);
    RetryPolicy negative = new RetryPolicy(Duration.ofMillis(100), Duration.ofSeconds(1), n -> -1);
    assertThat(negative.backoffNanos(1)).isZero();
  }

  @Test
  void equalJitterStaysInTheUpperHalf() {
    for (int i = 0; i < 1000; i++) {
      assertThat(RetryPolicy.EQUAL_JITTER.applyAsLong(1000)).isBetween(500L, 1000L);
    }
    assertThat(RetryPolicy.EQUAL_JITTER.applyAsLong(1)).isBetween(0L, 1L);
  }

  @Test
  void rejectsInconsistentOptions() {
    assertThrows(IllegalArgumentException.class,
        () -> new RetryPolicy(Duration.ofSeconds(2), Duration.ofSeconds(1), n -> n));
    assertThrows(IllegalArgumentException.class,
        () -> new RetryPolicy(Duration.ZERO, Duration.ofSeconds(1), n -> n));
    assertThrows(NullPointerException.class,
        () -> new RetryPolicy(Duration.ofMillis(1), Duration.ofSeconds(1), null));
    assertThrows(IllegalArgumentException.class, () -> policy.backoffNanos(0));
  }

  @Test
  void shipperOptionsValidateEveryField() {
    Duration s = Duration.ofSeconds(1);
    assertThat(Shipper.Options.defaults().backoffMin()).isEqualTo(Shipper.Options.DEFAULT_BACKOFF_MIN);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new Shipper.Options(64, 1, s, Duration.ofSeconds(5), s, s));
    assertThat(e).hasMessageContaining("backoffMax").hasMessageContaining("backoffMin");
    assertThrows(IllegalArgumentException.class, () -> new Shipper.Options(0, 1, s, s, s, s));
    assertThrows(IllegalArgumentException.class, () -> new Shipper.Options(1, 0, s, s, s, s));
    assertThrows(IllegalArgumentException.class,
        () -> new Shipper.Options(1, 1, Duration.ZERO, s, s, s));
    assertThrows(IllegalArgumentException.class,
        () -> new Shipper.Options(1, 1, s, s, s, Duration.ofSeconds(-1)));
  }
}
