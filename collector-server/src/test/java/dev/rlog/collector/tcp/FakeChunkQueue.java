package dev.rlog.collector.tcp;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.rlog.collector.flow.Chunk;
import dev.rlog.collector.flow.ChunkQueue;
import dev.rlog.collector.flow.OfferResult;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/** A {@link ChunkQueue} a test sets full, paused, closed or failed; single-threaded. */
final class FakeChunkQueue implements ChunkQueue {
  private static final ObjectMapper JSON = new ObjectMapper();

  final List<Chunk> accepted = new ArrayList<>();
  boolean full;
  boolean paused;
  boolean closed;
  Throwable failure;
  int refused;
  private final List<Runnable> resumeWaiters = new ArrayList<>();
  private final List<Consumer<Throwable>> commitWaiters = new ArrayList<>();

  @Override
  public OfferResult offer(Chunk chunk) {
    if (failure != null) {
      return new OfferResult.Failed(failure);
    }
    if (closed) {
      return OfferResult.CLOSED;
    }
    if (full) {
      refused++;
      return OfferResult.FULL;
    }
    accepted.add(chunk);
    return new OfferResult.Accepted(accepted.size());
  }

  @Override
  public OfferResult forceOffer(Chunk chunk) {
    if (failure != null) {
      return new OfferResult.Failed(failure);
    }
    accepted.add(chunk);
    return new OfferResult.Accepted(accepted.size());
  }

  @Override
  public boolean isPaused() {
    return paused;
  }

  @Override
  public void whenResumed(Runnable callback) {
    if (paused && !closed) {
      resumeWaiters.add(callback);
    } else {
      callback.run();
    }
  }

  @Override
  public void whenCommitted(long seq, Consumer<Throwable> callback) {
    commitWaiters.add(callback);
  }

  @Override
  public long lastSeq() {
    return accepted.size();
  }

  /** Room again: not full, not paused; every waiter runs. */
  void resume() {
    full = false;
    paused = false;
    List<Runnable> r = new ArrayList<>(resumeWaiters);
    resumeWaiters.clear();
    List<Consumer<Throwable>> c = new ArrayList<>(commitWaiters);
    commitWaiters.clear();
    r.forEach(Runnable::run);
    c.forEach(w -> w.accept(null));
  }

  int waiters() {
    return resumeWaiters.size() + commitWaiters.size();
  }

  /** The payloads of every accepted record, in order. */
  List<String> payloads() {
    List<String> out = new ArrayList<>();
    for (Chunk c : accepted) {
      String text = new String(c.bytes(), 0, c.length(), StandardCharsets.UTF_8);
      for (String line : text.split("\n")) {
        if (!line.isEmpty()) {
          try {
            out.add(JSON.readTree(line).get("payload").asText());
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      }
    }
    return out;
  }
}
