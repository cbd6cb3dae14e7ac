package dev.rlog.collector.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A real FileChannel with a simulated disk: writes succeed until a byte budget runs out, then
 * write what fits and throw "No space left on device", as a full disk does. Also counts forces.
 * Running as root, a read-only directory would not stop writes, hence this seam.
 */
final class FaultyFileChannel extends FileChannel {

  /** Shared by every channel a store opens through {@link #opener}. */
  static final class Disk {
    final AtomicLong budget = new AtomicLong(Long.MAX_VALUE);
    final AtomicInteger forces = new AtomicInteger();
    final AtomicInteger writeCalls = new AtomicInteger();
    /** When set, every force fails with it (a write-back error). */
    final AtomicReference<IOException> forceError = new AtomicReference<>();
    /** Counted down by every force, failed or not. */
    final CountDownLatch forced = new CountDownLatch(1);

    SegmentStore.ChannelOpener opener() {
      return (Path path, OpenOption... options) ->
          new FaultyFileChannel(FileChannel.open(path, options), this);
    }

    void fillUpAfter(long bytes) {
      budget.set(bytes);
    }
  }

  private final FileChannel delegate;
  private final Disk disk;

  private FaultyFileChannel(FileChannel delegate, Disk disk) {
    this.delegate = delegate;
    this.disk = disk;
  }

  @Override
  public int write(ByteBuffer src) throws IOException {
    disk.writeCalls.incrementAndGet();
    long budget = disk.budget.get();
    if (budget <= 0) {
      throw new IOException("No space left on device");
    }
    if (src.remaining() <= budget) {
      int n = delegate.write(src);
      disk.budget.addAndGet(-n);
      return n;
    }
    ByteBuffer part = src.duplicate();
    part.limit(part.position() + (int) budget);
    int n = delegate.write(part);
    src.position(src.position() + n);
    disk.budget.addAndGet(-n);
    return n; // the next call throws, like a short write followed by ENOSPC
  }

  @Override
  public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
    long total = 0;
    for (int i = offset; i < offset + length; i++) {
      total += write(srcs[i]);
    }
    return total;
  }

  @Override
  public int write(ByteBuffer src, long position) throws IOException {
    throw new UnsupportedOperationException("store appends only");
  }

  @Override
  public void force(boolean metaData) throws IOException {
    disk.forces.incrementAndGet();
    try {
      IOException error = disk.forceError.get();
      if (error != null) {
        throw error;
      }
      delegate.force(metaData);
    } finally {
      disk.forced.countDown();
    }
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    return delegate.read(dst);
  }

  @Override
  public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
    return delegate.read(dsts, offset, length);
  }

  @Override
  public int read(ByteBuffer dst, long position) throws IOException {
    return delegate.read(dst, position);
  }

  @Override
  public long position() throws IOException {
    return delegate.position();
  }

  @Override
  public FileChannel position(long newPosition) throws IOException {
    delegate.position(newPosition);
    return this;
  }

  @Override
  public long size() throws IOException {
    return delegate.size();
  }

  @Override
  public FileChannel truncate(long size) throws IOException {
    delegate.truncate(size);
    return this;
  }

  @Override
  public long transferTo(long position, long count, WritableByteChannel target) {
    throw new UnsupportedOperationException();
  }

  @Override
  public long transferFrom(ReadableByteChannel src, long position, long count) {
    throw new UnsupportedOperationException();
  }

  @Override
  public MappedByteBuffer map(MapMode mode, long position, long size) {
    throw new UnsupportedOperationException();
  }

  @Override
  public FileLock lock(long position, long size, boolean shared) {
    throw new UnsupportedOperationException();
  }

  @Override
  public FileLock tryLock(long position, long size, boolean shared) {
    throw new UnsupportedOperationException();
  }

  @Override
  protected void implCloseChannel() throws IOException {
    delegate.close();
  }
}
