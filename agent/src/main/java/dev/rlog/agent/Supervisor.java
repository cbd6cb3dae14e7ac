package dev.rlog.agent;

import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Notices when a service thread of the agent ends on its own. A thread that died with an error,
 * or ended while the agent was not stopping, leaves an agent that is half alive (tailing but
 * never shipping, or shipping but never reading); the only safe answer is to exit non-zero and
 * let the service manager restart the agent from its committed positions.
 *
 * <p>{@link #failure()} completes with the first such {@link ServiceFailure} and never completes
 * if none happens; every failure is logged at ERROR with its cause when it happens. A service
 * that ends normally while {@code stopping} is true is a clean stop, not a failure; one that ends
 * with an error is a failure even then. Thread-safe: the watch callbacks run on whichever thread
 * completes the watched future.
 */
final class Supervisor {
  private static final Logger log = LoggerFactory.getLogger(Supervisor.class);

  private final BooleanSupplier stopping;
  private final CompletableFuture<ServiceFailure> failure = new CompletableFuture<>();

  /** @param stopping true once the agent was asked to stop */
  Supervisor(BooleanSupplier stopping) {
    this.stopping = Objects.requireNonNull(stopping, "stopping");
  }

  /** Watches {@code terminated}, the future a service completes when its thread ends. */
  void watch(String service, CompletableFuture<?> terminated) {
    Objects.requireNonNull(service, "service");
    terminated.whenComplete((ignored, error) -> {
      if (error != null) {
        fail(service, unwrap(error));
      } else if (!stopping.getAsBoolean()) {
        fail(service, new IllegalStateException(service + " ended while the agent was running"));
      }
    });
  }

  /** The first failure; never completes if there is none. */
  CompletableFuture<ServiceFailure> failure() {
    return failure;
  }

  private void fail(String service, Throwable cause) {
    log.error("service {} failed; the agent stops and exits non-zero", service, cause);
    failure.complete(new ServiceFailure(service, cause));
  }

  private static Throwable unwrap(Throwable t) {
    return (t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null ? t.getCause() : t;
  }
}
