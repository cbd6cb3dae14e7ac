package dev.rlog.collector.grpc;

import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * A request message ({@code log.LogBatch} or {@code log.Chunk}) as it came off the wire: its
 * serialized bytes, read with {@link LogBatchReader} or {@link ChunkReader} instead of being parsed
 * into message objects. The wire contract is unchanged; only the collector's in-memory form
 * differs.
 */
public record RawMessage(byte[] bytes) {

  /** Marshaller for the Send and Ship requests: keeps the bytes (one copy out of gRPC's buffers). */
  public static final MethodDescriptor.Marshaller<RawMessage> MARSHALLER =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(RawMessage value) {
          return new ByteArrayInputStream(value.bytes);
        }

        @Override
        public RawMessage parse(InputStream stream) {
          try {
            if (!(stream instanceof KnownLength)) {
              return new RawMessage(stream.readAllBytes());
            }
            // gRPC knows the message size: one exact allocation (readNBytes(int) would copy
            // through a list of 8 KiB buffers, doubling the peak for a large batch)
            byte[] b = new byte[stream.available()];
            int n = stream.readNBytes(b, 0, b.length);
            if (n < b.length) {
              return new RawMessage(java.util.Arrays.copyOf(b, n));
            }
            int more = stream.read();
            if (more == -1) {
              return new RawMessage(b);
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream(b.length * 2);
            out.write(b);
            out.write(more);
            stream.transferTo(out);
            return new RawMessage(out.toByteArray());
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      };
}
