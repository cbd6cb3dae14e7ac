package dev.rlog.agent.tail.fs;

import dev.rlog.agent.tail.LineBatch;
import dev.rlog.agent.tail.OffsetRegistry;
import dev.rlog.agent.tail.TailConfig;
import dev.rlog.agent.tail.TailSource;
import dev.rlog.common.time.FakeClock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;

/**
 * One SourceTailer on real files with a fake clock, driven by hand: no threads, no sleeps. A
 * "restart" is a new harness on the same state directory.
 */
final class TailHarness implements AutoCloseable {
  static final TailConfig CONFIG = TailConfig.builder()
      .blockBytes(4096)
      .maxLineBytes(1024)
      .partialLineWait(Duration.ofSeconds(5))
      .drainIdle(Duration.ofSeconds(10))
      .copyGrace(Duration.ofSeconds(10))
      .retention(Duration.ofMinutes(1))
      .build();

  final FakeClock clock;
  final OffsetStore store;
  final OffsetRegistry registry;
  final Checkpointer checkpointer;
  final RecordingSink sink;
  final SourceTailer tailer;

  TailHarness(Path stateDir, String label, Path pathOrGlob) {
    this(stateDir, label, pathOrGlob, CONFIG, new FakeClock());
  }

  TailHarness(Path stateDir, String label, Path pathOrGlob, TailConfig config, FakeClock clock) {
    this.clock = clock;
    this.store = new OffsetStore(stateDir);
    try {
      this.registry = OffsetRegistry.restore(store.load());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    this.checkpointer = new Checkpointer(registry, store, clock, config.checkpointInterval());
    this.sink = new RecordingSink(store);
    this.tailer = new SourceTailer(new TailSource(label, pathOrGlob.toString()), config, clock,
        registry, checkpointer, sink, new Random(7), ByteBuffer.allocate(config.blockBytes()));
  }

  /** Rescan, then poll until the tailer has nothing more to read right now. */
  void poll() {
    tailer.requestRescan();
    for (int i = 0; i < 1000; i++) {
      long next = tailer.poll();
      if (next > clock.nanoTime()) {
        return;
      }
    }
    throw new AssertionError("tailer keeps asking to be polled now");
  }

  void advance(Duration d) {
    clock.advance(d);
  }

  /** Acknowledges every batch shipped so far and writes the positions, as the shipper would. */
  void ackAll() {
    for (LineBatch b : sink.takeUnacked()) {
      registry.commit(b.fileInstance(), b.endPosition());
    }
    try {
      checkpointer.checkpoint();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    tailer.close();
  }
}
