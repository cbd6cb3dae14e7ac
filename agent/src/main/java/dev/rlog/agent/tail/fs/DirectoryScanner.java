package dev.rlog.agent.tail.fs;

import dev.rlog.agent.tail.FileIdentity;
import dev.rlog.agent.tail.RescanPlanner;
import dev.rlog.agent.tail.RotationDetector.Observed;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a source's directory holds, for {@link RescanPlanner}: {@link #list()} stats every regular
 * file (matched by the pattern or not: any may finish an instance), and as the planner's {@link
 * RescanPlanner.Probe} it reads first lines only when asked, remembering them per (inode, size,
 * mtime) so a quiet directory is not read again at every rescan. An open instance's file is
 * fingerprinted through its channel.
 *
 * <p>A listing is not one moment: logrotate may shift names while it runs. A first line is used
 * only if the path still holds the inode the listing saw once the file is open; otherwise {@link
 * #raced()} tells the caller to discard what it planned and list again.
 *
 * <p>Bounds: one remembered entry per file of the directory (forgotten when the file is gone).
 * Owner thread only.
 */
final class DirectoryScanner implements RescanPlanner.Probe {
  private static final Logger log = LoggerFactory.getLogger(DirectoryScanner.class);
  /** How much of a possible copy is compared with the file it seems to copy. */
  private static final int COPY_COMPARE_BYTES = 4096;

  /** What was read of a file, valid while its inode, size and mtime are unchanged. */
  private record Known(String fileKey, long size, long modifiedMillis, String fingerprint) {
    boolean still(String key, long size, long modifiedMillis) {
      return Objects.equals(fileKey, key) && this.size == size
          && this.modifiedMillis == modifiedMillis;
    }
  }

  private record KnownSize(String fileKey, long size, long modifiedMillis, long declared) {}

  private final String label;
  private final Path dir;
  private final PathMatcher matcher;
  private final FileProbe probe;
  private final Map<String, Known> fingerprints = new HashMap<>();
  private final Map<String, KnownSize> gzipSizes = new HashMap<>();
  private final Set<String> warnedPaths = new HashSet<>();
  private final Map<String, TrackedFile> openByKey = new HashMap<>();
  private Map<String, TrackedFile> instances = Map.of();
  private boolean raced;
  private boolean dirMissingLogged;
  private long errors;

  DirectoryScanner(String label, Path dir, PathMatcher matcher, FileProbe probe) {
    this.label = label;
    this.dir = dir;
    this.matcher = matcher;
    this.probe = probe;
  }

  /**
   * Every regular file of the directory, sorted by path, fingerprints undecided (the planner asks
   * for the ones it needs); null when the directory cannot be listed (nothing is decided then).
   */
  List<Observed> list() {
    List<Observed> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      dirMissingLogged = false;
      for (Path p : ds) {
        Path name = p.getFileName();
        boolean gz = FileProbe.isGzip(name);
        try {
          FileProbe.Stat s = FileProbe.stat(p);
          if (s == null) {
            continue;
          }
          long size = gz ? gzipSize(p, s) : s.size();
          if (size < 0) {
            continue; // a gzip file still being written
          }
          out.add(new Observed(p.toString(), FileIdentity.undecided(s.fileKey()), size,
              matcher.matches(name), gz, s.modifiedMillis()));
        } catch (IOException e) {
          errors++;
          warnOnce(p.toString(), "cannot inspect", e);
        }
      }
    } catch (NoSuchFileException | NotDirectoryException e) {
      if (!dirMissingLogged) {
        log.warn("{}: directory {} does not exist (yet); watching for it", label, dir);
        dirMissingLogged = true;
      }
      return null;
    } catch (IOException e) {
      errors++;
      log.warn("{}: cannot list {}", label, dir, e);
      return null;
    }
    out.sort(Comparator.comparing(Observed::path));
    return out;
  }

  /** Before planning on a listing: the instances, for their open files. */
  void beginScan(Map<String, TrackedFile> instances) {
    this.instances = instances;
    raced = false;
    openByKey.clear();
    for (TrackedFile f : instances.values()) {
      if (f.channel != null && f.identity.fileKey() != null) {
        openByKey.put(f.identity.fileKey(), f);
      }
    }
  }

  /** A file was not what the listing said any more: what was planned on it must not be used. */
  boolean raced() {
    return raced;
  }

  /** Forgets what it remembers of files no longer listed. */
  void retain(List<Observed> seen) {
    if (fingerprints.size() + gzipSizes.size() > seen.size()) {
      Set<String> paths = new HashSet<>();
      for (Observed o : seen) {
        paths.add(o.path());
      }
      fingerprints.keySet().retainAll(paths);
      gzipSizes.keySet().retainAll(paths);
    }
  }

  long errors() {
    return errors;
  }

  @Override
  public String fingerprint(Observed o) {
    String key = o.identity().fileKey();
    Known k = fingerprints.get(o.path());
    if (k != null && k.still(key, o.size(), o.modifiedMillis())) {
      return k.fingerprint();
    }
    String fp;
    try {
      if (o.compressed()) {
        fp = probe.gzipFingerprint(Path.of(o.path()), key);
      } else {
        TrackedFile owner = key == null ? null : openByKey.get(key);
        fp = owner != null ? probe.fingerprint(owner.channel)
            : probe.fingerprint(Path.of(o.path()), key);
      }
    } catch (FileProbe.MovedException e) {
      raced = true;
      return null;
    } catch (IOException e) {
      errors++;
      warnOnce(o.path(), "cannot read", e);
      return null;
    }
    fingerprints.put(o.path(), new Known(key, o.size(), o.modifiedMillis(), fp));
    return fp;
  }

  @Override
  public boolean samePrefix(String id, Observed o) {
    TrackedFile twin = instances.get(id);
    if (twin == null || twin.channel == null) {
      return true;
    }
    int n = (int) Math.min(COPY_COMPARE_BYTES, Math.min(o.size(), twin.sizeSeen));
    try {
      if (twin.channel.size() < n) {
        // The twin shrank since this scan observed it: it is being truncated (copytruncate)
        // right now. Keep holding; the next scan sees the truncation and continues the twin's
        // instance in this copy instead of reading the copy again from 0.
        return true;
      }
      return FileProbe.samePrefix(twin.channel, Path.of(o.path()), n);
    } catch (IOException e) {
      return true; // cannot tell yet; keep waiting until copyGrace
    }
  }

  /** The declared uncompressed size, read once per (inode, size, mtime). */
  private long gzipSize(Path p, FileProbe.Stat s) {
    String path = p.toString();
    KnownSize k = gzipSizes.get(path);
    if (k != null && Objects.equals(k.fileKey(), s.fileKey()) && k.size() == s.size()
        && k.modifiedMillis() == s.modifiedMillis()) {
      return k.declared();
    }
    long declared = FileProbe.gzipDeclaredSize(p, s.size());
    gzipSizes.put(path, new KnownSize(s.fileKey(), s.size(), s.modifiedMillis(), declared));
    return declared;
  }

  private void warnOnce(String path, String what, IOException e) {
    if (warnedPaths.add(path)) {
      log.warn("{}: {} {}: {}", label, what, path, e.toString());
    }
  }
}
