package dev.rlog.agent.ship;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.rlog.agent.tail.LineBatch;
import dev.rlog.common.buffer.ChunkBufferPool;
import dev.rlog.common.time.FakeClock;
import dev.rlog.proto.log.Chunk;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The Ship shipper driven step by step with a fake clock and a fake stream: the window, acks that
 * commit, a stream that breaks mid-window, token renewal, the buffer bound and the drain. No
 * thread, no socket, no sleep; jitter is the identity, so every deadline is exact.
 */
class ChunkShipperTest {
  private static final Duration MIN = Duration.ofMillis(100);
  private static final Duration MAX = Duration.ofSeconds(1);
  private static final Duration ACK_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration DRAIN = Duration.ofSeconds(5);

  private final FakeClock clock = new FakeClock();
  private final FakeTokens tokens = new FakeTokens();
  private final ShipperCounters counters = new ShipperCounters();
  private final List<Map<String, Long>> commits = new CopyOnWriteArrayList<>();
  private final AtomicInteger spaceSignals = new AtomicInteger();
  private final FakeChunkTransport transport = new FakeChunkTransport();

  /** Chunks of at most 10 lines, a window of 3 chunks, a buffer of {@code bufferBytes}. */
  private ChunkShipper shipper(long bufferBytes) {
    ChunkShipper.Options o = new ChunkShipper.Options(10, 1 << 20, 3, 1 << 20, bufferBytes,
        ACK_TIMEOUT, MIN, MAX, DRAIN);
    return new ChunkShipper(transport, tokens, commits::add, spaceSignals::incrementAndGet, clock,
        o, new RetryPolicy(MIN, MAX, n -> n), counters);
  }

  private long now() {
    return clock.nanoTime();
  }

  /** The fake: streams opened, what was sent on each, and a way to answer. */
  static final class FakeChunkTransport implements ChunkTransport {
    final List<FakeStream> streams = new ArrayList<>();

    @Override
    public Stream open(String accessToken, Listener listener) {
      FakeStream s = new FakeStream(accessToken, listener);
      streams.add(s);
      return s;
    }

    FakeStream last() {
      return streams.get(streams.size() - 1);
    }
  }

  static final class FakeStream implements ChunkTransport.Stream {
    final String token;
    final ChunkTransport.Listener listener;
    final List<Chunk> sent = new ArrayList<>();
    boolean ready = true;
    boolean halfClosed;
    String cancelled;

    FakeStream(String token, ChunkTransport.Listener listener) {
      this.token = token;
      this.listener = listener;
    }

    @Override
    public boolean isReady() {
      return ready;
    }

    @Override
    public void send(WireChunk.Encoded chunk) {
      try {
        sent.add(Chunk.parseFrom(chunk.toByteArray()));
      } catch (InvalidProtocolBufferException e) {
        throw new AssertionError(e);
      }
    }

    @Override
    public void halfClose() {
      halfClosed = true;
    }

    @Override
    public void cancel(String why) {
      cancelled = why;
    }

    /** "seq:startOffset" of every chunk sent. */
    List<String> sentSummary() {
      return sent.stream().map(c -> c.getSeq() + ":" + c.getStartOffset()).toList();
    }
  }

  /** Lines of one file instance, 10 bytes each: line i at offset 10 i. */
  private static LineBatch lines(String fid, int from, int n) {
    return TestLines.lines(fid, from, n);
  }

  private static LineBatch lines(ChunkBufferPool pool, String fid, int from, int n) {
    return TestLines.lines(pool, fid, from, n);
  }

  @Test
  void fillsTheWindowAndCommitsAsAcksArrive() {
    ChunkShipper s = shipper(1 << 20);
    assertThat(s.offer(lines("a", 0, 50))).isTrue(); // 5 chunks of 10 lines

    s.runOnce(now());

    FakeStream stream = transport.last();
    assertThat(stream.token).isEqualTo("tok-1");
    assertThat(stream.sentSummary()).containsExactly("1:0", "2:100", "3:200"); // the window
    assertThat(commits).isEmpty();

    stream.listener.onAck(2);
    s.runOnce(now());

    assertThat(commits).containsExactly(Map.of("a", 200L));
    assertThat(stream.sentSummary()).containsExactly("1:0", "2:100", "3:200", "4:300", "5:400");
    stream.listener.onAck(5);
    s.runOnce(now());
    assertThat(commits).last().isEqualTo(Map.of("a", 500L));
    assertThat(s.bufferedBytes()).isZero();
    assertThat(counters.linesAckedTotal()).isEqualTo(50);
  }

  @Test
  void aStreamThatBreaksMidWindowIsFollowedByOneThatSendsTheSameChunksAgainInOrder() {
    ChunkShipper s = shipper(1 << 20);
    s.offer(lines("a", 0, 40));
    s.runOnce(now());
    FakeStream first = transport.last();
    first.listener.onAck(1);
    first.listener.onClosed(Status.UNAVAILABLE.withDescription("collector restarted"));

    long next = s.runOnce(now());

    assertThat(commits).containsExactly(Map.of("a", 100L));
    assertThat(transport.streams).hasSize(1); // waits its backoff first
    assertThat(next - now()).isEqualTo(MIN.toNanos());
    clock.advance(MIN);
    s.runOnce(now());
    FakeStream second = transport.last();
    assertThat(second).isNotSameAs(first);
    // Unacknowledged chunks 2 and 3 first, numbered from 1 again, then the rest.
    assertThat(second.sentSummary()).containsExactly("1:100", "2:200", "3:300");
    first.listener.onAck(3); // a late ack of the dead stream commits nothing
    s.runOnce(now());
    assertThat(commits).hasSize(1);
    second.listener.onAck(3);
    s.runOnce(now());
    assertThat(commits).last().isEqualTo(Map.of("a", 400L));
  }

  @Test
  void onlyAFullyAcknowledgedBatchGivesItsArrayBackForReuse() {
    ChunkBufferPool pool = new ChunkBufferPool(1 << 20, 8);
    ChunkShipper s = shipper(1 << 20);
    LineBatch a = lines(pool, "a", 0, 300); // 3,000 bytes in a 4 KiB array: 30 chunks
    LineBatch b = lines(pool, "a", 300, 300);
    s.offer(a);
    s.offer(b);
    s.runOnce(now());
    FakeStream first = transport.last();
    for (int acked = 3; acked <= 30; acked += 3) { // the window is 3 chunks
      assertThat(pool.idleBuffers()).isZero(); // a's last chunk not acknowledged yet
      first.listener.onAck(acked);
      s.runOnce(now());
    }
    assertThat(pool.idleBuffers()).isEqualTo(1); // a's array, all 30 chunks acknowledged

    // The next read takes that array and overwrites it; then the stream breaks mid-b.
    java.util.Arrays.fill(pool.take(4096, 1 << 20), (byte) 'X');
    first.listener.onAck(31);
    first.listener.onClosed(Status.UNAVAILABLE.withDescription("collector restarted"));
    s.runOnce(now());
    clock.advance(MIN);
    s.runOnce(now());
    FakeStream second = transport.last();
    assertThat(second).isNotSameAs(first);
    assertThat(pool.idleBuffers()).isZero(); // b is not acknowledged: its array stays b's
    // b's chunks 32 and 33 again, their bytes intact.
    assertThat(second.sent.get(0).getStartOffset()).isEqualTo(3100);
    assertThat(second.sent.get(0).getData().toStringUtf8())
        .isEqualTo(expected("a", 310, 10));
    assertThat(second.sent.get(1).getData().toStringUtf8())
        .isEqualTo(expected("a", 320, 10));
  }

  /** The bytes of lines {@code from..from+n-1} as {@link TestLines#lines} makes them. */
  private static String expected(String fid, int from, int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = from; i < from + n; i++) {
      sb.append(String.format("%s%08d", fid, i)).append('\n');
    }
    return sb.toString();
  }

  @Test
  void anExpiredTokenIsRenewedAndTheStreamReopenedAtOnce() {
    ChunkShipper s = shipper(1 << 20);
    s.offer(lines("a", 0, 10));
    s.runOnce(now());
    transport.last().listener.onClosed(Status.UNAUTHENTICATED.withDescription("expired"));

    s.runOnce(now());

    assertThat(tokens.refused).containsExactly("tok-1");
    assertThat(transport.streams).hasSize(2);
    assertThat(transport.last().token).isEqualTo("tok-2");
    assertThat(transport.last().sentSummary()).containsExactly("1:0");
  }

  @Test
  void anIdleStreamEndedByTheCollectorIsNotAFailure() {
    ChunkShipper s = shipper(1 << 20);
    s.offer(lines("a", 0, 10));
    s.runOnce(now());
    transport.last().listener.onAck(1);
    s.runOnce(now());
    transport.last().listener.onClosed(Status.UNAUTHENTICATED.withDescription("expired"));

    assertThat(s.runOnce(now())).isEqualTo(ChunkShipper.NO_DEADLINE); // nothing to send
    assertThat(counters.retries()).isZero();
    s.offer(lines("a", 10, 10));
    s.runOnce(now());
    assertThat(transport.streams).hasSize(2);
    assertThat(transport.last().token).isEqualTo("tok-2"); // renewed before it was needed
  }

  @Test
  void theWindowWaitsWhileTheTransportIsNotReady() {
    ChunkShipper s = shipper(1 << 20);
    s.offer(lines("a", 0, 30));
    s.runOnce(now());
    FakeStream stream = transport.last();
    assertThat(stream.sent).hasSize(3);
    stream.listener.onAck(3);
    stream.ready = false;
    s.offer(lines("a", 30, 10));
    s.runOnce(now());
    assertThat(stream.sent).hasSize(3);
    stream.ready = true;
    stream.listener.onReady();
    s.runOnce(now());
    assertThat(stream.sentSummary()).last().isEqualTo("4:300");
  }

  @Test
  void theBufferBoundRefusesWholeBatchesAndSignalsWhenAnAckFreesRoom() {
    LineBatch first = lines("a", 0, 10);
    ChunkShipper s = shipper(first.heapBytes() + 1);
    assertThat(s.offer(first)).isTrue();
    LineBatch second = lines("a", 10, 10);
    assertThat(s.offer(second)).isFalse(); // nothing of it taken
    s.runOnce(now());
    assertThat(transport.last().sent).hasSize(1);

    transport.last().listener.onAck(1);
    s.runOnce(now());

    assertThat(spaceSignals.get()).isEqualTo(1);
    assertThat(s.offer(second)).isTrue();
    s.runOnce(now());
    assertThat(transport.last().sentSummary()).containsExactly("1:0", "2:100");
  }

  @Test
  void noAckWithinTheTimeoutOpensANewStream() {
    ChunkShipper s = shipper(1 << 20);
    s.offer(lines("a", 0, 10));
    long next = s.runOnce(now());
    assertThat(next - now()).isEqualTo(ACK_TIMEOUT.toNanos());
    clock.advance(ACK_TIMEOUT);

    s.runOnce(now());

    assertThat(transport.streams.get(0).cancelled).contains("ack");
    clock.advance(MIN);
    s.runOnce(now());
    assertThat(transport.streams).hasSize(2);
    assertThat(transport.last().sentSummary()).containsExactly("1:0");
  }

  @Test
  void shutdownDrainsWhatWasTakenThenEnds() {
    ChunkShipper s = shipper(1 << 20);
    s.offer(lines("a", 0, 10));
    s.runOnce(now());
    s.initiateShutdown();
    assertThat(s.offer(lines("a", 10, 10))).isFalse();
    s.runOnce(now());
    assertThat(s.ended()).isFalse();

    transport.last().listener.onAck(1);
    s.runOnce(now());

    assertThat(s.ended()).isTrue();
    assertThat(transport.last().halfClosed).isTrue();
    assertThat(commits).containsExactly(Map.of("a", 100L));
  }

  @Test
  void theDrainDeadlineCancelsTheStreamAndCommitsNothingMore() {
    ChunkShipper s = shipper(1 << 20);
    s.offer(lines("a", 0, 10));
    s.runOnce(now());
    s.initiateShutdown();
    clock.advance(DRAIN);

    s.runOnce(now());

    assertThat(s.ended()).isTrue();
    assertThat(transport.last().cancelled).contains("drain");
    assertThat(commits).isEmpty();
  }
}
