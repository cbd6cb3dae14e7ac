package dev.rlog.agent.ship;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.agent.batch.Batcher;
import dev.rlog.agent.tail.LineBatch;
import dev.rlog.common.time.FakeClock;
import dev.rlog.proto.log.Log;
import dev.rlog.proto.log.LogBatch;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * The shipper's state machine driven step by step, Kafka {@code SenderTest} style: {@code
 * runOnce(now)}, then {@code transport.respond(...)}, with a fake clock. No thread, no socket, no
 * sleep; jitter is the identity, so every deadline is exact.
 */
class ShipperTest {
  private static final Duration FLUSH = Duration.ofSeconds(1);
  private static final Duration MIN = Duration.ofMillis(100);
  private static final Duration MAX = Duration.ofSeconds(1);
  private static final Duration DRAIN = Duration.ofSeconds(5);

  private final FakeClock clock = new FakeClock();
  private final FakeLogTransport transport = new FakeLogTransport();
  private final FakeTokens tokens = new FakeTokens();
  private final ShipperCounters counters = new ShipperCounters();
  private final List<Map<String, Long>> commits = new CopyOnWriteArrayList<>();

  private Batcher batcher = batcher(2, 1 << 20);
  private Shipper shipper = shipper(MIN, MAX);

  private Batcher batcher(int batchSize, long maxBytes) {
    return new Batcher(new Batcher.Options(batchSize, maxBytes, FLUSH, Math.max(maxBytes, 1 << 20)),
        clock, Batcher.Listener.NONE, "b");
  }

  private Shipper shipper(Duration min, Duration max) {
    Shipper.Options options = new Shipper.Options(64, 8L << 20, Duration.ofSeconds(60), min, max,
        DRAIN);
    return new Shipper(batcher, transport, tokens, commits::add, clock, options,
        new RetryPolicy(min, max, n -> n), counters);
  }

  private long now() {
    return clock.nanoTime();
  }

  private static List<Long> offsets(FakeLogTransport.Call call) {
    List<Long> out = new ArrayList<>();
    for (LogBatch batch : call.batches()) {
      for (Log l : batch.getLogsList()) {
        out.add(l.getOffset());
      }
    }
    return out;
  }

  private static List<String> lines(FakeLogTransport.Call call) {
    return TestLines.positions(call.batches());
  }

  private static LineBatch lines(String fid, int from, int n) {
    return TestLines.lines(fid, from, n);
  }

  /** Runs a step and returns how long the shipper wants to wait, or -1 for "until woken". */
  private long waitAfterStep() {
    long next = shipper.runOnce(now());
    return next == Shipper.NO_DEADLINE ? -1 : next - now();
  }

  @Test
  void idleShipperWaitsExactlyUntilTheOpenBatchIsDue() {
    assertThat(waitAfterStep()).isEqualTo(-1);
    assertThat(shipper.offer(lines("a", 0, 1))).isTrue();

    assertThat(waitAfterStep()).isEqualTo(FLUSH.toNanos());
    assertThat(transport.calls()).isEmpty();

    clock.advance(FLUSH);
    shipper.runOnce(now());
    assertThat(transport.calls()).hasSize(1);
  }

  @Test
  void unavailableThreeTimesThenOkCommitsOnceInOrder() {
    shipper.offer(lines("a", 0, 3));
    shipper.offer(lines("b", 0, 1));
    batcher.flushNow();

    assertThat(waitAfterStep()).isEqualTo(-1); // a call in flight: its completion wakes us
    List<String> ids = transport.lastCall().batchIds();
    assertThat(ids).containsExactly("b-0", "b-1");
    assertThat(offsets(transport.lastCall())).containsExactly(0L, 10L, 20L, 0L);

    for (int failure = 1; failure <= 3; failure++) {
      transport.respond(Status.UNAVAILABLE.withDescription("collector down"));
      long wait = waitAfterStep();
      assertThat(wait).isEqualTo(MIN.toNanos() << (failure - 1));
      assertThat(transport.calls()).hasSize(failure); // nothing sent during the backoff
      clock.advance(Duration.ofNanos(wait));
      shipper.runOnce(now());
      assertThat(transport.lastCall().batchIds()).isEqualTo(ids); // same batches, same order
    }
    assertThat(commits).isEmpty();

    transport.respond(Status.OK);
    shipper.runOnce(now());
    assertThat(commits).containsExactly(Map.of("a", 30L, "b", 10L));
    assertThat(counters.retries()).isEqualTo(3);
    assertThat(counters.calls()).isEqualTo(4);
    assertThat(counters.linesAcked()).isEqualTo(Map.of("app", 4L));
    assertThat(counters.batchesInFlight()).isZero();

    // The next call starts from the backoff minimum and commits after the first one.
    shipper.offer(lines("a", 3, 1));
    batcher.flushNow();
    shipper.runOnce(now());
    assertThat(transport.lastCall().batchIds()).containsExactly("b-2");
    transport.respond(Status.UNAVAILABLE);
    assertThat(waitAfterStep()).isEqualTo(MIN.toNanos());
    clock.advance(MIN);
    shipper.runOnce(now());
    transport.respond(Status.OK);
    shipper.runOnce(now());
    assertThat(commits).containsExactly(Map.of("a", 30L, "b", 10L), Map.of("a", 40L));
  }

  @Test
  void oneCallInFlightAtATime() {
    shipper.offer(lines("a", 0, 2));
    shipper.runOnce(now());
    shipper.offer(lines("a", 2, 2));
    shipper.runOnce(now());
    shipper.runOnce(now());

    assertThat(transport.calls()).hasSize(1);
    assertThat(offsets(transport.lastCall())).containsExactly(0L, 10L);

    transport.respond(Status.OK);
    shipper.runOnce(now());
    assertThat(transport.calls()).hasSize(2);
    assertThat(offsets(transport.lastCall())).containsExactly(20L, 30L);
    assertThat(commits).containsExactly(Map.of("a", 20L));
  }

  @Test
  void aCallCarriesAtMostMaxBatchesPerCall() {
    shipper = new Shipper(batcher, transport, tokens, commits::add, clock,
        new Shipper.Options(2, 8L << 20, Duration.ofSeconds(60), MIN, MAX, DRAIN),
        new RetryPolicy(MIN, MAX, n -> n), counters);
    shipper.offer(lines("a", 0, 5)); // batches of 2, 2 and 1 lines
    batcher.flushNow();

    shipper.runOnce(now());
    assertThat(transport.lastCall().batchIds()).containsExactly("b-0", "b-1");
    transport.respond(Status.OK);
    shipper.runOnce(now());
    assertThat(transport.lastCall().batchIds()).containsExactly("b-2");
    assertThat(transport.lastCall().deadline()).isEqualTo(Duration.ofSeconds(60));
  }

  @Test
  void unauthenticatedRenewsTheTokenAndResendsAtOnce() {
    shipper.offer(lines("a", 0, 2));
    shipper.runOnce(now());
    assertThat(transport.lastCall().token()).isEqualTo("tok-1");

    transport.respond(Status.UNAUTHENTICATED.withDescription("expired"));
    shipper.runOnce(now()); // same instant: no backoff

    assertThat(tokens.refused).containsExactly("tok-1");
    assertThat(transport.calls()).hasSize(2);
    assertThat(transport.lastCall().token()).isEqualTo("tok-2");
    assertThat(transport.lastCall().batchIds()).isEqualTo(transport.calls().get(0).batchIds());
    assertThat(counters.tokenRenewals()).isEqualTo(1);

    transport.respond(Status.OK);
    shipper.runOnce(now());
    assertThat(commits).containsExactly(Map.of("a", 20L));
  }

  @Test
  void aCollectorThatKeepsRefusingFreshTokensGetsTheBackoff() {
    shipper.offer(lines("a", 0, 2));
    shipper.runOnce(now());
    transport.respond(Status.UNAUTHENTICATED);
    assertThat(waitAfterStep()).isEqualTo(-1); // renewed, resent at once, in flight

    transport.respond(Status.UNAUTHENTICATED);
    assertThat(waitAfterStep()).isEqualTo(MIN.toNanos() * 2); // second failure in a row
    // Not renewed yet: a token renewed before the wait could expire during it.
    assertThat(tokens.refused).containsExactly("tok-1");
    assertThat(transport.calls()).hasSize(2);

    clock.advance(MIN.multipliedBy(2));
    shipper.runOnce(now());
    assertThat(tokens.refused).containsExactly("tok-1", "tok-2"); // renewed just before sending
    assertThat(transport.calls()).hasSize(3);
    transport.respond(Status.OK);
    shipper.runOnce(now());
    assertThat(commits).hasSize(1);
  }

  @Test
  void aFailedRenewalBacksOffAndKeepsTheBatches() {
    tokens.renewalFailsWith = Status.UNAVAILABLE.withDescription("refresh failed");
    shipper.offer(lines("a", 0, 2));
    shipper.runOnce(now());
    transport.respond(Status.UNAUTHENTICATED);

    assertThat(waitAfterStep()).isEqualTo(MIN.toNanos());
    tokens.renewalFailsWith = null;
    clock.advance(MIN);
    shipper.runOnce(now());
    assertThat(transport.calls()).hasSize(2);
    transport.respond(Status.OK);
    shipper.runOnce(now());
    assertThat(commits).containsExactly(Map.of("a", 20L));
  }

  @Test
  void aStepThatThrowsLeavesTheBatchesToBeSentAgain() {
    tokens.renewalThrows = new IllegalStateException("a bug in the token manager");
    shipper.offer(lines("a", 0, 2));
    shipper.runOnce(now());
    transport.respond(Status.UNAUTHENTICATED);
    assertThrows(IllegalStateException.class,
        () -> shipper.runOnce(now()));

    tokens.renewalThrows = null;
    shipper.runOnce(now()); // what the thread does after its error pause
    assertThat(transport.calls()).hasSize(2);
    assertThat(transport.lastCall().batchIds()).isEqualTo(transport.calls().get(0).batchIds());
    transport.respond(Status.OK);
    shipper.runOnce(now());
    assertThat(commits).containsExactly(Map.of("a", 20L));
  }

  @Test
  void malformedDataIsCountedAndRetriedSlowlyNeverDropped() {
    shipper.offer(lines("a", 0, 2));
    shipper.runOnce(now());
    transport.respond(Status.INVALID_ARGUMENT.withDescription("bad batch"));

    assertThat(waitAfterStep()).isEqualTo(MAX.toNanos());
    assertThat(counters.poisonedCalls()).isEqualTo(1);
    clock.advance(MAX);
    shipper.runOnce(now());
    assertThat(transport.lastCall().batchIds()).isEqualTo(transport.calls().get(0).batchIds());
  }

  @Test
  void backoffGrowsAndIsCapped() {
    shipper.offer(lines("a", 0, 2));
    shipper.runOnce(now());
    List<Long> waits = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      transport.respond(Status.DEADLINE_EXCEEDED);
      long wait = waitAfterStep();
      waits.add(wait / 1_000_000);
      clock.advance(Duration.ofNanos(wait));
      shipper.runOnce(now());
    }
    assertThat(waits).containsExactly(100L, 200L, 400L, 800L, 1000L, 1000L, 1000L);
    assertThat(commits).isEmpty();
  }

  @Test
  void shutdownDuringBackoffEndsAtTheDrainDeadlineAndCommitsNothing() {
    shipper = shipper(Duration.ofSeconds(30), Duration.ofSeconds(60)); // backoff beyond the drain
    shipper.offer(lines("a", 0, 2));
    shipper.runOnce(now());
    transport.respond(Status.UNAVAILABLE);
    assertThat(waitAfterStep()).isEqualTo(Duration.ofSeconds(30).toNanos());

    shipper.initiateShutdown();
    assertThat(shipper.offer(lines("a", 2, 1))).isFalse(); // takes nothing more
    assertThat(waitAfterStep()).isEqualTo(DRAIN.toNanos()); // the drain deadline comes first

    clock.advance(DRAIN.minusNanos(1));
    shipper.runOnce(now());
    assertThat(shipper.state()).isEqualTo(Shipper.State.WAITING);
    clock.advance(Duration.ofNanos(1));
    assertThat(shipper.runOnce(now())).isEqualTo(Shipper.NO_DEADLINE);

    assertThat(shipper.state()).isEqualTo(Shipper.State.ENDED);
    assertThat(transport.calls()).hasSize(1);
    assertThat(commits).isEmpty();
  }

  @Test
  void shutdownWithACallInFlightCancelsItAtTheDrainDeadline() {
    shipper.offer(lines("a", 0, 2));
    shipper.runOnce(now());
    shipper.initiateShutdown();
    assertThat(waitAfterStep()).isEqualTo(DRAIN.toNanos());

    clock.advance(DRAIN);
    shipper.runOnce(now());
    assertThat(shipper.state()).isEqualTo(Shipper.State.ENDED);
    assertThat(transport.lastCall().future().isCancelled()).isTrue();
    assertThat(commits).isEmpty();
    assertThat(counters.batchesInFlight()).isZero();
  }

  @Test
  void aCallAcknowledgedJustBeforeTheDrainDeadlineStillCommits() {
    shipper.offer(lines("a", 0, 2));
    shipper.runOnce(now());
    shipper.initiateShutdown();
    transport.respond(Status.OK);
    clock.advance(DRAIN); // the step runs late, after the deadline

    assertThat(shipper.runOnce(now())).isEqualTo(Shipper.NO_DEADLINE);
    assertThat(commits).containsExactly(Map.of("a", 20L));
    assertThat(shipper.state()).isEqualTo(Shipper.State.ENDED);
  }

  @Test
  void shutdownFlushesSendsAndEndsOnceEverythingIsAcknowledged() {
    shipper.offer(lines("a", 0, 1)); // an open batch, not due for another second
    shipper.initiateShutdown();

    shipper.runOnce(now());
    assertThat(offsets(transport.lastCall())).containsExactly(0L);
    transport.respond(Status.OK);

    assertThat(shipper.runOnce(now())).isEqualTo(Shipper.NO_DEADLINE);
    assertThat(shipper.state()).isEqualTo(Shipper.State.ENDED);
    assertThat(commits).containsExactly(Map.of("a", 10L));
  }

  @Test
  void aPartlyTakenLineBatchResumesWhereItStopped() {
    batcher = new Batcher(new Batcher.Options(1000, 130, FLUSH, 130), clock,
        Batcher.Listener.NONE, "b"); // room for three of these lines
    shipper = shipper(MIN, MAX);
    LineBatch ten = lines("a", 0, 10);

    List<Long> sent = new ArrayList<>();
    int refusals = 0;
    while (!shipper.offer(ten)) {
      refusals++;
      assertThat(batcher.bufferedLines()).isBetween(1, 9);
      shipper.runOnce(now());
      sent.addAll(offsets(transport.lastCall()));
      transport.respond(Status.OK);
      shipper.runOnce(now());
    }
    batcher.flushNow();
    shipper.runOnce(now());
    sent.addAll(offsets(transport.lastCall()));
    transport.respond(Status.OK);
    shipper.runOnce(now());

    assertThat(refusals).isGreaterThan(1);
    assertThat(sent).containsExactly(0L, 10L, 20L, 30L, 40L, 50L, 60L, 70L, 80L, 90L);
    assertThat(commits.get(commits.size() - 1)).isEqualTo(Map.of("a", 100L));
    assertThat(counters.linesRead()).isEqualTo(Map.of("app", 10L));
  }

  @Test
  void partlyTakenBatchesOfTwoFilesEachResume() {
    batcher = new Batcher(new Batcher.Options(1000, 130, FLUSH, 130), clock,
        Batcher.Listener.NONE, "b");
    shipper = shipper(MIN, MAX);
    LineBatch a = lines("a", 0, 5);
    LineBatch b = lines("b", 0, 5);

    assertThat(shipper.offer(a)).isFalse(); // a0..a2 taken
    assertThat(shipper.offer(b)).isFalse(); // nothing taken: full
    List<String> sent = new ArrayList<>();
    List<LineBatch> waiting = new ArrayList<>(List.of(b, a)); // the tailer offers in any order
    while (!waiting.isEmpty()) {
      shipper.runOnce(now());
      sent.addAll(lines(transport.lastCall()));
      transport.respond(Status.OK);
      shipper.runOnce(now());
      waiting.removeIf(shipper::offer);
    }
    batcher.flushNow();
    shipper.runOnce(now());
    sent.addAll(lines(transport.lastCall()));

    assertThat(sent).containsExactlyInAnyOrder("a@0", "a@10", "a@20", "a@30", "a@40",
        "b@0", "b@10", "b@20", "b@30", "b@40");
    assertThat(sent.stream().filter(l -> l.startsWith("a@")))
        .containsExactly("a@0", "a@10", "a@20", "a@30", "a@40"); // each file in order
  }
}
