package dev.rlog.common.lifecycle;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One lifecycle contract for every long-running part: {@link #start()}, an idempotent
 * {@link #shutdown()} that flushes what it holds before closing what is downstream and returns a
 * future, and {@link #close()} that waits for that future with a bound.
 */
public interface Service extends AutoCloseable {
  Duration DEFAULT_CLOSE_TIMEOUT = Duration.ofSeconds(10);

  void start() throws Exception;

  /** Idempotent; every call returns the same future. */
  CompletableFuture<Void> shutdown();

  @Override
  default void close() {
    try {
      shutdown().get(DEFAULT_CLOSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("shutdown did not complete cleanly", e);
    }
  }
}
