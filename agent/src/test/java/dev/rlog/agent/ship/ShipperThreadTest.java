package dev.rlog.agent.ship;

import static dev.rlog.agent.ship.TestLines.lines;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.agent.batch.Batcher;
import dev.rlog.common.time.FakeClock;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The thin thread around {@code runOnce}: it wakes on the batcher's and the call's signals, keeps
 * going after a failed step, and reports its own death. The transport answers inside {@code
 * send}, so every wait ends on a wake-up; the fake clock never moves. The bounded {@code get}s
 * only keep a broken build from hanging.
 */
class ShipperThreadTest {
  private static final Duration BOUND = Duration.ofSeconds(10);

  private final FakeClock clock = new FakeClock();
  private final FakeLogTransport transport = new FakeLogTransport();
  private final AtomicReference<Shipper> ref = new AtomicReference<>();
  private final Batcher batcher = new Batcher(
      new Batcher.Options(2, 1 << 20, Duration.ofSeconds(1), 1 << 22), clock,
      new Batcher.Listener() {
        @Override
        public void pollNeeded() {
          Shipper s = ref.get();
          if (s != null) {
            s.pollNeeded();
          }
        }
      }, "t");
  private Shipper shipper;

  private Shipper start(Shipper.PositionCommitter committer) {
    transport.autoRespond = Status.OK;
    shipper = new Shipper(batcher, transport, new FakeTokens(), committer, clock,
        Shipper.Options.defaults(), new ShipperCounters());
    ref.set(shipper);
    shipper.start();
    return shipper;
  }

  @AfterEach
  void stop() throws Exception {
    if (shipper != null) {
      shipper.shutdown().exceptionally(t -> null).get(BOUND.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  @Test
  void shipsOnItsOwnThreadAndShutdownDrainsWhatIsLeft() throws Exception {
    List<Map<String, Long>> commits = new CopyOnWriteArrayList<>();
    start(commits::add);

    shipper.offer(lines("a", 0, 2)); // a full batch: wakes the thread
    shipper.offer(lines("a", 2, 1)); // an open batch: only the shutdown's flush sends it
    shipper.shutdown().get(BOUND.toMillis(), TimeUnit.MILLISECONDS);

    assertThat(commits).isNotEmpty();
    assertThat(commits.get(commits.size() - 1)).isEqualTo(Map.of("a", 30L));
    assertThat(TestLines.positions(transport.calls().stream()
        .flatMap(c -> c.batches().stream()).toList())).containsExactly("a@0", "a@10", "a@20");
  }

  @Test
  void aFailedStepIsLoggedAndTheLoopGoesOn() throws Exception {
    AtomicInteger attempts = new AtomicInteger();
    CompletableFuture<Void> first = new CompletableFuture<>();
    CompletableFuture<Map<String, Long>> second = new CompletableFuture<>();
    start(ends -> {
      if (attempts.incrementAndGet() == 1) {
        first.complete(null);
        throw new IllegalStateException("a bug in the committer");
      }
      second.complete(ends);
    });

    shipper.offer(lines("a", 0, 2));
    first.get(BOUND.toMillis(), TimeUnit.MILLISECONDS);
    shipper.offer(lines("a", 2, 2)); // wakes the thread from its error pause

    assertThat(second.get(BOUND.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(Map.of("a", 40L));
    assertThat(shipper.terminated()).isNotDone();
    // The failed commit's call is not sent again: the collector has its lines already.
    assertThat(transport.calls()).hasSize(2);
  }

  @Test
  void aThreadThatDiesSaysSoThroughTerminated() {
    start(ends -> {
      throw new StackOverflowError("simulated: a VirtualMachineError is not caught per step");
    });

    shipper.offer(lines("a", 0, 2));

    ExecutionException e = assertThrows(ExecutionException.class,
        () -> shipper.terminated().get(BOUND.toMillis(), TimeUnit.MILLISECONDS));
    assertThat(e.getCause()).isInstanceOf(StackOverflowError.class);
  }
}
