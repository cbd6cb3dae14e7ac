package dev.rlog.collector.flow;

import dev.rlog.common.buffer.ChunkBufferPool;
import java.util.List;

/**
 * A run of whole, already encoded store records (JSON Lines, each ending in {@code '\n'}) handed
 * from one ingest read or one {@code LogBatch} to the store writer in one piece. The bytes are
 * owned by the chunk once offered: the producer must not touch {@code bytes} afterwards.
 *
 * @param bytes encoded records in {@code [0, length)}
 * @param length number of valid bytes
 * @param records number of records (lines) in the chunk; may be 0 for a chunk that only carries
 *     positions
 * @param positions per (agent, file instance) the highest line offset this chunk stores; the
 *     store records them as committed once the chunk is
 * @param pool where {@code bytes} goes back once the chunk is written ({@link #releaseBuffer}),
 *     or {@code null} for a buffer nobody reuses
 */
public record Chunk(byte[] bytes, int length, int records, List<Position> positions,
    ChunkBufferPool pool) {

  /** The highest offset stored for one agent's file instance. */
  public record Position(String agent, String fileInstance, long offset) {}

  public Chunk {
    if (length < 0 || length > bytes.length) {
      throw new IllegalArgumentException("length " + length + " outside buffer of " + bytes.length);
    }
    positions = List.copyOf(positions);
  }

  /** A chunk whose buffer is not pooled. */
  public Chunk(byte[] bytes, int length, int records, List<Position> positions) {
    this(bytes, length, records, positions, null);
  }

  /**
   * The heap this chunk holds: its whole buffer, not just the encoded bytes. The ingest queue
   * counts this, so its byte bound is a true memory bound.
   */
  public int footprint() {
    return bytes.length;
  }

  /**
   * Gives the buffer back to its pool: from then on the bytes belong to the next encoder. Called
   * once, by the chunk's last owner: the store writer after the chunk is committed, or a
   * producer that replaced the chunk before offering it.
   */
  public void releaseBuffer() {
    if (pool != null) {
      pool.release(bytes);
    }
  }

  public static Chunk of(byte[] bytes, int length, int records) {
    return new Chunk(bytes, length, records, List.of());
  }
}
