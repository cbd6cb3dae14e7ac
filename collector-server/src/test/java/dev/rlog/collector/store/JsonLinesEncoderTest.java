package dev.rlog.collector.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.rlog.collector.flow.Chunk;
import dev.rlog.common.buffer.ChunkBufferPool;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

class JsonLinesEncoderTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final byte[] PEER = JsonLinesEncoder.quote("127.0.0.1:4242");

  private static final byte[] GET = "GET / 200 \"ok\"".getBytes(StandardCharsets.UTF_8);

  private static List<JsonNode> lines(Chunk c) throws Exception {
    String text = new String(c.bytes(), 0, c.length(), StandardCharsets.UTF_8);
    assertThat(text).endsWith("\n");
    List<JsonNode> out = new ArrayList<>();
    for (String l : text.split("\n", -1)) {
      if (!l.isEmpty()) {
        out.add(JSON.readTree(l));
      }
    }
    return out;
  }

  @Test
  void tcpRecordsRoundTripEveryEscapeAndStayOneLineEach() throws Exception {
    JsonLinesEncoder enc = new JsonLinesEncoder(16);
    enc.receiveTime(1_700_000_000_123L);
    String tricky = "quote\" back\\slash\nnew\rret\ttab\u0001ctl\u007f é ✓ 😀";
    byte[] payload = tricky.getBytes(StandardCharsets.UTF_8);
    enc.tcpRecord(PEER, payload, 0, payload.length);
    enc.tcpRecord(PEER, new byte[0], 0, 0);
    Chunk c = enc.finish(List.of());

    assertThat(c.records()).isEqualTo(2);
    List<JsonNode> recs = lines(c);
    assertThat(recs).hasSize(2);
    assertThat(recs.get(0).get("recv").asText()).isEqualTo("2023-11-14T22:13:20.123Z");
    assertThat(recs.get(0).get("src").asText()).isEqualTo("tcp");
    assertThat(recs.get(0).get("peer").asText()).isEqualTo("127.0.0.1:4242");
    assertThat(recs.get(0).get("payload").asText()).isEqualTo(tricky);
    assertThat(recs.get(1).get("payload").asText()).isEmpty();
    assertThat(enc.isEmpty()).isTrue();
  }

  @Test
  void invalidUtf8PayloadIsKeptLosslesslyAsBase64() throws Exception {
    JsonLinesEncoder enc = new JsonLinesEncoder();
    enc.receiveTime(0);
    byte[][] bad = {
      {(byte) 0xff}, {'a', (byte) 0xc3}, {(byte) 0xc0, (byte) 0x80}, // truncated, overlong
      {(byte) 0xed, (byte) 0xa0, (byte) 0x80}, // surrogate
      {(byte) 0xf4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, // above U+10FFFF
      {'x', 0, (byte) 0x80, 'y'}
    };
    for (byte[] b : bad) {
      enc.tcpRecord(PEER, b, 0, b.length);
    }
    List<JsonNode> recs = lines(enc.finish(List.of()));
    for (int i = 0; i < bad.length; i++) {
      assertThat(recs.get(i).has("payload")).isFalse();
      assertThat(Base64.getDecoder().decode(recs.get(i).get("payload_b64").asText()))
          .isEqualTo(bad[i]);
    }
  }

  @Test
  void payloadSliceIsTakenFromTheGivenRange() throws Exception {
    JsonLinesEncoder enc = new JsonLinesEncoder();
    enc.receiveTime(0);
    byte[] buf = "xxhelloyy".getBytes(StandardCharsets.US_ASCII);
    enc.tcpRecord(PEER, buf, 2, 5);
    assertThat(lines(enc.finish(List.of())).get(0).get("payload").asText()).isEqualTo("hello");
  }

  @Test
  void grpcRecordCarriesAgentFieldsTimestampAndPosition() throws Exception {
    JsonLinesEncoder enc = new JsonLinesEncoder();
    enc.receiveTime(1_700_000_000_000L);
    byte[] agent = JsonLinesEncoder.grpcAgentFields("web", "u-1", "host\"1");
    enc.grpcRecord(agent, JsonLinesEncoder.quote("app"), true, 1_700_000_000L, 123_456_789,
        JsonLinesEncoder.quote("fid-1"), 4096, GET, 0, GET.length);
    enc.grpcRecord(agent, JsonLinesEncoder.quote("app"), false, 0, 0, null, 0, new byte[0], 0, 0);
    enc.grpcRecord(agent, JsonLinesEncoder.quote("app"), true, 1_700_000_001L, 5_000_000,
        null, 0, new byte[] {'x', 'a', (byte) 0xff, 'b', 'x'}, 1, 3);
    List<JsonNode> recs = lines(enc.finish(List.of(new Chunk.Position("u-1", "fid-1", 4096))));

    JsonNode r = recs.get(0);
    assertThat(r.get("src").asText()).isEqualTo("grpc");
    assertThat(r.get("project").asText()).isEqualTo("web");
    assertThat(r.get("agent").asText()).isEqualTo("u-1");
    assertThat(r.get("host").asText()).isEqualTo("host\"1");
    assertThat(r.get("label").asText()).isEqualTo("app");
    assertThat(r.get("ts").asText()).isEqualTo("2023-11-14T22:13:20.123456789Z");
    assertThat(r.get("fid").asText()).isEqualTo("fid-1");
    assertThat(r.get("off").asLong()).isEqualTo(4096);
    assertThat(r.get("line").asText()).isEqualTo("GET / 200 \"ok\"");

    assertThat(recs.get(1).has("ts")).isFalse();
    assertThat(recs.get(1).has("fid")).isFalse();
    assertThat(recs.get(1).get("line").asText()).isEmpty();
    assertThat(recs.get(2).get("ts").asText()).isEqualTo("2023-11-14T22:13:21.005Z");
    assertThat(recs.get(2).get("line").asText()).isEqualTo("a\uFFFDb");
  }

  @Test
  void growsForLargeRecords() throws Exception {
    JsonLinesEncoder enc = new JsonLinesEncoder(256);
    enc.receiveTime(0);
    byte[] big = new byte[1 << 20];
    java.util.Arrays.fill(big, (byte) '"');
    enc.tcpRecord(PEER, big, 0, big.length);
    Chunk c = enc.finish(List.of());
    assertThat(lines(c).get(0).get("payload").asText()).hasSize(1 << 20);
  }

  @Test
  void chunkRecordsFollowEveryChangeOfTheFieldsTheyShare() throws Exception {
    // The fields before "off" are formatted once and reused while they stay the same: each
    // change, alone, must show in the next record, and going back must too.
    JsonLinesEncoder enc = new JsonLinesEncoder();
    byte[] web = JsonLinesEncoder.grpcAgentFields("web", "u-1", "h1");
    byte[] db = JsonLinesEncoder.grpcAgentFields("db", "u-2", "h2");
    byte[] app = JsonLinesEncoder.quote("app");
    byte[] sys = JsonLinesEncoder.quote("sys");
    byte[] f1 = JsonLinesEncoder.quote("f1");
    byte[] f2 = JsonLinesEncoder.quote("f2");
    byte[] line = "x".getBytes(StandardCharsets.UTF_8);
    record Want(long recv, byte[] agent, byte[] label, long sec, int nanos, byte[] fid) {}
    List<Want> wants = List.of(
        new Want(1_700_000_000_000L, web, app, 1_700_000_000L, 0, f1),
        new Want(1_700_000_000_000L, web, app, 1_700_000_000L, 0, f1),
        new Want(1_700_000_000_001L, web, app, 1_700_000_000L, 0, f1),
        new Want(1_700_000_000_001L, db, app, 1_700_000_000L, 0, f1),
        new Want(1_700_000_000_001L, db, sys, 1_700_000_000L, 0, f1),
        new Want(1_700_000_000_001L, db, sys, 1_700_000_001L, 0, f1),
        new Want(1_700_000_000_001L, db, sys, 1_700_000_001L, 5, f1),
        new Want(1_700_000_000_001L, db, sys, 1_700_000_001L, 5, f2),
        new Want(1_700_000_000_000L, web, app, 1_700_000_000L, 0, f1));
    long off = 0;
    for (Want w : wants) {
      enc.receiveTime(w.recv());
      if (off % 2 == 0) {
        enc.grpcChunkRecordPlain(w.agent(), w.label(), w.sec(), w.nanos(), w.fid(), off, line, 0,
            1);
      } else {
        enc.grpcChunkRecord(w.agent(), w.label(), w.sec(), w.nanos(), w.fid(), off, line, 0, 1);
      }
      off++;
    }
    List<JsonNode> recs = lines(enc.finish(List.of()));

    assertThat(recs).hasSize(wants.size());
    for (int i = 0; i < wants.size(); i++) {
      Want w = wants.get(i);
      JsonNode r = recs.get(i);
      assertThat(java.time.Instant.parse(r.get("recv").asText())).as("record %d", i)
          .isEqualTo(java.time.Instant.ofEpochMilli(w.recv()));
      assertThat(r.get("project").asText()).as("record %d", i)
          .isEqualTo(w.agent() == web ? "web" : "db");
      assertThat(r.get("host").asText()).as("record %d", i)
          .isEqualTo(w.agent() == web ? "h1" : "h2");
      assertThat(r.get("label").asText()).as("record %d", i)
          .isEqualTo(w.label() == app ? "app" : "sys");
      assertThat(java.time.Instant.parse(r.get("ts").asText())).as("record %d", i)
          .isEqualTo(java.time.Instant.ofEpochSecond(w.sec(), w.nanos()));
      assertThat(r.get("fid").asText()).as("record %d", i).isEqualTo(w.fid() == f1 ? "f1" : "f2");
      assertThat(r.get("off").asLong()).as("record %d", i).isEqualTo(i);
      assertThat(r.get("line").asText()).isEqualTo("x");
    }
  }

  @Test
  void grpcChunkRecordWritesTsFidOffAndKeepsInvalidLinesAsBase64() throws Exception {
    JsonLinesEncoder enc = new JsonLinesEncoder();
    enc.receiveTime(1_700_000_000_000L);
    byte[] agent = JsonLinesEncoder.grpcAgentFields("web", "u-1", "h");
    byte[] data = {'o', 'k', '\n', 'x', (byte) 0xff, 'y', '\n'};
    enc.grpcChunkRecord(agent, JsonLinesEncoder.quote("app"), 1_700_000_000L, 0,
        JsonLinesEncoder.quote("fid"), 0, data, 0, 2);
    enc.grpcChunkRecord(agent, JsonLinesEncoder.quote("app"), 1_700_000_000L, 0,
        JsonLinesEncoder.quote("fid"), Long.MIN_VALUE, data, 3, 3);
    List<JsonNode> recs = lines(enc.finish(List.of()));

    assertThat(recs.get(0).get("ts").asText()).isEqualTo("2023-11-14T22:13:20Z");
    assertThat(recs.get(0).get("fid").asText()).isEqualTo("fid");
    assertThat(recs.get(0).get("off").asLong()).isZero();
    assertThat(recs.get(0).get("line").asText()).isEqualTo("ok");
    assertThat(recs.get(1).has("line")).isFalse();
    assertThat(Base64.getDecoder().decode(recs.get(1).get("line_b64").asText()))
        .isEqualTo(new byte[] {'x', (byte) 0xff, 'y'});
    assertThat(recs.get(1).get("off").bigIntegerValue().toString())
        .isEqualTo("9223372036854775808");
    // Field order as grpcRecord's.
    List<String> names = new ArrayList<>();
    recs.get(0).fieldNames().forEachRemaining(names::add);
    assertThat(names).containsExactly(
        "recv", "src", "project", "agent", "host", "label", "ts", "fid", "off", "line");
  }

  @Test
  void anInvalidLineFullOfControlCharactersStaysWithinItsBound() throws Exception {
    // U+FFFD takes 3 bytes, but a control character takes 6: the bound must be the lossy length.
    byte[] line = new byte[101];
    Arrays.fill(line, (byte) 1);
    line[100] = (byte) 0xff;
    byte[] agent = JsonLinesEncoder.grpcAgentFields("web", "u-1", "h");
    byte[] label = JsonLinesEncoder.quote("app");
    int bound = JsonLinesEncoder.grpcRecordBound(agent.length, label.length, 0,
        JsonLinesEncoder.grpcLineBound(line, 0, line.length));
    JsonLinesEncoder enc = new JsonLinesEncoder(256, new ChunkBufferPool(0, 0));
    enc.reserve(bound);
    enc.grpcRecord(agent, label, false, 0, 0, null, 0, line, 0, line.length);
    Chunk c = enc.finish(List.of());

    assertThat(c.bytes()).hasSize(bound); // never grew past what was accounted
    assertThat(lines(c).get(0).get("line").asText()).isEqualTo("\u0001".repeat(100) + "\uFFFD");
  }

  @Test
  void discardGivesTheBufferBackAndForgetsTheRecords() {
    ChunkBufferPool pool = new ChunkBufferPool(1 << 20, 4);
    JsonLinesEncoder enc = new JsonLinesEncoder(4096, pool);
    enc.tcpRecord(PEER, GET, 0, GET.length);
    enc.discard();
    assertThat(enc.isEmpty()).isTrue();
    assertThat(enc.length()).isZero();
    assertThat(pool.idleBuffers()).isEqualTo(1);
    enc.tcpRecord(PEER, GET, 0, GET.length); // takes it again
    assertThat(pool.idleBuffers()).isZero();
    assertThat(enc.finish(List.of()).records()).isEqualTo(1);
  }

  @Test
  void reserveOnAnEmptyEncoderTakesExactlyWhatWasAsked() {
    ChunkBufferPool pool = new ChunkBufferPool(1 << 20, 4);
    pool.release(new byte[12_000]);
    JsonLinesEncoder enc = new JsonLinesEncoder(4096, pool);
    enc.reserve(10_000); // the pooled 12,000 would hold more than the caller accounted for
    enc.tcpRecord(PEER, GET, 0, GET.length);
    assertThat(enc.finish(List.of()).bytes()).hasSize(10_000);
    enc.reserve(12_000);
    enc.tcpRecord(PEER, GET, 0, GET.length);
    assertThat(enc.finish(List.of()).bytes()).hasSize(12_000);
    assertThat(pool.idleBuffers()).isZero(); // that one was the pooled buffer
  }
}
