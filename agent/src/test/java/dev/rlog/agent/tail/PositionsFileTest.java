package dev.rlog.agent.tail;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class PositionsFileTest {
  static final String SRC = "state/positions";

  private static PositionsFile parse(String text) throws PositionsFileException {
    return PositionsFile.parse(SRC, text.getBytes(StandardCharsets.UTF_8));
  }

  private static PositionsFileException bad(String text) {
    return assertThrows(PositionsFileException.class, () -> parse(text));
  }

  @Test
  void roundTripsIncludingAwkwardCharacters() throws Exception {
    PositionsFile f = new PositionsFile(List.of(
        new PositionsFile.Entry("app", "803:12:00ff:1a2b", new FileIdentity("(dev=803,ino=12)",
            "00ff"), "/var/log/app.log", 12345),
        new PositionsFile.Entry("we\tird%", "nokey:ab:x", new FileIdentity(null, "ab"),
            "/tmp/a\nb\r\tc%20.log", 0),
        new PositionsFile.Entry("dash", "k:ab:y", new FileIdentity("-", "ab"), "/tmp/d", 7)));
    byte[] text = f.render();
    assertThat(new String(text, StandardCharsets.UTF_8)).contains("\n" + PositionsFile.HEADER + "\n");
    assertThat(PositionsFile.parse(SRC, text)).isEqualTo(f);
  }

  @Test
  void emptyRoundTrips() throws Exception {
    assertThat(PositionsFile.parse(SRC, PositionsFile.empty().render())).isEqualTo(PositionsFile.empty());
  }

  @Test
  void acceptsCommentsAndBlankLines() throws Exception {
    PositionsFile f = parse("# hi\n\nrlog-positions 1\n# c\napp\tid1\t-\tab\t5\t/x\n\n");
    assertThat(f.entries()).hasSize(1);
    assertThat(f.entries().get(0).identity().fileKey()).isNull();
  }

  @Test
  void corruptFilesFailNamingFileAndLine() {
    assertThat(bad("").getMessage()).startsWith(SRC + " line").contains("missing header");
    assertThat(bad("garbage\n").getMessage()).isEqualTo(
        SRC + " line 1: expected header 'rlog-positions 1', found 'garbage'");
    assertThat(bad("rlog-positions 2\n").line()).isEqualTo(1);
    PositionsFileException e = bad("rlog-positions 1\napp\tid\t-\tab\t5\n");
    assertThat(e.line()).isEqualTo(2);
    assertThat(e.getMessage()).contains("expected 6 tab-separated fields, found 5");
    assertThat(bad("rlog-positions 1\napp\tid\t-\tab\tfive\t/x\n").getMessage())
        .contains("line 2").contains("committed offset is not a number");
    assertThat(bad("rlog-positions 1\napp\tid\t-\tab\t-5\t/x\n").getMessage())
        .contains("non-negative");
    assertThat(bad("rlog-positions 1\napp\tid\t-\tab\t+5\t/x\n").getMessage())
        .contains("non-negative");
    assertThat(bad("rlog-positions 1\napp\tid\t-\tXY\t5\t/x\n").getMessage())
        .contains("fingerprint");
    assertThat(bad("rlog-positions 1\napp\tid\t-\tab\t5\t/x%zz\n").getMessage())
        .contains("bad %-escape");
    assertThat(bad("rlog-positions 1\napp\tid\t-\tab\t5\t/x%2\n").getMessage())
        .contains("truncated %-escape");
    assertThat(bad("rlog-positions 1\n\tid\t-\tab\t5\t/x\n").getMessage())
        .contains("label is empty");
    e = bad("rlog-positions 1\napp\tid\t-\tab\t5\t/x\napp\tid\t-\tab\t6\t/y\n");
    assertThat(e.line()).isEqualTo(3);
    assertThat(e.getMessage()).contains("repeated");
  }

  @Test
  void invalidUtf8NamesItsLine() {
    byte[] bytes = "rlog-positions 1\napp\tid\t-\tab\t5\t/x\u00ff\n".getBytes(StandardCharsets.ISO_8859_1);
    PositionsFileException e = assertThrows(PositionsFileException.class,
        () -> PositionsFile.parse(SRC, bytes));
    assertThat(e.line()).isEqualTo(2);
    assertThat(e.getMessage()).contains("UTF-8");
  }
}
