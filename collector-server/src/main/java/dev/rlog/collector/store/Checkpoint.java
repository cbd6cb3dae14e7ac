package dev.rlog.collector.store;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.rlog.common.config.AtomicFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The store's positions checkpoint, {@code <store dir>/positions.json}: the live committed
 * positions of the duplicate filter ({@link PositionTable}) as of a commit point, so recovery
 * only re-scans the store after that point and expiry goes on where it was.
 *
 * <pre>
 * {"version":2,
 *  "segment":"segment-00000000000000000007.jsonl",   commit point: segment ...
 *  "offset":1048576,                                    ... and byte offset in it
 *  "positions":{"&lt;agent&gt;":{"&lt;file instance&gt;":[12345,1732226487123]}}}
 *                                          committed offset ^  ^ last advance, epoch ms
 * </pre>
 *
 * <p>Version 1 (written before the filter had a retention) held {@code "<file instance>":12345}
 * with no time; it is still read, its entries taken as advanced when read (so they live one full
 * retention from the upgrade), and the next checkpoint is written as version 2. Holds only what
 * the table holds, so its size is bounded by {@code store.dedup_max_instances} (about 70 bytes an
 * entry).
 *
 * <p>Written atomically ({@link AtomicFiles#write}), so a reader sees the old or the new file,
 * never a mix. The caller makes the segment bytes up to {@code offset} durable before writing
 * it, so a checkpoint never names bytes the disk could still lose.
 *
 * @param positions least recently advanced first (the order {@link PositionTable#restore} wants)
 */
record Checkpoint(String segment, long offset, List<PositionTable.Committed> positions) {
  static final String FILE_NAME = "positions.json";
  static final int VERSION = 2;
  /** The version without last-advance times; read, never written. */
  static final int VERSION_WITHOUT_TIMES = 1;
  /** Last-advance time of a version-1 entry: unknown. */
  static final long UNKNOWN_TIME = -1;

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Thrown when the file exists but is not a checkpoint we wrote. */
  static final class InvalidCheckpointException extends IOException {
    private static final long serialVersionUID = 1L;

    InvalidCheckpointException(String message) {
      super(message);
    }

    InvalidCheckpointException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  Checkpoint {
    positions = List.copyOf(positions);
  }

  void write(Path file) throws IOException {
    // Streamed, not built as a tree: the table may hold many entries.
    Map<String, List<PositionTable.Committed>> byAgent = new LinkedHashMap<>();
    for (PositionTable.Committed c : positions) {
      byAgent.computeIfAbsent(c.agent(), a -> new ArrayList<>()).add(c);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(64 + positions.size() * 72);
    try (JsonGenerator g = JSON.getFactory().createGenerator(out, JsonEncoding.UTF8)) {
      g.writeStartObject();
      g.writeNumberField("version", VERSION);
      g.writeStringField("segment", segment);
      g.writeNumberField("offset", offset);
      g.writeObjectFieldStart("positions");
      for (Map.Entry<String, List<PositionTable.Committed>> agent : byAgent.entrySet()) {
        g.writeObjectFieldStart(agent.getKey());
        for (PositionTable.Committed c : agent.getValue()) {
          g.writeFieldName(c.fileInstance());
          g.writeStartArray();
          g.writeNumber(c.offset());
          g.writeNumber(c.advancedAtMillis());
          g.writeEndArray();
        }
        g.writeEndObject();
      }
      g.writeEndObject();
      g.writeEndObject();
    }
    AtomicFiles.write(file, out.toByteArray());
  }

  /**
   * Reads a checkpoint (version 1 or 2); {@code null} if the file does not exist.
   *
   * @throws InvalidCheckpointException if it exists but cannot be understood
   */
  static Checkpoint read(Path file) throws IOException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return null;
    }
    JsonNode root;
    try {
      root = JSON.readTree(bytes);
    } catch (IOException e) {
      throw new InvalidCheckpointException(file + " is not valid JSON", e);
    }
    if (root == null || !root.isObject()) {
      throw new InvalidCheckpointException(file + " is not a JSON object");
    }
    JsonNode version = root.get("version");
    if (version == null || !version.isInt()
        || (version.intValue() != VERSION && version.intValue() != VERSION_WITHOUT_TIMES)) {
      throw new InvalidCheckpointException(file + ": unsupported version " + version);
    }
    boolean timed = version.intValue() == VERSION;
    JsonNode segment = root.get("segment");
    if (segment == null || !segment.isTextual()
        || SegmentStore.sequenceOf(segment.textValue()) < 0) {
      throw new InvalidCheckpointException(file + ": bad segment " + segment);
    }
    JsonNode offset = root.get("offset");
    if (offset == null || !offset.isIntegralNumber() || !offset.canConvertToLong()
        || offset.longValue() < 0) {
      throw new InvalidCheckpointException(file + ": bad offset " + offset);
    }
    JsonNode agents = root.get("positions");
    if (agents == null || !agents.isObject()) {
      throw new InvalidCheckpointException(file + ": missing positions");
    }
    List<PositionTable.Committed> positions = new ArrayList<>();
    for (Map.Entry<String, JsonNode> agent : agents.properties()) {
      if (!agent.getValue().isObject()) {
        throw new InvalidCheckpointException(file + ": bad positions of agent " + agent.getKey());
      }
      for (Map.Entry<String, JsonNode> e : agent.getValue().properties()) {
        JsonNode v = e.getValue();
        JsonNode off = timed ? (v.isArray() && v.size() == 2 ? v.get(0) : null) : v;
        JsonNode at = timed && v.isArray() && v.size() == 2 ? v.get(1) : null;
        if (!isLong(off) || (timed && !isLong(at))) {
          throw new InvalidCheckpointException(
              file + ": bad position for " + agent.getKey() + "/" + e.getKey());
        }
        positions.add(new PositionTable.Committed(agent.getKey(), e.getKey(), off.longValue(),
            timed ? at.longValue() : UNKNOWN_TIME));
      }
    }
    // Grouped by agent in the file; the table wants least recently advanced first.
    positions.sort(Comparator.comparingLong(PositionTable.Committed::advancedAtMillis));
    return new Checkpoint(segment.textValue(), offset.longValue(), positions);
  }

  /** The offsets as agent, then file instance, then offset (without times). */
  Map<String, Map<String, Long>> offsets() {
    Map<String, Map<String, Long>> out = new HashMap<>();
    for (PositionTable.Committed c : positions) {
      out.computeIfAbsent(c.agent(), a -> new HashMap<>()).put(c.fileInstance(), c.offset());
    }
    return out;
  }

  private static boolean isLong(JsonNode n) {
    return n != null && n.isIntegralNumber() && n.canConvertToLong();
  }
}
