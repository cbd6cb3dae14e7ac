package dev.rlog.agent.ship;

import io.grpc.Status;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongUnaryOperator;

/**
 * What the shipper does with the status a {@code LogService.Send} call ended with. Pure: no
 * clock, no I/O; randomness comes in as the {@code jitter} function, so a test passes the
 * identity and gets exact numbers.
 *
 * <p><b>The table.</b> Nothing is ever dropped: every outcome but {@code OK} keeps the call's
 * batches and sends them again, in the same order.
 * <ul>
 *   <li>{@code OK}: {@link Commit} the positions the call covered.
 *   <li>{@code UNAUTHENTICATED}: {@link RenewAndRetry} — renew the access token and resend at
 *       once. Only the first {@value #IMMEDIATE_RENEWALS} renewal(s) since the last acknowledged
 *       call are immediate; a collector that keeps refusing fresh tokens gets the backoff, so it
 *       cannot turn the shipper into a busy loop.
 *   <li>{@code INVALID_ARGUMENT}: {@link Poison} — the collector calls the data malformed, so a
 *       quick resend cannot help; dropping it would lose lines. It is counted, logged at ERROR,
 *       and resent after the maximum backoff, so an operator can fix the collector and the lines
 *       still arrive.
 *   <li>anything else (collector down, deadline, overloaded, cancelled): {@link Backoff}.
 * </ul>
 *
 * <p><b>Backoff.</b> After the n-th failed call in a row the nominal wait is {@code min(backoffMax,
 * backoffMin * 2^(n-1))}; the wait used is {@code jitter(nominal)}, kept within {@code [0,
 * nominal]} so a faulty jitter function cannot stretch it. {@link #EQUAL_JITTER} (the default)
 * picks uniformly in {@code [nominal/2, nominal]}, so agents that lost the collector together do
 * not come back together.
 *
 * <p>Immutable and thread-safe (provided the jitter function is).
 */
public final class RetryPolicy {
  /** Renewals in a row that are retried without waiting. */
  public static final int IMMEDIATE_RENEWALS = 1;

  /** Uniform in {@code [nominal/2, nominal]}. */
  public static final LongUnaryOperator EQUAL_JITTER =
      nominal -> nominal / 2 + ThreadLocalRandom.current().nextLong(nominal - nominal / 2 + 1);

  /** What to do with a call's batches. */
  public sealed interface Decision permits Commit, RenewAndRetry, Backoff, Poison {
    /** Nanoseconds to wait before the batches are sent again; 0 for {@link Commit}. */
    long delayNanos();
  }

  /** The call was acknowledged: commit its positions, forget its batches. */
  public record Commit() implements Decision {
    @Override
    public long delayNanos() {
      return 0;
    }
  }

  /** Renew the access token, then resend the same batches after {@code delayNanos}. */
  public record RenewAndRetry(long delayNanos) implements Decision {}

  /** Resend the same batches after {@code delayNanos}. */
  public record Backoff(long delayNanos) implements Decision {}

  /** The collector refused the data as malformed: count, log, resend after {@code delayNanos}. */
  public record Poison(long delayNanos) implements Decision {}

  private static final Commit COMMIT = new Commit();

  private final long minNanos;
  private final long maxNanos;
  private final LongUnaryOperator jitter;

  /**
   * @param backoffMin wait after the first failure; positive
   * @param backoffMax cap of the wait; at least {@code backoffMin}
   * @param jitter maps the nominal wait to the one used, e.g. {@link #EQUAL_JITTER}
   */
  public RetryPolicy(Duration backoffMin, Duration backoffMax, LongUnaryOperator jitter) {
    Shipper.Options.checkBackoff(backoffMin, backoffMax);
    this.minNanos = backoffMin.toNanos();
    this.maxNanos = backoffMax.toNanos();
    this.jitter = Objects.requireNonNull(jitter, "jitter");
  }

  /**
   * @param status how the call ended (or why it could not start: no token)
   * @param failuresInRow failed calls in a row, this one included when it failed (1 for the first
   *     failure after a success); ignored for {@code OK}
   * @param renewalsInRow token renewals made since the last acknowledged call
   */
  public Decision onResult(Status status, int failuresInRow, int renewalsInRow) {
    Objects.requireNonNull(status, "status");
    return switch (status.getCode()) {
      case OK -> COMMIT;
      case UNAUTHENTICATED -> new RenewAndRetry(
          renewalsInRow < IMMEDIATE_RENEWALS ? 0 : backoffNanos(failuresInRow));
      case INVALID_ARGUMENT -> new Poison(jittered(maxNanos));
      default -> new Backoff(backoffNanos(failuresInRow));
    };
  }

  /** The (jittered) wait after the {@code failuresInRow}-th failure in a row. */
  public long backoffNanos(int failuresInRow) {
    return jittered(nominalNanos(failuresInRow));
  }

  /** {@code min(backoffMax, backoffMin * 2^(failuresInRow-1))}, without overflow. */
  long nominalNanos(int failuresInRow) {
    if (failuresInRow < 1) {
      throw new IllegalArgumentException("failuresInRow must be at least 1, got " + failuresInRow);
    }
    long wait = minNanos;
    for (int i = 1; i < failuresInRow && wait < maxNanos; i++) {
      wait = wait > maxNanos / 2 ? maxNanos : wait * 2;
    }
    return Math.min(wait, maxNanos);
  }

  private long jittered(long nominal) {
    long j = jitter.applyAsLong(nominal);
    return Math.max(0, Math.min(nominal, j));
  }
}
