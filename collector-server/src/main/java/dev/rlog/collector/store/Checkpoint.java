package dev.rlog.collector.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rlog.common.config.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The store's positions checkpoint, {@code <store dir>/positions.json}: the committed positions
 * as of a commit point, so recovery only re-scans the store after that point.
 *
 * <pre>
 * {"version":1,
 *  "segment":"segment-00000000000000000007.jsonl",   commit point: segment ...
 *  "offset":1048576,                                    ... and byte offset in it
 *  "positions":{"&lt;agent&gt;":{"&lt;file instance&gt;":12345}}}
 * </pre>
 *
 * <p>Written atomically ({@link AtomicFiles#write}), so a reader sees the old or the new file,
 * never a mix. The caller makes the segment bytes up to {@code offset} durable before writing
 * it, so a checkpoint never names bytes the disk could still lose.
 */
record Checkpoint(String segment, long offset, Map<String, Map<String, Long>> positions) {
  static final String FILE_NAME = "positions.json";
  static final int VERSION = 1;

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
    positions = Map.copyOf(positions);
  }

  void write(Path file) throws IOException {
    ObjectNode root = JSON.createObjectNode();
    root.put("version", VERSION);
    root.put("segment", segment);
    root.put("offset", offset);
    ObjectNode agents = root.putObject("positions");
    positions.forEach((agent, files) -> {
      ObjectNode node = agents.putObject(agent);
      files.forEach(node::put);
    });
    AtomicFiles.write(file, JSON.writeValueAsBytes(root));
  }

  /**
   * Reads a checkpoint; {@code null} if the file does not exist.
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
    if (version == null || !version.isInt() || version.intValue() != VERSION) {
      throw new InvalidCheckpointException(file + ": unsupported version " + version);
    }
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
    Map<String, Map<String, Long>> positions = new HashMap<>();
    for (Map.Entry<String, JsonNode> agent : agents.properties()) {
      if (!agent.getValue().isObject()) {
        throw new InvalidCheckpointException(file + ": bad positions of agent " + agent.getKey());
      }
      Map<String, Long> files = new HashMap<>();
      for (Map.Entry<String, JsonNode> e : agent.getValue().properties()) {
        if (!e.getValue().isIntegralNumber() || !e.getValue().canConvertToLong()) {
          throw new InvalidCheckpointException(
              file + ": bad offset for " + agent.getKey() + "/" + e.getKey());
        }
        files.put(e.getKey(), e.getValue().longValue());
      }
      positions.put(agent.getKey(), Map.copyOf(files));
    }
    return new Checkpoint(segment.textValue(), offset.longValue(), positions);
  }
}
