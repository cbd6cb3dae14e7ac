package dev.rlog.agent.tail;

/**
 * Where the tailer hands the lines it read; implemented by the shipping side.
 *
 * <p>Called only from the tail thread, one batch at a time, batches of one file instance in file
 * order. Must not block for long: when full, return false. The tailer then keeps that batch (one
 * per file at most), reads nothing more from that file and offers the same batch again after
 * {@code TailService.wakeup()} or a short retry interval — lines are delayed, never dropped, and
 * memory stays bounded by one pending batch per file.
 *
 * <p>A sink may take the first lines of a batch and still return false; it must then skip them
 * when the same batch object is offered again. It may commit those lines once acknowledged.
 *
 * <p>On true the sink owns the batch and the tailer advances the instance's read position to
 * {@link LineBatch#endPosition()}. Positions become committed only when the sink later calls
 * {@code TailService.commit(fileInstance, end)} after the collector acknowledged the lines.
 */
@FunctionalInterface
public interface LineSink {
  boolean offer(LineBatch batch);
}
