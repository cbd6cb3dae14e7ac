package dev.rlog.collector.store;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drops ranges of the store's segment files from the operating system's page cache once they are
 * on disk ({@code posix_fadvise(POSIX_FADV_DONTNEED)}), so the store's pages are recycled instead
 * of every written byte taking a page of free memory.
 *
 * <p><b>Why.</b> A log store writes once and rarely reads back what is older than its last few
 * MiB, yet the kernel keeps every written page cached until memory runs out, and taking a page of
 * free memory is not free: measured 2026-11-30 on this project's test machine (a VM whose free
 * memory is handed back to the host), writing 1.3 GB into new page-cache pages cost 3.3 s of
 * system CPU, and 0.9 s when each written and synced range was dropped again (its pages are then
 * reused); on the end-to-end benchmark the store writer's CPU per line went from 0.8–1.1 to
 * 0.3–0.4 µs. That gain is the benchmark's (its short runs write into free memory): a collector
 * that has filled the page cache gets pages back from the kernel's reclaim instead. On any
 * machine it keeps the collector from pushing other programs' files out of the cache, or from
 * filling a container's memory with segments. Reading old segments then reads the disk.
 *
 * <p><b>Safety.</b> The kernel drops only clean pages: a range with data not yet written back is
 * left (its write-back merely starts), so a drop can never lose or change data, whatever range
 * it is given. Best effort: an error is logged once and otherwise ignored.
 *
 * <p><b>Where.</b> Linux (through JNA); elsewhere, or if the native call cannot be linked,
 * {@link #system()} is a no-op and says so once in the log.
 */
final class PageCache {
  private static final Logger log = LoggerFactory.getLogger(PageCache.class);

  /** Drops a file's cached pages. */
  @FunctionalInterface
  interface Dropper {
    /**
     * Asks the OS to drop the cached pages of {@code file[from, to)} (whole pages only);
     * {@code to == Long.MAX_VALUE} means to the end of the file. Never throws.
     */
    void drop(Path file, long from, long to);
  }

  /** Drops nothing. */
  static final Dropper NONE = (file, from, to) -> { };

  private PageCache() {}

  /** The OS's page cache, or {@link #NONE} where it cannot be told to drop pages. */
  static Dropper system() {
    return Holder.SYSTEM;
  }

  /** Linked when the first store that drops pages opens; with drop_page_cache off, never. */
  private static final class Holder {
    static final Dropper SYSTEM = link();

    private static Dropper link() {
      if (!Platform.isLinux()) {
        log.info("store: segments stay in the page cache (dropping written pages is Linux-only)");
        return NONE;
      }
      try {
        Native.register(LibC.class, Platform.C_LIBRARY_NAME);
        log.info("store: written segment pages leave the page cache once on disk"
            + " (store.drop_page_cache)");
        return new Fadvise();
      } catch (LinkageError | RuntimeException e) {
        log.warn("store: cannot drop written segment pages from the page cache ({}); they stay"
            + " cached as with store.drop_page_cache: false", e.toString());
        return NONE;
      }
    }
  }

  /** libc, bound by JNA's direct mapping (one native call each, no reflection per call). */
  private static final class LibC {
    static final int O_RDONLY = 0;
    static final int O_CLOEXEC = 0x80000; // Linux, every architecture JNA ships for
    static final int POSIX_FADV_DONTNEED = 4;

    static final int ENOENT = 2;

    static native int open(String path, int flags) throws LastErrorException;

    static native int posix_fadvise(int fd, long offset, long length, int advice);

    static native int close(int fd);
  }

  private static final class Fadvise implements Dropper {
    private volatile boolean warned;

    @Override
    public void drop(Path file, long from, long to) {
      if (from < 0 || to <= from) {
        return;
      }
      // Its own descriptor: the advice is about the file's cache, whichever descriptor names it.
      int fd;
      try {
        fd = LibC.open(file.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC);
      } catch (LastErrorException e) {
        if (e.getErrorCode() != LibC.ENOENT) { // deleted meanwhile: nothing left cached
          warnOnce(file, "open failed with errno " + e.getErrorCode());
        }
        return;
      }
      try {
        long length = to == Long.MAX_VALUE ? 0 : to - from; // 0: to the end of the file
        int err = LibC.posix_fadvise(fd, from, length, LibC.POSIX_FADV_DONTNEED);
        if (err != 0) {
          warnOnce(file, "posix_fadvise returned " + err);
        }
      } finally {
        LibC.close(fd);
      }
    }

    private void warnOnce(Path file, String why) {
      if (!warned) {
        warned = true;
        log.warn("store: could not drop written pages of {} from the page cache: {} (not"
            + " logged again; the store is not affected)", file, why);
      }
    }
  }
}
