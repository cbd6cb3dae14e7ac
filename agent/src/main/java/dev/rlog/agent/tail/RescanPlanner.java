package dev.rlog.agent.tail;

import dev.rlog.agent.tail.RotationDetector.Decision;
import dev.rlog.agent.tail.RotationDetector.Observed;
import dev.rlog.agent.tail.RotationDetector.Siblings;
import dev.rlog.agent.tail.RotationDetector.Tracked;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What one rescan of a source's directory means: a pure function from the known file instances,
 * the files now in the directory and the possible copies being held, to a list of {@link Action}s
 * and the time by which the directory should be looked at again. No files, no clock: file
 * contents it needs (fingerprints, a prefix comparison) come through a {@link Probe}, asked only
 * for the files a decision needs, so a quiet directory costs one map lookup per file.
 *
 * <h2>The rule (DESIGN.md, delivery guarantee)</h2>
 *
 * The pattern picks which files are <em>started</em>; it never decides which are
 * <em>finished</em>. Every known instance is looked for in the whole directory, whatever the
 * name it now has:
 *
 * <ol>
 *   <li>Open and closed instances first, in that order, each decided by {@link
 *       RotationDetector} against the file at its path and the directory's other files that no
 *       other instance owns (lookups by inode and by first line, O(1) and O(files)):
 *       <ul>
 *         <li>same file at its path → {@link Follow}; same inode at another name (renamed,
 *             {@code app.log.1}, {@code app.log-20261130}, a numbered shift) → {@link Follow}
 *             with {@code moved}: it is read to its end there, as READING if the name is matched,
 *             else DRAINING;
 *         <li>its inode truncated or rewritten → {@link ContinueOnCopy} when another file
 *             (matched or not, or a {@code .gz}) starts with its first line — the copytruncate
 *             copy — else {@link ContentGone}; when the rewritten inode has moved on to another
 *             name, the generation it holds was written at the watched path and is started
 *             there ({@link Register}) unless it starts like a known instance;
 *         <li>an open instance whose inode is no longer in the directory → {@link Drain}: the
 *             open channel still reads it;
 *         <li>a closed instance whose inode is no longer in the directory: its inode reused by
 *             another file → {@link ContentGone}; a copy or a compressed copy found by its first
 *             line → {@link ContinueOnCopy}; else {@link Missing}, and after {@code missingGrace}
 *             of consecutive misses {@link Lost} (a listing can miss a file renamed during it;
 *             logrotate's gzip deletes the original only after writing the {@code .gz}).
 *       </ul>
 *   <li>Instances whose content is gone look for a copy ({@link ContinueOnCopy}), newest first.
 *   <li>Files left over, matched by the pattern, not compressed, with a decided first line and not
 *       another name of a known inode, are new: {@link Register}, oldest first. One that starts
 *       like an open instance's file but is another inode may be that file's copytruncate copy
 *       caught before the truncation: it is held (not started) while it still grows or its first
 *       bytes equal the open file's, for at most {@code copyGrace}.
 * </ol>
 *
 * <p>Stateless; any thread. Illegal inputs (an instance without fingerprint) throw.
 */
public final class RescanPlanner {
  private RescanPlanner() {}

  /** File contents the planner may need; implemented over the file system by the tailer. */
  public interface Probe {
    /**
     * The fingerprint of {@code o} (of its decompressed bytes if compressed), or null when it is
     * not decidable yet or the file cannot be read.
     */
    String fingerprint(Observed o);

    /**
     * Whether {@code o} starts with the same bytes as the file open for instance {@code id} (as
     * far as both go); true when it cannot tell yet.
     */
    boolean samePrefix(String id, Observed o);
  }

  /**
   * A known instance as the planner sees it. {@code consumed}: farthest byte read (a held partial
   * line included); {@code resumeAt}: where reading resumes after a reopen (end of what was
   * emitted); {@code sizeSeen}: its size at the last look; {@code missingSinceNanos}: when it was
   * first not found, or -1.
   */
  public record Instance(String id, InstanceState state, String path, FileIdentity identity,
      long consumed, long resumeAt, long sizeSeen, long missingSinceNanos) {
    public Instance {
      Objects.requireNonNull(id, "id");
      Objects.requireNonNull(state, "state");
      Objects.requireNonNull(path, "path");
      if (!identity.hasFingerprint()) {
        throw new IllegalArgumentException("instance without fingerprint: " + id);
      }
    }

    Tracked tracked() {
      long pos = state.isOpen() ? consumed : resumeAt;
      // Capped at the size last seen: an instance continued on a copy shorter than what was
      // already read must not look truncated again and again.
      return new Tracked(path, identity, Math.min(pos, sizeSeen), sizeSeen);
    }
  }

  /** A possible copy held back since {@code sinceNanos}; {@code size} at the last scan. */
  public record HeldCopy(long sinceNanos, long size) {}

  /** What to do; performed by the tailer in list order. */
  public sealed interface Action {}

  /** The instance is at {@code at} (its path, or another name when {@code moved}). */
  public record Follow(String id, Observed at, boolean moved) implements Action {}

  /** Its content goes on in {@code copy} (a copytruncate copy, maybe gzip): resume there. */
  public record ContinueOnCopy(String id, Observed copy) implements Action {}

  /** Open, and its file left the directory or was replaced: read it to its end as it is. */
  public record Drain(String id, boolean replaced) implements Action {}

  /** Its inode holds other bytes now; only a copy can continue it. */
  public record ContentGone(String id) implements Action {}

  /** Closed and not found this time; keep looking until {@link Lost}. */
  public record Missing(String id) implements Action {}

  /** Closed and not found for {@code missingGrace}: what was not read of it is lost. */
  public record Lost(String id) implements Action {}

  /** A new file to read from {@code startAt}. */
  public record Register(Observed file, long startAt) implements Action {}

  /**
   * The actions, the possible copies still held, and when to rescan at the latest ({@code
   * Long.MAX_VALUE}: no deadline of the planner's own).
   */
  public record Plan(List<Action> actions, Map<String, HeldCopy> held, long nextDeadlineNanos) {
    public Plan {
      actions = List.copyOf(actions);
      held = Map.copyOf(held);
    }
  }

  /**
   * Files written while the agent was down and rotated away before it came back were at a
   * matched path only while nobody looked: an unknown file whose name starts with one of {@code
   * namePrefixes} (the names the pattern matches, e.g. {@code app.log} for {@code app.log.1},
   * {@code app.log-20261130}, {@code app.log.1.gz}) and that was modified at or after {@code
   * modifiedSinceMillis} (when the agent last listed the directory) is started too, from 0, as a
   * rotated file to finish. Files that start like a known instance are never adopted (they are
   * its copies).
   */
  public record Adoption(long modifiedSinceMillis, Set<String> namePrefixes) {
    public Adoption {
      namePrefixes = Set.copyOf(namePrefixes);
    }

    boolean covers(Observed o) {
      if (o.modifiedMillis() < modifiedSinceMillis) {
        return false;
      }
      String name = fileName(o.path());
      for (int i = 1; i < name.length(); i++) {
        if (namePrefixes.contains(name.substring(0, i))) {
          return true;
        }
      }
      return false;
    }

  }

  private static String fileName(String path) {
    int slash = path.lastIndexOf('/');
    return slash < 0 ? path : path.substring(slash + 1);
  }

  /**
   * @param startAtEnd new files start at their current end (first scan of a first start with
   *     {@code start_position: end})
   * @param adoption files rotated away while the agent was down, or null
   */
  public static Plan plan(List<Instance> instances, List<Observed> observed,
      Map<String, HeldCopy> held, Probe probe, boolean startAtEnd, long nowNanos,
      Duration copyGrace, Duration missingGrace, Adoption adoption) {
    return new Run(instances, observed, probe, nowNanos).plan(held, startAtEnd,
        copyGrace.toNanos(), missingGrace.toNanos(), adoption);
  }

  /** {@link #plan(List, List, Map, Probe, boolean, long, Duration, Duration, Adoption)} without adoption. */
  public static Plan plan(List<Instance> instances, List<Observed> observed,
      Map<String, HeldCopy> held, Probe probe, boolean startAtEnd, long nowNanos,
      Duration copyGrace, Duration missingGrace) {
    return plan(instances, observed, held, probe, startAtEnd, nowNanos, copyGrace, missingGrace,
        null);
  }

  /** The state of one planning pass. */
  private static final class Run {
    final List<Instance> instances;
    final Probe probe;
    final long now;
    final Map<String, Observed> byPath = new LinkedHashMap<>();
    final Map<String, Observed> byKey = new HashMap<>();
    /** Inode → the instance whose file it is (content-gone instances own nothing). */
    final Map<String, String> ownerByKey = new HashMap<>();
    final Set<String> claimed = new HashSet<>();
    /** First lines of every known instance (and of files started in this pass). */
    final Set<String> knownFingerprints = new HashSet<>();
    /** Fingerprints decided in this pass, by path (null values: not decidable). */
    final Map<String, String> fingerprints = new HashMap<>();
    final List<Action> actions = new ArrayList<>();
    long deadline = Long.MAX_VALUE;

    Run(List<Instance> instances, List<Observed> observed, Probe probe, long now) {
      this.instances = instances;
      this.probe = probe;
      this.now = now;
      for (Observed o : observed) {
        byPath.put(o.path(), o);
        String key = o.identity().fileKey();
        if (key != null) {
          byKey.putIfAbsent(key, o);
        }
      }
      for (Instance i : instances) {
        String key = i.identity().fileKey();
        if (i.state() != InstanceState.CONTENT_GONE && key != null) {
          ownerByKey.putIfAbsent(key, i.id());
        }
        knownFingerprints.add(i.identity().fingerprint());
      }
    }

    Plan plan(Map<String, HeldCopy> held, boolean startAtEnd, long copyGrace, long missingGrace,
        Adoption adoption) {
      List<Instance> order = new ArrayList<>();
      for (Instance i : instances) {
        if (i.state().isOpen()) {
          order.add(i);
        }
      }
      for (Instance i : instances) {
        if (i.state() == InstanceState.DORMANT) {
          order.add(i);
        }
      }
      for (Instance i : order) {
        decide(i, missingGrace);
      }
      List<Instance> gone = new ArrayList<>();
      for (Instance i : instances) {
        if (i.state() == InstanceState.CONTENT_GONE) {
          gone.add(i);
        }
      }
      for (Instance i : gone) {
        Observed copy = siblingsOf(i).copyOf(i.tracked());
        if (copy != null) {
          continueOnCopy(i, copy);
        }
      }
      Map<String, HeldCopy> stillHeld = newFiles(held, startAtEnd, copyGrace);
      if (adoption != null) {
        adopt(adoption);
      }
      return new Plan(actions, stillHeld, deadline);
    }

    private void decide(Instance i, long missingGrace) {
      Observed at = byPath.get(i.path());
      if (at != null && claimed.contains(at.path())) {
        at = null;
      }
      at = at == null ? null : resolve(at);
      Tracked t = i.tracked();
      Decision d = RotationDetector.decide(t, at, siblingsOf(i));
      switch (d.kind()) {
        case UNCHANGED, GREW -> follow(i, d.continueOn(), false);
        case MOVED -> follow(i, d.continueOn(), true);
        case COPYTRUNCATED_COPY_SEEN -> continueOnCopy(i, d.continueOn());
        case TRUNCATED -> contentGone(i);
        case RENAMED, GONE -> {
          Observed reused = reusedInode(i);
          if (reused != null) {
            // Truncated in place (copytruncate) and rotated on since: its content may be in a
            // copy here already (take it in this same pass, before anything could start the copy
            // as a file of its own), and its inode holds a generation written at the watched
            // path, to be read as a new file wherever it is now.
            Observed copy = siblingsOf(i).copyOf(t);
            if (copy != null) {
              continueOnCopy(i, copy);
            } else {
              contentGone(i);
            }
            // Written in place where the instance was: its copy is here, or its name is the
            // instance's rotated name. (An inode freed and given to an unrelated file is not.)
            if (copy != null || fileName(reused.path()).startsWith(fileName(i.path()))) {
              startGeneration(reused);
            }
            return;
          }
          if (i.state().isOpen()) {
            if (i.state() == InstanceState.READING) {
              actions.add(new Drain(i.id(), d.kind() == RotationDetector.Kind.RENAMED));
            }
            return; // already draining or finishing: the open channel reads what is left
          }
          Observed copy = siblingsOf(i).copyOf(t);
          if (copy != null) {
            continueOnCopy(i, copy);
            return;
          }
          long since = i.missingSinceNanos() >= 0 ? i.missingSinceNanos() : now;
          if (i.missingSinceNanos() >= 0 && now - since >= missingGrace) {
            actions.add(new Lost(i.id()));
          } else {
            actions.add(new Missing(i.id()));
            deadline = Math.min(deadline, since + missingGrace);
          }
        }
        default -> throw new IllegalStateException(d.kind().toString());
      }
    }

    /** The instance moves to the copy's inode; its old inode may be started as new. */
    private void continueOnCopy(Instance i, Observed copy) {
      claimed.add(copy.path());
      actions.add(new ContinueOnCopy(i.id(), copy));
      String key = i.identity().fileKey();
      if (key != null) {
        ownerByKey.remove(key, i.id());
      }
      if (copy.identity().fileKey() != null) {
        ownerByKey.putIfAbsent(copy.identity().fileKey(), i.id());
      }
    }

    /** Its inode now holds another file, which may be started as new in this same pass. */
    private void contentGone(Instance i) {
      actions.add(new ContentGone(i.id()));
      String key = i.identity().fileKey();
      if (key != null) {
        ownerByKey.remove(key, i.id());
      }
    }

    private void follow(Instance i, Observed at, boolean moved) {
      claimed.add(at.path());
      actions.add(new Follow(i.id(), at, moved));
    }

    /** Its inode is in the directory, holding a file with another first line. */
    /** Its inode, somewhere in the directory, now holding a file with another first line. */
    private Observed reusedInode(Instance i) {
      String key = i.identity().fileKey();
      Observed o = key == null ? null : byKey.get(key);
      if (o == null || o.compressed() || claimed.contains(o.path())) {
        return null;
      }
      Observed r = resolve(o);
      String fp = r.identity().fingerprint();
      return fp != null && !fp.equals(i.identity().fingerprint()) ? r : null;
    }

    /**
     * Starts the generation a truncated-in-place inode holds when its name no longer matches
     * (a matched one is started with the new files), unless it is another instance's file or
     * starts like one (a copy).
     */
    private void startGeneration(Observed o) {
      String key = o.identity().fileKey();
      if (o.matched() || claimed.contains(o.path())
          || (key != null && ownerByKey.containsKey(key))
          || knownFingerprints.contains(o.identity().fingerprint())) {
        return;
      }
      actions.add(new Register(o, 0));
      claimed.add(o.path());
      knownFingerprints.add(o.identity().fingerprint());
    }

    private Map<String, HeldCopy> newFiles(Map<String, HeldCopy> held, boolean startAtEnd,
        long copyGrace) {
      Map<String, List<Instance>> openByFingerprint = new HashMap<>();
      for (Instance i : instances) {
        if (i.state().isOpen()) {
          openByFingerprint.computeIfAbsent(i.identity().fingerprint(), k -> new ArrayList<>())
              .add(i);
        }
      }
      List<Observed> fresh = new ArrayList<>();
      for (Observed o : byPath.values()) {
        String key = o.identity().fileKey();
        if (claimed.contains(o.path()) || !o.matched() || o.compressed()
            || (key != null && ownerByKey.containsKey(key))) {
          continue; // known, another name of a known inode, or never started (compressed)
        }
        fresh.add(o);
      }
      fresh.sort(Comparator.comparingLong(Observed::modifiedMillis)
          .thenComparing(Observed::path));
      Map<String, HeldCopy> stillHeld = new HashMap<>();
      for (Observed raw : fresh) {
        Observed o = resolve(raw);
        if (!o.identity().hasFingerprint()) {
          continue; // no complete first line yet: nothing to ship, identity not decidable
        }
        Instance twin = liveTwin(o, openByFingerprint);
        if (twin != null) {
          HeldCopy h = held.get(o.path());
          long since = h == null ? now : h.sinceNanos();
          // Judge a copy only once it stopped growing: while cp writes it, or while the twin is
          // being truncated, a byte comparison can fail although it is the copy.
          boolean settling = h == null || h.size() != o.size();
          if (now - since < copyGrace && (settling || probe.samePrefix(twin.id(), o))) {
            stillHeld.put(o.path(), new HeldCopy(since, o.size()));
            deadline = Math.min(deadline, since + copyGrace);
            continue;
          }
        }
        actions.add(new Register(o, startAtEnd ? o.size() : 0));
        claimed.add(o.path());
      }
      return stillHeld;
    }

    private void adopt(Adoption adoption) {
      Set<String> known = knownFingerprints;
      for (Observed raw : byPath.values()) {
        String key = raw.identity().fileKey();
        if (claimed.contains(raw.path()) || raw.matched() || !adoption.covers(raw)
            || (key != null && ownerByKey.containsKey(key))) {
          continue;
        }
        Observed o = resolve(raw);
        if (!o.identity().hasFingerprint() || known.contains(o.identity().fingerprint())) {
          continue;
        }
        actions.add(new Register(o, 0));
        claimed.add(o.path());
        known.add(o.identity().fingerprint());
      }
    }

    private Instance liveTwin(Observed o, Map<String, List<Instance>> openByFingerprint) {
      for (Instance i : openByFingerprint.getOrDefault(o.identity().fingerprint(), List.of())) {
        if (RotationDetector.isCopyCandidate(i.tracked(), o)) {
          return i;
        }
      }
      return null;
    }

    private Observed resolve(Observed o) {
      if (o.identity().hasFingerprint()) {
        return o;
      }
      return o.withFingerprint(fingerprint(o));
    }

    private String fingerprint(Observed o) {
      if (o.identity().hasFingerprint()) {
        return o.identity().fingerprint();
      }
      if (fingerprints.containsKey(o.path())) {
        return fingerprints.get(o.path());
      }
      String fp = o.size() == 0 ? null : probe.fingerprint(o);
      fingerprints.put(o.path(), fp);
      return fp;
    }

    /** The directory's files that {@code self} may go on in: not claimed, not another's inode. */
    private boolean available(Observed o, Instance self) {
      if (claimed.contains(o.path())) {
        return false;
      }
      String key = o.identity().fileKey();
      String owner = key == null ? null : ownerByKey.get(key);
      return owner == null || owner.equals(self.id());
    }

    private Siblings siblingsOf(Instance self) {
      return new Siblings() {
        @Override
        public Observed byKey(String fileKey) {
          Observed o = byKey.get(fileKey);
          if (o == null || o.path().equals(self.path()) || !available(o, self)) {
            return null;
          }
          return resolve(o);
        }

        @Override
        public Observed copyOf(Tracked t) {
          Observed plain = null;
          Observed gz = null;
          for (Observed raw : byPath.values()) {
            if (raw.path().equals(t.path()) || !available(raw, self)) {
              continue;
            }
            if (raw.size() == 0) {
              continue;
            }
            Observed o = resolve(raw);
            if (!RotationDetector.isCopyCandidate(t, o)) {
              continue;
            }
            if (o.compressed()) {
              if (gz == null || o.modifiedMillis() > gz.modifiedMillis()) {
                gz = o;
              }
            } else if (plain == null || o.size() > plain.size()) {
              plain = o;
            }
          }
          return plain != null ? plain : gz;
        }

        @Override
        public Observed sameStartElsewhere(Tracked t) {
          for (Observed raw : byPath.values()) {
            if (raw.path().equals(t.path()) || !available(raw, self) || raw.compressed()) {
              continue;
            }
            Observed o = resolve(raw);
            if (o.identity().sameStart(t.identity())) {
              return o;
            }
          }
          return null;
        }
      };
    }
  }
}
