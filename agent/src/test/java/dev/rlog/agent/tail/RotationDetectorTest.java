package dev.rlog.agent.tail;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.agent.tail.RotationDetector.Decision;
import dev.rlog.agent.tail.RotationDetector.Kind;
import dev.rlog.agent.tail.RotationDetector.Observed;
import dev.rlog.agent.tail.RotationDetector.Tracked;
import java.util.List;
import org.junit.jupiter.api.Test;

class RotationDetectorTest {
  static final String LOG = "/var/log/app.log";
  static final String LOG1 = "/var/log/app.log.1";
  static final String FP_A = FileIdentity.fingerprintOf("2024-01-01T00:00:00 first line of A\n");
  static final String FP_B = FileIdentity.fingerprintOf("2024-01-02T00:00:00 first line of B\n");

  static FileIdentity id(int inode, String fp) {
    return new FileIdentity("(dev=803,ino=" + inode + ")", fp);
  }

  static Tracked tracked(int inode, long read, long sizeSeen) {
    return new Tracked(LOG, id(inode, FP_A), read, sizeSeen);
  }

  static Observed at(String path, int inode, String fp, long size) {
    return new Observed(path, id(inode, fp), size);
  }

  static Decision decide(Tracked t, Observed atPath, Observed... others) {
    return RotationDetector.decide(t, atPath, List.of(others));
  }

  @Test
  void unchangedAndGrew() {
    assertThat(decide(tracked(1, 100, 100), at(LOG, 1, FP_A, 100)).kind()).isEqualTo(Kind.UNCHANGED);
    Decision grew = decide(tracked(1, 100, 100), at(LOG, 1, FP_A, 150));
    assertThat(grew.kind()).isEqualTo(Kind.GREW);
    assertThat(grew.continueOn().size()).isEqualTo(150);
  }

  @Test
  void renameRotationFinishesTheOldThenTheNewStartsFromZero() {
    // app.log is now inode 2; inode 1 was renamed to a name the glob does not match.
    Decision d = decide(tracked(1, 100, 120), at(LOG, 2, FP_B, 10));
    assertThat(d.kind()).isEqualTo(Kind.RENAMED);
    assertThat(d.continueOn()).isNull();
    // New file without a complete first line yet: still another inode, still RENAMED.
    assertThat(decide(tracked(1, 100, 120), new Observed(LOG, FileIdentity.undecided(
        "(dev=803,ino=2)"), 0)).kind()).isEqualTo(Kind.RENAMED);
  }

  @Test
  void renameToAMatchedNameIsFollowed() {
    Decision d = decide(tracked(1, 100, 120), at(LOG, 2, FP_B, 10), at(LOG1, 1, FP_A, 130));
    assertThat(d.kind()).isEqualTo(Kind.MOVED);
    assertThat(d.continueOn().path()).isEqualTo(LOG1);
    assertThat(decide(tracked(1, 100, 120), null, at(LOG1, 1, FP_A, 130)).kind())
        .isEqualTo(Kind.MOVED);
  }

  @Test
  void goneWhenNothingIsThere() {
    assertThat(decide(tracked(1, 100, 120), null).kind()).isEqualTo(Kind.GONE);
    assertThat(decide(tracked(1, 100, 120), null, at(LOG1, 7, FP_B, 5)).kind())
        .isEqualTo(Kind.GONE);
  }

  @Test
  void truncationRestartsFromZero() {
    assertThat(decide(tracked(1, 100, 100), at(LOG, 1, FP_A, 40)).kind())
        .isEqualTo(Kind.TRUNCATED);
    // Truncated to 0: the fingerprint is undecided, the inode is the same.
    assertThat(decide(tracked(1, 100, 100), new Observed(LOG, FileIdentity.undecided(
        "(dev=803,ino=1)"), 0)).kind()).isEqualTo(Kind.TRUNCATED);
    // Shrank below the size last seen though still above the read position.
    assertThat(decide(tracked(1, 50, 200), at(LOG, 1, FP_A, 120)).kind())
        .isEqualTo(Kind.TRUNCATED);
  }

  @Test
  void copytruncateContinuesTheCopyInsteadOfReadingItAgain() {
    Observed copy = at(LOG1, 9, FP_A, 180);
    Decision d = decide(tracked(1, 150, 150), at(LOG, 1, FP_B, 0), copy);
    assertThat(d.kind()).isEqualTo(Kind.COPYTRUNCATED_COPY_SEEN);
    assertThat(d.continueOn()).isEqualTo(copy);
    // Truncated to nothing yet (undecided fingerprint): same.
    assertThat(decide(tracked(1, 150, 150), new Observed(LOG, FileIdentity.undecided(
        "(dev=803,ino=1)"), 0), copy).kind()).isEqualTo(Kind.COPYTRUNCATED_COPY_SEEN);
    // A matched file with another start is no copy.
    assertThat(decide(tracked(1, 150, 150), at(LOG, 1, FP_B, 0), at(LOG1, 9, FP_B, 180))
        .kind()).isEqualTo(Kind.TRUNCATED);
  }

  @Test
  void inodeReusedWithADifferentFirstLineIsANewFile() {
    // After a restart: positions say inode 1 starts with A and was read to 5000. Inode 1 now
    // holds a file starting with B, even a bigger one: a new file, read from 0.
    Decision d = decide(tracked(1, 5000, 5000), at(LOG, 1, FP_B, 9000));
    assertThat(d.kind()).isEqualTo(Kind.TRUNCATED);
    assertThat(d.continueOn()).isNull();
  }

  @Test
  void sameInodeAndSameFingerprintAfterRestartResumes() {
    Decision d = decide(tracked(1, 5000, 5000), at(LOG, 1, FP_A, 9000));
    assertThat(d.kind()).isEqualTo(Kind.GREW);
    assertThat(decide(tracked(1, 5000, 5000), at(LOG, 1, FP_A, 5000)).kind())
        .isEqualTo(Kind.UNCHANGED);
  }

  @Test
  void withoutFileKeysPathAndFingerprintDecide() {
    Tracked t = new Tracked(LOG, new FileIdentity(null, FP_A), 100, 100);
    assertThat(RotationDetector.decide(t, new Observed(LOG, new FileIdentity(null, FP_A), 150),
        List.of()).kind()).isEqualTo(Kind.GREW);
    assertThat(RotationDetector.decide(t, new Observed(LOG, new FileIdentity(null, FP_B), 10),
        List.of(new Observed(LOG1, new FileIdentity(null, FP_A), 100))).kind())
        .isEqualTo(Kind.MOVED);
    assertThat(RotationDetector.decide(t, new Observed(LOG, new FileIdentity(null, FP_A), 10),
        List.of(new Observed(LOG1, new FileIdentity(null, FP_A), 100))).kind())
        .isEqualTo(Kind.COPYTRUNCATED_COPY_SEEN);
    assertThat(RotationDetector.decide(t, new Observed(LOG, new FileIdentity(null, FP_B), 10),
        List.of()).kind()).isEqualTo(Kind.RENAMED);
  }

  @Test
  void copyCandidates() {
    Tracked t = tracked(1, 10, 10);
    assertThat(RotationDetector.isCopyCandidate(t, at(LOG1, 2, FP_A, 5))).isTrue();
    assertThat(RotationDetector.isCopyCandidate(t, at(LOG1, 1, FP_A, 5))).isFalse();
    assertThat(RotationDetector.isCopyCandidate(t, at(LOG1, 2, FP_B, 5))).isFalse();
    assertThat(RotationDetector.findCopy(t, List.of(at(LOG1, 2, FP_A, 5),
        at(LOG + ".2", 3, FP_A, 50))).path()).isEqualTo(LOG + ".2");
  }

  @Test
  void rejectsInconsistentInput() {
    assertThrows(IllegalArgumentException.class,
        () -> decide(tracked(1, 0, 0), at(LOG1, 1, FP_A, 0)));
    assertThrows(IllegalArgumentException.class,
        () -> new Tracked(LOG, FileIdentity.undecided("k"), 0, 0));
  }
}
