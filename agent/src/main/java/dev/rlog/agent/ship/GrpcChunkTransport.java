package dev.rlog.agent.ship;

import dev.rlog.agent.auth.BearerTokenInterceptor;
import dev.rlog.proto.log.ChunkAck;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.protobuf.ProtoUtils;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Objects;

/**
 * {@link ChunkTransport} over a gRPC channel: one {@code LogService.Ship} call per {@link #open}.
 * Requests are sent as the bytes {@link WireChunk#encode} made (a pass-through marshaller), so no
 * {@code Chunk} message object is built. Acks are tiny and at most one per chunk in the window,
 * so all of them are requested up front: the call's methods are then only ever used by the
 * shipper thread (a {@code ClientCall} must not be used from two threads at once).
 */
public final class GrpcChunkTransport implements ChunkTransport {
  private static final MethodDescriptor.Marshaller<byte[]> BYTES =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
          return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
          try {
            return stream.readAllBytes();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      };

  static final MethodDescriptor<byte[], ChunkAck> SHIP = LogServiceGrpc.getShipMethod()
      .toBuilder(BYTES, ProtoUtils.marshaller(ChunkAck.getDefaultInstance())).build();

  private final Channel channel;

  /** @param channel the collector's channel, carrying a {@link BearerTokenInterceptor} */
  public GrpcChunkTransport(Channel channel) {
    this.channel = Objects.requireNonNull(channel, "channel");
  }

  @Override
  public Stream open(String accessToken, Listener listener) {
    ClientCall<byte[], ChunkAck> call = channel.newCall(SHIP,
        CallOptions.DEFAULT.withOption(BearerTokenInterceptor.ACCESS_TOKEN, accessToken));
    call.start(new ClientCall.Listener<>() {
      @Override
      public void onMessage(ChunkAck ack) {
        listener.onAck(ack.getSeq());
      }

      @Override
      public void onReady() {
        listener.onReady();
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        listener.onClosed(status);
      }
    }, new Metadata());
    call.request(Integer.MAX_VALUE);
    return new Stream() {
      @Override
      public boolean isReady() {
        return call.isReady();
      }

      @Override
      public void send(byte[] chunk) {
        call.sendMessage(chunk);
      }

      @Override
      public void halfClose() {
        call.halfClose();
      }

      @Override
      public void cancel(String why) {
        call.cancel(why, null);
      }
    };
  }
}
