package dev.rlog.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SinkLineCounterTest {
  @TempDir Path dir;

  @Test
  void countsWhatIsAppendedBetweenPolls() throws Exception {
    Path f = dir.resolve("sink.out");
    try (SinkLineCounter c = new SinkLineCounter(f)) {
      assertThat(c.poll()).isZero(); // the sink creates the file only when the peer connects
      Files.writeString(f, "a\nb");
      assertThat(c.poll()).isEqualTo(1);
      append(f, "c\n\n");
      assertThat(c.poll()).isEqualTo(3);
      assertThat(c.poll()).isEqualTo(3);
      // more than one read's worth at once
      append(f, "x\n".repeat(1 << 20));
      assertThat(c.poll()).isEqualTo(3 + (1 << 20));
    }
  }

  private static void append(Path f, String s) throws Exception {
    Files.writeString(f, s, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
  }
}
