package dev.rlog.agent.tail;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.Test;

class OffsetRegistryTest {
  static final FileIdentity A = new FileIdentity("(dev=1,ino=2)", "00aa");
  static final FileIdentity B = new FileIdentity("(dev=1,ino=3)", "00bb");

  @Test
  void commitOnlyAfterReadAndOnlyForward() {
    OffsetRegistry r = new OffsetRegistry();
    r.register("a", "app", A, "/l/app.log", 0);
    r.advanceRead("a", 100);
    assertThat(r.readPosition("a")).isEqualTo(100);
    assertThat(r.committedPosition("a")).isZero();
    assertThat(r.commit("a", 60)).isTrue();
    assertThat(r.commit("a", 40)).isFalse(); // late ack of an earlier batch: no move back
    assertThat(r.commit("a", 60)).isFalse();
    assertThat(r.committedPosition("a")).isEqualTo(60);
    assertThrows(IllegalArgumentException.class, () -> r.commit("a", 101));
    assertThat(r.committedPosition("a")).isEqualTo(60);
    assertThrows(IllegalArgumentException.class, () -> r.advanceRead("a", 99));
    assertThat(r.commit("unknown", 5)).isFalse();
    assertThat(r.unacknowledgedBytes()).isEqualTo(40);
  }

  @Test
  void snapshotIsImmutableAndShowsOnlyCommitted() {
    OffsetRegistry r = new OffsetRegistry();
    r.register("a", "app", A, "/l/app.log", 0);
    r.advanceRead("a", 100);
    r.commit("a", 50);
    PositionsFile snap = r.committedSnapshot();
    r.commit("a", 100);
    assertThat(snap.entries()).containsExactly(
        new PositionsFile.Entry("app", "a", A, "/l/app.log", 50));
    assertThrows(UnsupportedOperationException.class, () -> snap.entries().clear());
    assertThat(r.committedSnapshot().entries().get(0).committed()).isEqualTo(100);
  }

  @Test
  void forgetsOnlyFullyCommittedInstances() {
    OffsetRegistry r = new OffsetRegistry();
    r.register("a", "app", A, "/l/app.log", 0);
    r.advanceRead("a", 10);
    assertThat(r.forgetIfCommitted("a")).isFalse();
    r.commit("a", 10);
    assertThat(r.forgetIfCommitted("a")).isTrue();
    assertThat(r.contains("a")).isFalse();
    assertThat(r.forgetIfCommitted("a")).isFalse();
    assertThrows(NoSuchElementException.class, () -> r.readPosition("a"));
  }

  @Test
  void durabilityFollowsPersistedVersions() {
    OffsetRegistry r = new OffsetRegistry();
    assertThat(r.hasUnpersistedChanges()).isFalse();
    r.register("a", "app", A, "/l/app.log", 0);
    assertThat(r.isDurable("a")).isFalse();
    long v = r.version();
    r.register("b", "app", B, "/l/other.log", 0);
    r.markPersisted(v);
    assertThat(r.isDurable("a")).isTrue();
    assertThat(r.isDurable("b")).isFalse();
    assertThat(r.hasUnpersistedChanges()).isTrue();
    r.markPersisted(r.version());
    assertThat(r.isDurable("b")).isTrue();
    assertThat(r.hasUnpersistedChanges()).isFalse();
    r.advanceRead("a", 5); // reading is not something the file records
    assertThat(r.hasUnpersistedChanges()).isFalse();
    r.commit("a", 5);
    assertThat(r.hasUnpersistedChanges()).isTrue();
    assertThrows(IllegalArgumentException.class, () -> r.markPersisted(r.version() + 1));
  }

  @Test
  void restoreResumesAtCommittedAndCountsAsDurable() {
    PositionsFile f = new PositionsFile(List.of(
        new PositionsFile.Entry("app", "a", A, "/l/app.log", 70),
        new PositionsFile.Entry("web", "b", B, "/l/web.log", 5)));
    OffsetRegistry r = OffsetRegistry.restore(f);
    assertThat(r.readPosition("a")).isEqualTo(70);
    assertThat(r.committedPosition("a")).isEqualTo(70);
    assertThat(r.isDurable("a")).isTrue();
    assertThat(r.idsOf("app")).containsExactly("a");
    assertThat(r.committedSnapshot()).isEqualTo(f);
  }

  @Test
  void relocateKeepsPositions() {
    OffsetRegistry r = new OffsetRegistry();
    r.register("a", "app", A, "/l/app.log", 0);
    r.advanceRead("a", 30);
    long v = r.version();
    r.relocate("a", B, "/l/app.log.1");
    assertThat(r.version()).isGreaterThan(v);
    assertThat(r.identity("a")).isEqualTo(B);
    assertThat(r.path("a")).isEqualTo("/l/app.log.1");
    assertThat(r.readPosition("a")).isEqualTo(30);
    assertThrows(IllegalStateException.class, () -> r.register("a", "app", A, "/x", 0));
  }
}
