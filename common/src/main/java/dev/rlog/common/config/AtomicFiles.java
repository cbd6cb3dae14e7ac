package dev.rlog.common.config;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;

/**
 * Writes a whole file so that a reader, or a restart after kill -9 or power loss, sees either the
 * old content or the new one, never a mix: temp file beside the target, {@code force(true)},
 * {@code ATOMIC_MOVE}, then fsync of the directory. Secret files are created 0600 from the start
 * (never world-readable, not even for an instant).
 */
public final class AtomicFiles {
  private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

  private AtomicFiles() {}

  public static void write(Path target, byte[] content) throws IOException {
    write(target, content, false);
  }

  public static void writeSecret(Path target, byte[] content) throws IOException {
    write(target, content, true);
  }

  private static void write(Path target, byte[] content, boolean secret) throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = dir.resolve("." + target.getFileName() + ".tmp-" + ProcessHandle.current().pid());
    Files.deleteIfExists(tmp);
    EnumSet<StandardOpenOption> opts =
        EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    try {
      try (FileChannel ch = secret && isPosix(dir)
          ? FileChannel.open(tmp, opts, PosixFilePermissions.asFileAttribute(OWNER_ONLY))
          : FileChannel.open(tmp, opts)) {
        ByteBuffer buf = ByteBuffer.wrap(content);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        ch.force(true);
      }
      if (secret && isPosix(dir)) {
        Files.setPosixFilePermissions(tmp, OWNER_ONLY); // umask cannot widen, but be explicit
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("file system of " + dir + " cannot rename atomically", e);
      }
      fsyncDirectory(dir);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** Makes a rename or file creation in {@code dir} durable. Ignored where the OS refuses it. */
  public static void fsyncDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (FileSystemException | UnsupportedOperationException e) {
      // Some file systems do not allow opening a directory; the rename is still atomic.
    }
  }

  private static boolean isPosix(Path dir) {
    return dir.getFileSystem().supportedFileAttributeViews().contains("posix");
  }
}
