package dev.rlog.e2e.chaos;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Plays the applications: appends numbered {@link ChaosLine}s to K files at the scenario's rate
 * and has the real logrotate rotate them on the schedule. One thread ({@link #run()}) does both,
 * in ticks of {@link #TICK}: per file, the lines due by now go out in one {@code write()} on an
 * {@code O_APPEND} channel (a small group of whole lines, at most {@link #MAX_WRITE_BYTES}), as a
 * logging library would; then a due rotation is started (not waited for).
 *
 * <p>Like an application whose logger watches its file, a writer reopens its path when a
 * different file (inode) is there, and keeps writing to the old, renamed file until it notices.
 * It also obeys the hold protocol of {@link LogrotateConfig} (pause a file while logrotate
 * copies and truncates it). A held file falls behind and catches up after.
 *
 * <p>Rotations start at their scheduled time, one logrotate at a time and at least a second
 * apart (dated names); once every line is written no more rotations start, and the thread ends
 * when a running one has finished. {@link #stop()} ends it early (any thread).
 */
public final class LogWriters implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(LogWriters.class);
  static final long TICK = TimeUnit.MILLISECONDS.toNanos(5);
  static final int MAX_WRITE_BYTES = 64 * 1024;
  private static final long MIN_ROTATION_SPACING = TimeUnit.SECONDS.toNanos(1);
  private static final int OPEN_ATTEMPTS = 10;

  private final ChaosScenario scenario;
  private final List<ChaosSchedule.Rotation> rotations;
  private final Logrotate logrotate;
  private final Path ctlDir;
  private final int keep;
  private final List<Path> paths;
  private final List<Out> outs = new ArrayList<>();
  private final AtomicLongArray written;
  private final double linesPerFilePerNano;
  private volatile long startNanos;
  private volatile boolean stopped;

  // owner thread only, read by others once run() has returned
  private final Map<RotationMode, Integer> rotationsByMode = new EnumMap<>(RotationMode.class);
  private int rotationsRun;
  private int rotationFailures;
  private int reopens;
  private int holds;

  /** Creates (or opens) the files now, so an agent started next finds them. */
  public LogWriters(ChaosScenario scenario, List<Path> paths, ChaosSchedule schedule,
      Logrotate logrotate, Path ctlDir) throws IOException {
    this.scenario = scenario;
    this.paths = List.copyOf(paths);
    this.rotations = schedule.rotations();
    this.logrotate = logrotate;
    this.ctlDir = ctlDir;
    // enough numbered copies that no rotated file is deleted during the run
    this.keep = rotations.size() + 10;
    this.written = new AtomicLongArray(paths.size());
    this.linesPerFilePerNano = (double) scenario.rate() / scenario.files() / 1e9;
    for (int f = 0; f < paths.size(); f++) {
      Out o = new Out(f, paths.get(f), scenario.linesOf(f));
      o.open();
      outs.add(o);
    }
  }

  /** Writing time 0 is now (call right before starting the thread). */
  public void markStart() {
    startNanos = System.nanoTime();
  }

  public long startNanos() {
    return startNanos;
  }

  public void stop() {
    stopped = true;
  }

  public long written(int f) {
    return written.get(f);
  }

  public long totalWritten() {
    long sum = 0;
    for (int f = 0; f < written.length(); f++) {
      sum += written.get(f);
    }
    return sum;
  }

  @Override
  public void run() {
    int nextRotation = 0;
    Process running = null;
    long lastRotationStart = Long.MIN_VALUE / 2;
    try {
      while (!stopped) {
        long now = System.nanoTime();
        long elapsed = now - startNanos;
        boolean allWritten = true;
        for (Out o : outs) {
          o.step(elapsed);
          allWritten &= o.next >= o.total;
        }
        if (running != null && !running.isAlive()) {
          if (running.exitValue() != 0) {
            rotationFailures++;
            log.warn("logrotate exited {}; see {}", running.exitValue(), logrotate.output());
          }
          running = null;
        }
        if (running == null && !allWritten && nextRotation < rotations.size()
            && rotations.get(nextRotation).at().toNanos() <= elapsed
            && now - lastRotationStart >= MIN_ROTATION_SPACING) {
          ChaosSchedule.Rotation r = rotations.get(nextRotation++);
          running = logrotate.start(paths, r.modes(), keep);
          lastRotationStart = now;
          rotationsRun++;
          r.modes().forEach(m -> rotationsByMode.merge(m, 1, Integer::sum));
        }
        if (allWritten && running == null) {
          return;
        }
        LockSupport.parkNanos(TICK);
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } finally {
      if (running != null) {
        awaitOrKill(running);
      }
      for (Out o : outs) {
        o.close();
      }
    }
  }

  private static void awaitOrKill(Process p) {
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  /** What the writers did; read once {@link #run()} has returned. */
  public record Stats(int rotationsRun, Map<RotationMode, Integer> rotationsByMode,
      int rotationFailures, int reopens, int holds) {}

  public Stats stats() {
    return new Stats(rotationsRun, Map.copyOf(rotationsByMode), rotationFailures, reopens, holds);
  }

  /** One application's log: its path, the open handle, how far it has written. */
  private final class Out {
    final int file;
    final Path path;
    final long total;
    final String name;
    final StringBuilder buffer = new StringBuilder();
    FileChannel channel;
    String key;
    long next;
    boolean held;

    Out(int file, Path path, long total) {
      this.file = file;
      this.path = path;
      this.total = total;
      this.name = path.getFileName().toString();
    }

    void step(long elapsedNanos) throws IOException {
      if (Files.exists(ctlDir.resolve(name + ".hold"))) {
        if (!held) {
          held = true;
          holds++;
          Files.writeString(ctlDir.resolve(name + ".held"), "");
        }
        return;
      }
      if (held) {
        held = false;
        Files.deleteIfExists(ctlDir.resolve(name + ".held"));
      }
      String now = keyOf(path);
      if (now != null && !now.equals(key)) {
        channel.close();
        open();
        reopens++;
      }
      long due = Math.min(total, (long) (elapsedNanos * linesPerFilePerNano));
      while (next < due) {
        while (next < due && buffer.length() < MAX_WRITE_BYTES - scenario.lineBytes() - 1) {
          buffer.append(ChaosLine.format(file, next++, scenario.lineBytes())).append('\n');
        }
        ByteBuffer b = ByteBuffer.wrap(buffer.toString().getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
          channel.write(b);
        }
        buffer.setLength(0);
        written.set(file, next);
      }
    }

    /**
     * Opens the path for appending and learns which file (device and inode) it opened: the
     * same before and after the open, or logrotate moved it meanwhile and we try again.
     */
    void open() throws IOException {
      for (int attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
        String before = keyOf(path);
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE,
            StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        String after = keyOf(path);
        if (after != null && (before == null || before.equals(after))) {
          channel = ch;
          key = after;
          Path tmp = ctlDir.resolve(name + ".ino.tmp");
          Files.writeString(tmp, after.substring(after.indexOf(':') + 1));
          Files.move(tmp, ctlDir.resolve(name + ".ino"), StandardCopyOption.ATOMIC_MOVE);
          return;
        }
        ch.close();
      }
      throw new IOException("could not open " + path + " stably in " + OPEN_ATTEMPTS
          + " attempts");
    }

    void close() {
      try {
        channel.close();
      } catch (IOException e) {
        log.warn("closing {}: {}", path, e.toString());
      }
    }
  }

  /** "dev:ino" of the file at {@code p}, or null if there is none. */
  static String keyOf(Path p) throws IOException {
    try {
      Map<String, Object> a = Files.readAttributes(p, "unix:dev,ino");
      return a.get("dev") + ":" + a.get("ino");
    } catch (NoSuchFileException e) {
      return null;
    }
  }
}
