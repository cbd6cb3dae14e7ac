package dev.rlog.agent.tail;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.agent.tail.RescanPlanner.Action;
import dev.rlog.agent.tail.RescanPlanner.ContentGone;
import dev.rlog.agent.tail.RescanPlanner.ContinueOnCopy;
import dev.rlog.agent.tail.RescanPlanner.Drain;
import dev.rlog.agent.tail.RescanPlanner.Follow;
import dev.rlog.agent.tail.RescanPlanner.HeldCopy;
import dev.rlog.agent.tail.RescanPlanner.Instance;
import dev.rlog.agent.tail.RescanPlanner.Lost;
import dev.rlog.agent.tail.RescanPlanner.Missing;
import dev.rlog.agent.tail.RescanPlanner.Plan;
import dev.rlog.agent.tail.RescanPlanner.Register;
import dev.rlog.agent.tail.RotationDetector.Observed;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The rescan planner as a table: known instances and a directory listing in, actions out. A
 * source with a plain path ({@code app.log}) sees rotated names as unmatched files; every case of
 * the delivery guarantee's "finish it wherever it went" is one row.
 */
class RescanPlannerTest {
  private static final long NOW = 1_000_000_000_000L;
  private static final Duration GRACE = Duration.ofSeconds(10);
  private static final String A = "aaaaaaaaaaaaaaaa";
  private static final String B = "bbbbbbbbbbbbbbbb";

  /** Fingerprints the probe knows (by path) for files the listing left undecided. */
  private final Map<String, String> contents = new HashMap<>();
  private final Map<String, Boolean> prefixes = new HashMap<>();
  private final List<String> probed = new ArrayList<>();

  private final RescanPlanner.Probe probe = new RescanPlanner.Probe() {
    @Override
    public String fingerprint(Observed o) {
      probed.add(o.path());
      return contents.get(o.path());
    }

    @Override
    public boolean samePrefix(String id, Observed o) {
      return prefixes.getOrDefault(o.path(), true);
    }
  };

  /** A listed file: fingerprint undecided, as the scanner lists it; the probe knows it. */
  private Observed file(String name, String key, String fp, long size) {
    boolean matched = name.equals("app.log");
    contents.put("/l/" + name, fp);
    return new Observed("/l/" + name, FileIdentity.undecided(key), size, matched,
        name.endsWith(".gz"), 0);
  }

  private static Instance inst(String id, InstanceState state, String name, String key,
      String fp, long position, long size) {
    return new Instance(id, state, "/l/" + name, new FileIdentity(key, fp), position, position,
        size, -1);
  }

  private Plan plan(List<Instance> instances, Observed... files) {
    return plan(instances, Map.of(), files);
  }

  private Plan plan(List<Instance> instances, Map<String, HeldCopy> held, Observed... files) {
    return RescanPlanner.plan(instances, List.of(files), held, probe, false, NOW, GRACE, GRACE);
  }

  private Observed matched(String name, String key, String fp, long size) {
    contents.put("/l/" + name, fp);
    return new Observed("/l/" + name, FileIdentity.undecided(key), size, true, false, 0);
  }

  private Plan planAt(long now, List<Instance> instances, Map<String, HeldCopy> held,
      Observed... files) {
    return RescanPlanner.plan(instances, List.of(files), held, probe, false, now, GRACE, GRACE);
  }

  private static Action only(Plan p) {
    assertThat(p.actions()).hasSize(1);
    return p.actions().get(0);
  }

  @Test
  void openInstanceThatGrewAtItsPathIsFollowed() {
    Plan p = plan(List.of(inst("x", InstanceState.READING, "app.log", "k1", A, 100, 100)),
        file("app.log", "k1", A, 150));
    assertThat(only(p)).isInstanceOfSatisfying(Follow.class, f -> {
      assertThat(f.moved()).isFalse();
      assertThat(f.at().size()).isEqualTo(150);
    });
  }

  @Test
  void closedInstanceRenamedToAnUnmatchedNameIsFollowedThere() {
    Plan p = plan(List.of(inst("x", InstanceState.DORMANT, "app.log", "k1", A, 100, 100)),
        file("app.log", "k2", B, 10), file("app.log.1", "k1", A, 300));
    assertThat(p.actions()).hasSize(2);
    assertThat(p.actions().get(0)).isInstanceOfSatisfying(Follow.class, f -> {
      assertThat(f.moved()).isTrue();
      assertThat(f.at().path()).isEqualTo("/l/app.log.1");
      assertThat(f.at().matched()).isFalse();
    });
    assertThat(p.actions().get(1)).isInstanceOfSatisfying(Register.class,
        r -> assertThat(r.file().path()).isEqualTo("/l/app.log"));
  }

  @Test
  void dateextAndNumberedShiftNamesAreFoundByInode() {
    for (String name : List.of("app.log-20261130", "app.log.2", "app.log.1.old")) {
      Plan p = plan(List.of(inst("x", InstanceState.READING, "app.log", "k1", A, 5, 5)),
          file(name, "k1", A, 9));
      assertThat(p.actions()).as(name).first().isInstanceOfSatisfying(Follow.class,
          f -> assertThat(f.at().path()).isEqualTo("/l/" + name));
    }
  }

  @Test
  void truncatedInodeWithAnUnmatchedCopyContinuesOnTheCopy() {
    Plan p = plan(List.of(inst("x", InstanceState.READING, "app.log", "k1", A, 500, 500)),
        file("app.log", "k1", B, 20), file("app.log.1", "k9", A, 600));
    assertThat(p.actions()).first().isInstanceOfSatisfying(ContinueOnCopy.class,
        c -> assertThat(c.copy().path()).isEqualTo("/l/app.log.1"));
    // the truncated inode is free again: it is a new file
    assertThat(p.actions()).last().isInstanceOf(Register.class);
  }

  @Test
  void truncatedInodeWithoutACopyIsContentGoneAndItsInodeStartsAgain() {
    Plan p = plan(List.of(inst("x", InstanceState.DORMANT, "app.log", "k1", A, 500, 500)),
        file("app.log", "k1", B, 20));
    assertThat(p.actions()).hasSize(2);
    assertThat(p.actions().get(0)).isEqualTo(new ContentGone("x"));
    assertThat(p.actions().get(1)).isInstanceOf(Register.class);
  }

  @Test
  void closedInstanceCompressedWhileDownContinuesFromTheGzip() {
    Plan p = plan(List.of(inst("x", InstanceState.DORMANT, "app.log", "k1", A, 100, 100)),
        file("app.log", "k2", B, 10), file("app.log.1.gz", "k3", A, 400));
    assertThat(p.actions().get(0)).isInstanceOfSatisfying(ContinueOnCopy.class, c -> {
      assertThat(c.copy().compressed()).isTrue();
      assertThat(c.copy().path()).isEqualTo("/l/app.log.1.gz");
    });
  }

  @Test
  void aPlainCopyIsPreferredToACompressedOne() {
    Plan p = plan(List.of(inst("x", InstanceState.CONTENT_GONE, "app.log", "k1", A, 100, 100)),
        file("app.log.1.gz", "k3", A, 400), file("app.log.1", "k4", A, 400));
    assertThat(only(p)).isInstanceOfSatisfying(ContinueOnCopy.class,
        c -> assertThat(c.copy().path()).isEqualTo("/l/app.log.1"));
  }

  @Test
  void closedInstanceNotFoundIsMissingThenLostAfterTheGrace() {
    Plan first = plan(List.of(inst("x", InstanceState.DORMANT, "app.log", "k1", A, 100, 100)),
        file("app.log", "k2", B, 10));
    assertThat(first.actions().get(0)).isEqualTo(new Missing("x"));
    assertThat(first.nextDeadlineNanos()).isEqualTo(NOW + GRACE.toNanos());

    Instance missingSince = new Instance("x", InstanceState.DORMANT, "/l/app.log",
        new FileIdentity("k1", A), 100, 100, 100, NOW - GRACE.toNanos() + 1);
    assertThat(plan(List.of(missingSince), file("app.log", "k2", B, 10)).actions().get(0))
        .isEqualTo(new Missing("x"));
    Instance longGone = new Instance("x", InstanceState.DORMANT, "/l/app.log",
        new FileIdentity("k1", A), 100, 100, 100, NOW - GRACE.toNanos());
    assertThat(plan(List.of(longGone), file("app.log", "k2", B, 10)).actions().get(0))
        .isEqualTo(new Lost("x"));
  }

  @Test
  void closedInstanceWhoseInodeWasReusedIsContentGone() {
    Plan p = plan(List.of(inst("x", InstanceState.DORMANT, "app.log", "k1", A, 100, 100)),
        file("other.txt", "k1", B, 10));
    assertThat(only(p)).isEqualTo(new ContentGone("x"));
  }

  @Test
  void openInstanceWhoseFileIsGoneOrReplacedDrains() {
    Plan gone = plan(List.of(inst("x", InstanceState.READING, "app.log", "k1", A, 10, 10)));
    assertThat(only(gone)).isEqualTo(new Drain("x", false));
    Plan replaced = plan(List.of(inst("x", InstanceState.READING, "app.log", "k1", A, 10, 10)),
        file("app.log", "k2", B, 5));
    assertThat(replaced.actions()).hasSize(2);
    assertThat(replaced.actions().get(0)).isEqualTo(new Drain("x", true));
    assertThat(replaced.actions().get(1)).isInstanceOfSatisfying(Register.class,
        r -> assertThat(r.file().identity().fingerprint()).isEqualTo(B));
    Plan alreadyDraining = plan(
        List.of(inst("x", InstanceState.DRAINING, "app.log.1", "k1", A, 10, 10)));
    assertThat(alreadyDraining.actions()).isEmpty();
  }

  @Test
  void aMatchedFileStartingLikeAnOpenOneIsHeldAsAPossibleCopy() {
    // A glob source (app.log*): the copy of a copytruncate rotation is matched too.
    List<Instance> open = List.of(inst("x", InstanceState.READING, "app.log", "k1", A, 10, 10));
    Observed own = matched("app.log", "k1", A, 10);
    Observed copy = matched("app.log.1", "k2", A, 10);
    Plan first = planAt(NOW, open, Map.of(), own, copy);
    assertThat(first.actions()).hasSize(1).first().isInstanceOf(Follow.class);
    assertThat(first.held()).containsKey("/l/app.log.1");
    assertThat(first.nextDeadlineNanos()).isEqualTo(NOW + GRACE.toNanos());
    // Stopped growing, bytes still equal: still held within the grace.
    Plan same = planAt(NOW + 1, open, first.held(), own, copy);
    assertThat(same.actions()).hasSize(1);
    assertThat(same.held()).containsKey("/l/app.log.1");
    // After the grace it is a file of its own.
    Plan late = planAt(NOW + GRACE.toNanos(), open, first.held(), own, copy);
    assertThat(late.actions()).last().isInstanceOf(Register.class);
    // Stopped growing and its bytes differ: a file of its own at once.
    prefixes.put("/l/app.log.1", false);
    Plan differs = planAt(NOW + 1, open, first.held(), own, copy);
    assertThat(differs.actions()).last().isInstanceOf(Register.class);
    assertThat(differs.held()).isEmpty();
  }

  @Test
  void compressedAndUnmatchedFilesAreNeverStarted() {
    Observed gz = new Observed("/l/app.log.gz", FileIdentity.undecided("k5"), 10, true, true, 0);
    contents.put("/l/app.log.gz", A);
    Plan p = RescanPlanner.plan(List.of(), List.of(gz, file("app.log.1", "k6", B, 10)), Map.of(),
        probe, false, NOW, GRACE, GRACE);
    assertThat(p.actions()).isEmpty();
  }

  @Test
  void aFileOwnedByAnotherInstanceIsNeitherACopyNorNew() {
    Plan p = plan(List.of(
            inst("x", InstanceState.CONTENT_GONE, "app.log", "k1", A, 100, 100),
            inst("y", InstanceState.DRAINING, "app.log.1", "k2", A, 50, 50)),
        file("app.log.1", "k2", A, 60));
    assertThat(only(p)).isInstanceOfSatisfying(Follow.class,
        f -> assertThat(f.id()).isEqualTo("y"));
  }

  @Test
  void newFilesAreRegisteredOldestFirst() {
    Observed young = new Observed("/l/a.log", FileIdentity.undecided("k1"), 5, true, false, 300);
    Observed old = new Observed("/l/b.log", FileIdentity.undecided("k2"), 5, true, false, 100);
    contents.put("/l/a.log", A);
    contents.put("/l/b.log", B);
    Plan p = RescanPlanner.plan(List.of(), List.of(young, old), Map.of(), probe, false, NOW,
        GRACE, GRACE);
    assertThat(p.actions()).extracting(a -> ((Register) a).file().path())
        .containsExactly("/l/b.log", "/l/a.log");
    Plan atEnd = RescanPlanner.plan(List.of(), List.of(old), Map.of(), probe, true, NOW, GRACE,
        GRACE);
    assertThat(((Register) atEnd.actions().get(0)).startAt()).isEqualTo(5);
  }

  @Test
  void aQuietDirectoryProbesOnlyTheFilesAtKnownPaths() {
    List<Instance> known = new ArrayList<>();
    List<Observed> files = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      known.add(new Instance("i" + i, InstanceState.READING, "/l/f" + i,
          new FileIdentity("k" + i, A), 10, 10, 10, -1));
      files.add(new Observed("/l/f" + i, new FileIdentity("k" + i, A), 10, true, false, 0));
      files.add(new Observed("/l/f" + i + ".1", FileIdentity.undecided("r" + i), 10, false,
          false, 0));
    }
    Plan p = RescanPlanner.plan(known, files, Map.of(), probe, false, NOW, GRACE, GRACE);
    assertThat(p.actions()).hasSize(1000).allMatch(a -> a instanceof Follow);
    assertThat(probed).isEmpty();
  }

  @Test
  void anInstanceWithoutFingerprintIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> new Instance("x", InstanceState.DORMANT,
        "/l/app.log", FileIdentity.undecided("k1"), 0, 0, 0, -1));
  }

  private Observed rotated(String name, String key, String fp, long size, long mtime) {
    contents.put("/l/" + name, fp);
    return new Observed("/l/" + name, FileIdentity.undecided(key), size, false,
        name.endsWith(".gz"), mtime);
  }

  @Test
  void filesRotatedAwayWhileTheAgentWasDownAreAdoptedOnlyIfNewUnknownAndNamedLikeTheSource() {
    RescanPlanner.Adoption since1000 = new RescanPlanner.Adoption(1000, java.util.Set.of("app.log"));
    List<Instance> known = List.of(inst("x", InstanceState.DORMANT, "app.log", "k1", A, 10, 10));
    Plan p = RescanPlanner.plan(known, List.of(
            file("app.log", "k1", A, 10),                      // the known instance, unchanged
            rotated("app.log.1", "k2", B, 50, 1500),           // written while down: adopted
            rotated("app.log.2.gz", "k3", "cccccccccccccccc", 50, 1200), // compressed too
            rotated("app.log.3", "k4", "dddddddddddddddd", 50, 900),     // older: not ours
            rotated("app.log.4", "k5", A, 50, 1600),           // starts like x: its copy, not new
            rotated("other.txt", "k6", "eeeeeeeeeeeeeeee", 50, 1700)),   // another name
        Map.of(), probe, false, NOW, GRACE, GRACE, since1000);
    assertThat(p.actions()).filteredOn(a -> a instanceof Register)
        .extracting(a -> ((Register) a).file().path())
        .containsExactlyInAnyOrder("/l/app.log.1", "/l/app.log.2.gz");
    assertThat(p.actions()).filteredOn(a -> a instanceof Register)
        .allMatch(a -> ((Register) a).startAt() == 0);
    // without adoption (first start, or after the first minutes) none of them is started
    Plan none = RescanPlanner.plan(known, List.of(file("app.log", "k1", A, 10),
        rotated("app.log.1", "k2", B, 50, 1500)), Map.of(), probe, false, NOW, GRACE, GRACE);
    assertThat(none.actions()).noneMatch(a -> a instanceof Register);
  }

  @Test
  void aReusedInodeWhoseCopyIsHereContinuesOnTheCopyInTheSamePassNotAdoptingIt() {
    // copytruncate, then a rename rotation, both while the agent was down: x's inode now holds
    // the next generation (at app.log.1), x's content is in its copy (app.log.2).
    RescanPlanner.Adoption since = new RescanPlanner.Adoption(0, java.util.Set.of("app.log"));
    List<Instance> known = List.of(inst("x", InstanceState.DORMANT, "app.log", "k1", A, 10, 10));
    Plan p = RescanPlanner.plan(known, List.of(
            file("app.log", "k9", "cccccccccccccccc", 5),
            rotated("app.log.1", "k1", B, 50, 10),
            rotated("app.log.2", "k2", A, 40, 10)),
        Map.of(), probe, false, NOW, GRACE, GRACE, since);
    assertThat(p.actions().get(0)).isInstanceOfSatisfying(ContinueOnCopy.class,
        c -> assertThat(c.copy().path()).isEqualTo("/l/app.log.2"));
    assertThat(p.actions()).filteredOn(a -> a instanceof Register)
        .extracting(a -> ((Register) a).file().path())
        .containsExactlyInAnyOrder("/l/app.log", "/l/app.log.1");
  }

  @Test
  void anOpenInstanceWhoseInodeWasRewrittenAndRenamedContinuesOnItsCopyAndTheNewGenerationStarts() {
    // x (inode k1) was truncated in place and written again (copytruncate), then renamed to
    // app.log.1; its own lines are in the copy app.log.2.
    List<Instance> known = List.of(inst("x", InstanceState.READING, "app.log", "k1", A, 10, 10));
    Plan p = plan(known, file("app.log", "k3", "cccccccccccccccc", 5),
        rotated("app.log.1", "k1", B, 40, 0), rotated("app.log.2", "k2", A, 90, 0));
    assertThat(p.actions().get(0)).isInstanceOfSatisfying(ContinueOnCopy.class,
        c -> assertThat(c.copy().path()).isEqualTo("/l/app.log.2"));
    assertThat(p.actions()).filteredOn(a -> a instanceof Register)
        .extracting(a -> ((Register) a).file().path())
        .containsExactlyInAnyOrder("/l/app.log.1", "/l/app.log");
  }
}
