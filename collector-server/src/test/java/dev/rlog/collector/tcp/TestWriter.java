package dev.rlog.collector.tcp;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.rlog.collector.flow.Chunk;
import dev.rlog.collector.flow.IngestQueue;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Stands in for the store writer: drains the queue on its own thread, parses every JSON line,
 * keeps the records and commits them. {@link #hold()} stops it committing (the queue's level
 * then only grows), {@link #release()} lets it go on. Samples the queue level before every commit,
 * where it is highest (between commits it only grows).
 */
final class TestWriter implements AutoCloseable {

  /** One stored record. */
  record Stored(String src, String recv, String peer, byte[] payload, boolean base64) {
    String text() {
      return new String(payload, UTF_8);
    }
  }

  private final IngestQueue queue;
  private final ObjectMapper json = new ObjectMapper();
  private final List<Stored> stored = new ArrayList<>(); // guarded by this
  private final AtomicLong maxQueuedBytes = new AtomicLong();
  private final AtomicLong maxQueuedRecords = new AtomicLong();
  private final AtomicLong chunks = new AtomicLong();
  private final Thread thread;
  private volatile boolean running = true;
  private volatile Throwable failure;
  private boolean held; // guarded by this

  TestWriter(IngestQueue queue) {
    this.queue = queue;
    this.thread = new Thread(this::run, "test-store-writer");
    thread.setDaemon(true);
    thread.start();
  }

  synchronized void hold() {
    held = true;
  }

  synchronized void release() {
    held = false;
    notifyAll();
  }

  private void run() {
    List<IngestQueue.Entry> batch = new ArrayList<>();
    try {
      while (running) {
        batch.clear();
        if (queue.drain(batch, 100, TimeUnit.MILLISECONDS) == 0) {
          continue;
        }
        // Holding after drain is the same as not draining for the queue: its level counts what
        // is drained until it is committed.
        synchronized (this) {
          while (held && running) {
            wait();
          }
        }
        long bytes = 0;
        long records = 0;
        for (IngestQueue.Entry e : batch) {
          parse(e.chunk());
          bytes += e.chunk().footprint();
          records += e.chunk().records();
          chunks.incrementAndGet();
        }
        sampleQueue();
        queue.committed(batch.get(batch.size() - 1).seq(), bytes, records);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Throwable t) {
      failure = t;
      queue.fail(t);
    }
  }

  private void parse(Chunk chunk) throws java.io.IOException {
    byte[] b = chunk.bytes();
    int start = 0;
    int lines = 0;
    List<Stored> parsed = new ArrayList<>();
    for (int i = 0; i < chunk.length(); i++) {
      if (b[i] == '\n') {
        JsonNode n = json.readTree(b, start, i - start);
        boolean base64 = n.has("payload_b64");
        byte[] payload = base64
            ? Base64.getDecoder().decode(n.get("payload_b64").asText())
            : n.get("payload").asText().getBytes(UTF_8);
        parsed.add(new Stored(n.get("src").asText(), n.get("recv").asText(),
            n.get("peer").asText(), payload, base64));
        start = i + 1;
        lines++;
      }
    }
    if (start != chunk.length() || lines != chunk.records()) {
      throw new AssertionError("chunk of " + chunk.records() + " records has " + lines
          + " whole lines and " + (chunk.length() - start) + " trailing bytes");
    }
    synchronized (this) {
      stored.addAll(parsed);
    }
  }

  /** Records the queue's level into {@link #maxQueuedBytes()} and {@link #maxQueuedRecords()}. */
  void sampleQueue() {
    maxQueuedBytes.accumulateAndGet(queue.queuedBytes(), Math::max);
    maxQueuedRecords.accumulateAndGet(queue.queuedRecords(), Math::max);
  }

  long maxQueuedRecords() {
    sampleQueue();
    return maxQueuedRecords.get();
  }

  long maxQueuedBytes() {
    sampleQueue();
    return maxQueuedBytes.get();
  }

  synchronized int count() {
    return stored.size();
  }

  synchronized List<Stored> stored() {
    return List.copyOf(stored);
  }

  long chunks() {
    return chunks.get();
  }

  /** The writer's own error (a malformed chunk), or null. */
  Throwable failure() {
    return failure;
  }

  @Override
  public void close() {
    running = false;
    release();
    thread.interrupt();
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
