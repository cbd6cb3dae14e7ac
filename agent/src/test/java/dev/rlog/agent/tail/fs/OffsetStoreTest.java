package dev.rlog.agent.tail.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.agent.tail.FileIdentity;
import dev.rlog.agent.tail.PositionsFile;
import dev.rlog.agent.tail.PositionsFileException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OffsetStoreTest {
  @TempDir Path state;

  @Test
  void missingFileMeansNothingCommitted() throws Exception {
    assertThat(new OffsetStore(state.resolve("not-yet")).load()).isEqualTo(PositionsFile.empty());
  }

  @Test
  void savesAtomicallyAndLoadsBack() throws Exception {
    OffsetStore store = new OffsetStore(state.resolve("state"));
    PositionsFile f = new PositionsFile(List.of(new PositionsFile.Entry("app", "1:2:ab:x",
        new FileIdentity("(dev=1,ino=2)", "ab"), "/var/log/app.log", 42)));
    store.save(f);
    assertThat(store.file()).isEqualTo(state.resolve("state").resolve("positions"));
    assertThat(store.load()).isEqualTo(f);
    store.save(PositionsFile.empty());
    assertThat(store.load()).isEqualTo(PositionsFile.empty());
    try (Stream<Path> files = Files.list(state.resolve("state"))) {
      assertThat(files).containsExactly(store.file()); // no temp file left behind
    }
  }

  @Test
  void corruptFileIsAnErrorNamingFileAndLine() throws Exception {
    OffsetStore store = new OffsetStore(state);
    Files.writeString(store.file(), "rlog-positions 1\napp\tid\t-\tab\tNaN\t/x\n");
    PositionsFileException e = assertThrows(PositionsFileException.class, store::load);
    assertThat(e.getMessage()).startsWith(store.file() + " line 2:");
  }
}
