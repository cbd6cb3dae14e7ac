package dev.rlog.agent.ship;

import dev.rlog.proto.log.LogBatch;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One {@code LogService.Send} call: what the {@link Shipper} needs of the wire, and nothing more,
 * so its retry and acknowledgement logic can be driven by a fake in tests.
 *
 * <p>Contract of an implementation:
 * <ul>
 *   <li>{@link #send} never blocks: it starts the call and returns; the batches go out in list
 *       order as the transport can take them.
 *   <li>The future completes exactly once, with {@code OK} only when the collector acknowledged
 *       the whole call (every batch committed in its store), otherwise with the failing status.
 *       It never completes exceptionally, and it completes by {@code deadline} at the latest
 *       ({@code DEADLINE_EXCEEDED}).
 *   <li>Cancelling the future ({@link CompletableFuture#cancel}) cancels the call; the caller
 *       then treats its batches as not acknowledged.
 *   <li>The future may complete on any thread, including the caller's, inside {@code send}.
 * </ul>
 */
public interface LogTransport {
  /**
   * @param batches sent in this order on one call; not modified
   * @param accessToken the bearer token the call carries
   * @param deadline the whole call's deadline, from now
   */
  CompletableFuture<Status> send(List<LogBatch> batches, String accessToken, Duration deadline);
}
